"""The training loop: minibatch (or full-batch) gradient descent that a caller drives step by step.

``Trainer.run`` is a generator: it yields a record after every epoch and every ``report_every``
seconds inside long epochs, keeps its place between calls (so a run stopped mid-epoch continues
exactly where it left off), and stops on a NaN or infinite loss with the last finite weights.
Every long pass is cut into pieces of about ``CHUNK_SECONDS`` with a stop check between them
(a training step's: of a fixed work instead, ``PIECE_FLOPS``), so ``stop()`` (or
``deadline``) ends a run within a second whatever the network.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Iterator

import numpy as np

from nn.core import Conv2D, Sequential, flops_per_sample
from nn.core.batch_halves import HALVES, HalfBuffers, add_halves, half_grads, half_ranges, half_threads
from nn.core.blas_threads import allowed_threads, step_is_small, training_steps
from nn.core.classifier import squared_errors
from nn.core.losses import r2_score, reported_loss_sum
from nn.core.mlp import EVAL_CHUNK, MLP, EvaluationStopped
from nn.core.optimizers import Optimizer, make_optimizer
from nn.core.pixels import pixel_codes
from nn.core.row_blocks import blocked_step_is_small
from nn.core.config import TrainConfig
from nn.core.early_stopping import EarlyStopping, holdout_rows
from nn.core.flat import for_pickle, from_pickle, packed
from nn.core.history import MAX_CHANGE_TEXT, Record, check_history
from nn.core.settings import ConfigError
from nn.core.tta import tta_log_proba
from nn.core.worker_threads import run_parallel

# Divergence. A stable softmax keeps an exploding loss finite, so waiting for NaN is not enough:
# - one step's loss this many times above where training started (or chance level, ln C);
EXPLODE_FACTOR = 100.0
# - a record's mean training loss above both RISE_FACTOR x the loss this trainer started from and
#   RISE_CHANCE x ln C: slow blow-ups, e.g. tanh or sigmoid units with momentum at lr 5-20 on
#   moons, where the loss settles far above chance level without any one step jumping 100x.
RISE_FACTOR, RISE_CHANCE = 3.0, 10.0
# Rows per forward/backward pass. A bigger batch (full-batch MNIST: 60000 rows) is done in chunks
# whose gradients are summed: each chunk is read from memory once and reused from cache by the
# backward pass, about 25% faster than one pass over the whole batch.
GRAD_CHUNK = 2048
# Stop within a second whatever the network: every long pass is cut into pieces with a stop
# check between them. The start-up pass on START_ROWS training rows and the test evaluation go in
# pieces of about CHUNK_SECONDS, sized from the time the pieces so far took.
START_ROWS = 2000
CHUNK_SECONDS = 0.2
SLOWEST_PIECE = 0.6          # a piece size is kept until its pieces take longer than this
FIRST_PIECE = 2              # rows of the first piece, before anything is timed
# A training step's pieces are not timed: their size is fixed by the network's cost, at most
# PIECE_FLOPS of training work (``train_flops_per_row``: forward, dW, dX) and at most
# GRAD_CHUNK rows, so that a run does not depend on the machine's load. Pieces cut by time give
# the same sums grouped otherwise, which differ in the last bits: a stall of the machine during
# a step could cut the next steps into smaller pieces, and a run stopped and continued then
# did not end bit for bit as the run never stopped (tests/test_budget.py, now and then under
# load). Batch norm normalises by the rows of each training pass, so a batch-normed network's
# batches are cut into equal "ghost batches" (Hoffer et al., 2017). 4 GFLOP is CHUNK_SECONDS at
# 20 GFLOP/s (a BN CNN on 2 busy cores: 15); the presets' batches stay whole (mnist-best:
# 23.1 MFLOP a row, 173 rows a piece >= its 128; 784-256-10: 1.2 MFLOP a row, GRAD_CHUNK rows).
PIECE_FLOPS = 4_000_000_000
# The one-cycle schedule (Smith and Topin, 2018), as a triangle: from ONECYCLE_START x lr up to lr
# over the first ONECYCLE_WARMUP of the run's steps, then down towards 0 at the last step.
ONECYCLE_WARMUP = 0.25
ONECYCLE_START = 0.1
Model = MLP | Sequential


class Pacer:
    """Rows per piece so that a piece takes about ``seconds``, learned from the pieces so far
    of each kind (``factor``: a piece's cost per row against a forward pass; a kind not timed
    yet goes by the forward pass's time). A piece size is kept while its pieces take between
    half ``seconds`` and ``SLOWEST_PIECE``; set afresh after two measures in a row outside
    (one preempted piece on a busy machine does not change it)."""

    def __init__(self, seconds: float = CHUNK_SECONDS, first: int = FIRST_PIECE,
                 most: int = EVAL_CHUNK) -> None:
        self.seconds, self.most = seconds, most
        self._first = first
        self._row_seconds: dict[float, float] = {}      # seconds per row, per kind
        self._size: dict[float, int] = {}               # piece size, per kind
        self._strikes: dict[float, int] = {}            # measures in a row outside the band

    def rows(self, factor: float = 1.0) -> int:
        """Rows of the next piece of this kind."""
        per_row = self._row_seconds.get(factor)
        if per_row is None and 1.0 in self._row_seconds:
            per_row = factor * self._row_seconds[1.0]
        if per_row is None:
            return self._first
        size = self._size.get(factor)
        inside = size is not None and self.seconds / 2 <= size * per_row <= SLOWEST_PIECE
        self._strikes[factor] = 0 if inside else self._strikes.get(factor, 0) + 1
        far = size is not None and size * per_row > 2 * SLOWEST_PIECE
        if size is None or far or self._strikes[factor] >= 2:  # twice outside: not a hiccup
            size = self._size[factor] = int(min(self.most, max(1, self.seconds / max(per_row, 1e-12))))
            self._strikes[factor] = 0
        return size

    def timed(self, rows: int, seconds: float, factor: float = 1.0) -> None:
        if rows > 0:
            self._row_seconds[factor] = seconds / rows


def onecycle_lr(lr: float, t: int, T: int) -> float:
    """The rate of step ``t`` (from 0) of ``T``: lr (s + (1 - s) t / (w T)) while t < w T, then
    lr (T - t) / ((1 - w) T), with s = ONECYCLE_START and w = ONECYCLE_WARMUP: a straight climb
    to lr and a straight fall to 0 at step T (the last step, T - 1, still trains)."""
    up = ONECYCLE_WARMUP * T
    if t < up:
        return lr * (ONECYCLE_START + (1 - ONECYCLE_START) * t / up)
    return lr * (T - t) / (T - up)


def evaluate_in_pieces(model: Model, X: np.ndarray | TakenRows, y: np.ndarray, should_stop: Callable[[], bool],
                       pacer: Pacer | None = None, tta: int = 1, report: str = "cross_entropy") -> tuple[float, float]:
    """(mean loss, accuracy) on (X, y) in timed pieces, the loss being ``report``'s (default
    cross-entropy; nn.core.losses) (regression: (mean squared error, R^2)); ``EvaluationStopped``
    when ``should_stop()`` turns True between two of them. ``tta`` > 1: each image read as the
    mean prediction of that many shifted copies (``nn.core.tta``)."""
    if is_regression(model):
        sse = sum(squared_errors(z, y, start) for start, z in log_proba_in_pieces(model, X, should_stop, pacer))
        return (sse / len(y), r2_score(sse, y)) if len(y) else (math.nan, math.nan)
    loss_sum, correct = 0.0, 0
    for start, logp in log_proba_in_pieces(model, X, should_stop, pacer, tta):
        yc = y[start:start + len(logp)]
        loss_sum += reported_loss_sum(logp, yc, report)
        correct += int(np.count_nonzero(logp.argmax(axis=1) == yc))
    n = len(y)
    return (loss_sum / n, correct / n) if n else (math.nan, math.nan)


def log_proba_in_pieces(model: Model, X: np.ndarray | TakenRows, should_stop: Callable[[], bool],
                        pacer: Pacer | None = None, tta: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, log-probabilities) of ``X`` piece by piece (see ``Pacer``), each image read
    through ``tta`` shifted copies (1: as it is); a regression network's (n, 1) outputs instead."""
    pacer = pacer or Pacer()
    verb = model.logits if is_regression(model) else lambda part: tta_log_proba(model, part, tta)
    start = 0
    while start < len(X):
        if should_stop():
            raise EvaluationStopped
        rows = pacer.rows(float(tta))          # a piece of tta copies costs about tta forward passes
        t = time.perf_counter()
        logp = verb(X[start:start + rows])
        pacer.timed(len(logp), time.perf_counter() - t, float(tta))
        yield start, logp
        start += len(logp)


def train_flops_per_row(model: Model) -> int:
    """Flops of a training step's matrix products per row (forward, dW, and dX for every layer
    but the first; a multiply-add counts 2)."""
    if isinstance(model, MLP):
        pairs = list(zip(model.layer_sizes[:-1], model.layer_sizes[1:]))
        return sum(2 * a * b * (2 if i == 0 else 3) for i, (a, b) in enumerate(pairs))
    return flops_per_sample(model)["train"]


def piece_rows_for(train_flops: int) -> int:
    """Most rows of one training pass of a network whose training step costs ``train_flops`` a
    row: PIECE_FLOPS // train_flops, from 1 to GRAD_CHUNK."""
    return max(1, min(GRAD_CHUNK, PIECE_FLOPS // max(int(train_flops), 1)))


def even_piece(n: int, most: int) -> int:
    """Rows per piece when ``n`` rows are cut into as few equal pieces of at most ``most`` as
    can be: ceil(n / k) for k = ceil(n / most) pieces (the last may be a few rows shorter)."""
    return math.ceil(n / max(1, math.ceil(n / most)))


def is_regression(model: Model) -> bool:
    return getattr(model, "task", "classification") == "regression"


class TakenRows:
    """Rows ``rows`` of ``X`` read piece by piece (``len`` and slices, as ``log_proba_in_pieces``
    reads an array): the held-out rows are evaluated without a copy of them all."""

    def __init__(self, X: np.ndarray, rows: np.ndarray) -> None:
        self.X, self.rows = X, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, part: slice) -> np.ndarray:
        return np.take(self.X, self.rows[part], axis=0)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the model was put back to its last finite weights."""


class Trainer:
    """Trains ``model`` on (X_train, y_train), evaluating on (X_val, y_val) when given."""

    def __init__(self, model: Model, X_train: np.ndarray, y_train: np.ndarray,
                 X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
                 config: TrainConfig | None = None) -> None:
        self.model = model
        self.config = (config or TrainConfig()).validate()
        self.X = np.ascontiguousarray(X_train, dtype=model.dtype)
        labels = model.dtype if is_regression(model) else np.intp    # quantities or classes
        self.y = np.asarray(y_train, dtype=labels)
        self.X_val = None if X_val is None else np.asarray(X_val, dtype=model.dtype)
        self.y_val = None if y_val is None else np.asarray(y_val, dtype=labels)
        _check_data(model, self.X, self.y, "training")
        if self.config.tta > 1 and len(getattr(model, "input_shape", ())) != 3:
            raise ConfigError("tta", "tta (--tta) applies to networks reading images; use 1 (off)")
        # keyword arguments of every training pass: label smoothing's eps, when not 0
        self._loss_kw = {"label_smoothing": self.config.label_smoothing} if self.config.label_smoothing else {}
        if self.config.reported_loss != "cross_entropy":     # the loss the records report
            self._loss_kw["report"] = self.config.reported_loss
        # A step's pieces: at most ``piece_rows`` rows, fixed by the network's cost (see
        # PIECE_FLOPS); a network with batch norm normalises by each pass's rows, so its
        # batches are cut into equal pieces of at most ``bn_rows``
        self.piece_rows = piece_rows_for(train_flops_per_row(model))
        self.bn_rows = self.piece_rows if getattr(model, "buffers", None) else None
        if self.X_val is not None:
            _check_data(model, self.X_val, self.y_val, "validation")
        # early stopping (config.val_share > 0): rows of X held out to stop on (never the test set)
        self._fit_rows, self._held_rows = self._holdout()
        n = self.n_fit
        bs = self.config.batch_size
        self.batch_size = n if bs == "full" else min(int(bs), n)
        self.steps_per_epoch = math.ceil(n / self.batch_size)
        # Steps that want BLAS at one thread (see nn.core.blas_threads): every matrix product
        # small enough, or a network that runs its own worker threads (nn.Sequential), which
        # would otherwise set and reset the BLAS threads at each step (36 us a step)
        self.small_steps = (step_is_small(model.layer_sizes, min(self.batch_size, GRAD_CHUNK))
                            or getattr(model, "workers", 1) > 1
                            or (isinstance(model, MLP) and self.batch_size > GRAD_CHUNK
                                and blocked_step_is_small(model.layer_sizes, GRAD_CHUNK)))
        self.rng = np.random.default_rng([self.config.seed, 1])   # shuffling; init used [seed]
        self.grads = packed(model.params, fill=0)   # one buffer: the optimizer's passes are one call
        # a large batch's pieces: read from the pixels' 8-bit codes when X is images / 255 (found at
        # the first step), through an MLP's narrow layers in row blocks (nn.core.row_blocks), in
        # two halves (nn.core.batch_halves), on two threads when the job may use two cores and
        # the step runs on one BLAS thread anyway
        self._codes: np.ndarray | None = None
        self._codes_checked = False
        self._halves: list[HalfBuffers] | None = None
        self._piece_kw = {"blocked": True} if isinstance(model, MLP) else {}
        self._threaded_halves = isinstance(model, MLP) and self.small_steps
        self.optimizer = self._new_optimizer()
        self.history: list[Record] = model.meta.setdefault("history", [])
        check_history(self.history)
        self.epochs_done = int(self.history[-1]["epoch"]) if self.history else 0
        self.steps_done = int(self.history[-1]["step"]) if self.history else 0
        self.seconds = float(self.history[-1]["seconds"]) if self.history else 0.0
        self.diverged: str | None = None
        # Test figures in every record, or only at epoch ends: a convolutional network's pass
        # over 10,000 test images costs about 0.5 s (mnist-cnn), so with a record every 0.5 s
        # inside an epoch, evaluating each time would double the training time.
        self.validate_inside_epoch = not any(isinstance(layer, Conv2D)
                                             for layer in getattr(model, "layers", []))
        self._schedule_from = self.epochs_done    # the lr schedule counts epochs from here
        self._schedule_from_step = self.steps_done   # ... and steps (onecycle)
        self._order: np.ndarray | None = None     # this epoch's row order; None between epochs
        self._pos = 0                             # rows of this epoch already trained on
        self._loss_sum = 0.0
        self._correct = 0
        self._good = [p.copy() for p in model.params]
        self._good_buffers = [b.copy() for b in getattr(model, "buffers", [])]   # BatchNorm's
        self._stop = False
        self._last_report = 0.0                  # perf_counter time of the last record
        self.pacer = Pacer()                     # rows per piece of a long pass (see Pacer)
        self.deadline: float | None = None       # perf_counter time at which run() stops
        self.also_stop: Callable[[], bool] | None = None   # another reason to stop (a closed tab)
        self.out_of_time = False                 # run() stopped at the deadline
        # divergence limits, from where this trainer starts: measured by ``run`` before its first
        # step (a pass over START_ROWS rows: not here, so building a trainer costs nothing)
        self.start_loss: float | None = None
        self._change: str | None = None          # rates changed mid-run, for the next record
        self.early = (EarlyStopping(self.config.patience, self._weights())
                      if self._held_rows is not None else None)
        self.stopped_early: str | None = None    # why the last run stopped before its epochs
        self._target = self.epochs_done          # the epoch the current run() trains to

    def _holdout(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(training rows, held-out rows) for early stopping; (None, None) when it is off."""
        if self.config.val_share == 0:
            return None, None
        fit, held = holdout_rows(self.y, self.config.val_share, self.config.seed,
                                 stratify=not is_regression(self.model))
        return (fit, held) if len(held) and len(fit) else (None, None)

    def _weights(self) -> list[np.ndarray]:
        """What early stopping keeps and puts back: the parameters, and batch norm's running
        statistics (``Sequential.buffers``) that go with them."""
        return self.model.params + list(getattr(self.model, "buffers", []))

    @property
    def n_fit(self) -> int:
        """Rows trained on in an epoch: the training rows but the held-out ones."""
        return len(self.X) if self._fit_rows is None else len(self._fit_rows)

    # --- moving a trainer between processes (nn.runs.remote_training) ------------------------
    DATA = ("X", "y", "X_val", "y_val")
    LOCAL = ("also_stop", "deadline")       # callables and clock times mean nothing elsewhere
    FROM_DATA = ("_codes", "_halves")       # made again from the data where it is attached

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the data and this process's stop hooks: the model, the optimizer's
        state, the row order and position, the random generator, the history."""
        state = self.__dict__.copy()
        for name in self.DATA + self.LOCAL + self.FROM_DATA:
            state[name] = None
        state["_codes_checked"] = False
        state["grads"] = for_pickle(self.grads)    # one buffer (nn.core.flat)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.grads = from_pickle(self.grads)

    def attach(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None,
               y_val: np.ndarray | None) -> None:
        """Give an unpickled trainer its data back (the arrays it was trained on)."""
        self.X, self.y, self.X_val, self.y_val = X, y, X_val, y_val

    def take_state(self, other: "Trainer") -> None:
        """Become ``other`` (this trainer's run, finished in another process), keeping this
        trainer's data, stop hooks and model object (which takes ``other.model``'s state)."""
        mine = {name: getattr(self, name) for name in self.DATA + self.LOCAL}
        self.model.__dict__.update(other.model.__dict__)
        self.__dict__.update(other.__dict__, model=self.model, **mine)

    def _start_pass(self) -> bool:
        """The loss on the first START_ROWS rows and the divergence limits from it, in pieces
        (False if told to stop first)."""
        if self.start_loss is not None:
            return True
        try:
            loss, _ = evaluate_in_pieces(self.model, self.X[:START_ROWS], self.y[:START_ROWS],
                                         self._stop_requested, self.pacer, report=self.config.reported_loss)
        except EvaluationStopped:
            return False
        chance = self._chance_loss()
        self.start_loss = loss
        start = loss if math.isfinite(loss) else chance
        self._explode_at = EXPLODE_FACTOR * max(start, chance)           # one step's loss
        self._too_high = max(RISE_FACTOR * start, RISE_CHANCE * chance)  # a record's mean loss
        return True

    def _chance_loss(self) -> float:
        """The loss of a network that knows nothing: ln C for C classes (uniform probabilities);
        for regression the variance of the training labels (the MSE of predicting their mean)."""
        if is_regression(self.model):
            return max(float(np.var(self.y, dtype=np.float64)), 1e-12)
        return math.log(self.model.layer_sizes[-1])

    def set_rates(self, lr: float | None = None, weight_decay: float | None = None,
                  l1: float | None = None) -> str | None:
        """Change the learning rate and the regularization from the next step on, keeping the
        optimizer's state (a run may be under way: call between steps, e.g. between two
        ``run`` calls). Returns what changed ("lr 0.01 -> 0.002"), which the next record keeps as
        its "change", or None. ConfigError for a value out of its range; nothing changes then."""
        asked = {"lr": lr, "weight_decay": weight_decay, "l1": l1}
        new = {k: v for k, v in asked.items() if v is not None and v != getattr(self.config, k)}
        if not new:
            return None
        config = dataclasses.replace(self.config, **new).validate()
        text = ", ".join(f"{k} {getattr(self.config, k):g} -> {v:g}" for k, v in new.items())
        self.config = config
        self.optimizer.weight_decay, self.optimizer.l1 = config.weight_decay, config.l1
        self.optimizer.lr = self.step_lr()   # the epoch (or step) in progress, at the new base rate
        self._change = text if self._change is None else f"{self._change}; {text}"
        return text

    def after_early_stop(self) -> None:
        """A new run after an early stop (Continue) trains at least ``patience`` more epochs."""
        if self.stopped_early is not None and self.early is not None:
            self.stopped_early = None
            self.early.again()

    def _new_optimizer(self) -> Optimizer:
        c = self.config
        return make_optimizer(c.optimizer, self.model.params, c.lr, c.weight_decay, c.momentum, c.l1)

    def stop(self) -> None:
        """Ask a running ``run`` to return (safe from another thread). It returns within one
        piece of a step (see ``_piece_rows``) or of an evaluation pass (see ``Pacer``):
        a step cut short is not applied and is redone on the next ``run``; a validation pass cut
        short leaves that record's validation figures empty."""
        self._stop = True

    def _stop_requested(self) -> bool:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self.out_of_time = self._stop = True
        if self.also_stop is not None and self.also_stop():
            self._stop = True
        return self._stop

    def run(self, epochs: int | None = None) -> Iterator[Record]:
        """Train ``epochs`` more epochs (default: the config's), yielding progress records.

        Raises ``TrainingDiverged`` if the loss stops being finite.
        """
        target = self.epochs_done + (self.config.epochs if epochs is None else int(epochs))
        self._stop = self.out_of_time = False
        self._target = target
        self.after_early_stop()
        if not self._start_pass():
            return
        self._last_report = time.perf_counter()
        while self.epochs_done < target and self.stopped_early is None and not self._stop_requested():
            with training_steps(small=self.small_steps):    # BLAS threads: see nn.core.blas_threads
                record = self._train_until_record()
            if record is not None:
                yield record
                self._last_report = time.perf_counter()

    def _train_until_record(self) -> Record | None:
        """Train until the epoch ends or a record is due inside it; return that record (None if
        told to stop first)."""
        if self._order is None:
            self._begin_epoch()
        while self._pos < self.n_fit and not self._stop_requested():
            started = time.perf_counter()
            self._step()
            now = time.perf_counter()
            self.seconds += now - started
            if now - self._last_report >= self.config.report_every and self._pos < self.n_fit:
                return self._record(end_of_epoch=False)
        if self._pos < self.n_fit:
            return None
        self.epochs_done += 1
        self._order = None
        return self._record(end_of_epoch=True)

    def _begin_epoch(self) -> None:
        self.optimizer.lr = self.step_lr()
        rows = np.arange(len(self.X)) if self._fit_rows is None else self._fit_rows
        full = self.batch_size >= len(rows)
        self._order = rows if full else self.rng.permutation(rows)
        self._pos, self._loss_sum, self._correct = 0, 0.0, 0

    def epoch_lr(self, epoch: int | None = None) -> float:
        """The learning rate of epoch ``epoch`` (default: the next one to train). "cosine":
        lr (1 + cos(pi e / E)) / 2 for epoch e (from 0) of E = ``config.epochs``, counted from
        where this trainer started; a model trained on past E epochs (Continue) starts a new
        cosine cycle at the full rate (a warm restart) rather than at a rate of 0."""
        c = self.config
        if c.lr_schedule != "cosine":
            return c.lr
        e = (self.epochs_done if epoch is None else epoch) - self._schedule_from
        return c.lr * 0.5 * (1 + math.cos(math.pi * (e % c.epochs) / c.epochs))

    def step_lr(self, step: int | None = None) -> float:
        """The learning rate of step ``step`` (default: the next one to train). "onecycle":
        ``onecycle_lr`` over T = ``config.epochs`` x ``steps_per_epoch`` steps, counted from where
        this trainer started (past T, a new cycle: as cosine's warm restart); otherwise the
        epoch's rate (``epoch_lr``)."""
        c = self.config
        if c.lr_schedule != "onecycle":
            return self.epoch_lr()
        T = c.epochs * self.steps_per_epoch
        t = (self.steps_done if step is None else step) - self._schedule_from_step
        return onecycle_lr(c.lr, t % T, T)
    def _step(self) -> None:
        rows = self._order[self._pos:self._pos + self.batch_size]
        if len(rows) == len(self.X):
            Xb, yb = self.X, self.y                   # full batch: no copy
        else:
            Xb, yb = np.take(self.X, rows, axis=0), self.y[rows]
        with np.errstate(over="ignore", invalid="ignore"):   # checked just below
            result = self._batch_grads(Xb, yb)
        if result is None:                             # stopped mid-batch: the step is not taken
            return
        loss, correct = result
        if self.config.lr_schedule == "onecycle":
            self.optimizer.lr = self.step_lr()        # a rate per step
        if not math.isfinite(loss):
            self._diverge(f"the training loss became {loss}")
        if loss > self._explode_at:
            self._diverge(f"the training loss exploded to {loss:.3g} (more than "
                          f"{EXPLODE_FACTOR:.0f}x where it started)")
        self.optimizer.step(self.model.params, self.grads)
        self._pos += len(rows)
        self.steps_done += 1
        self._loss_sum += loss * len(rows)
        self._correct += correct

    def _batch_grads(self, Xb: np.ndarray, yb: np.ndarray) -> tuple[float, int] | None:
        """Mean loss and gradients over the batch into ``self.grads``, chunk by chunk if large
        (None if told to stop between two chunks)."""
        n = len(Xb)
        size = self._piece_rows(n)
        if n <= size:
            return self.model.train_step_grads(Xb, yb, self.grads, **self._loss_kw)
        codes = self._pixel_codes() if Xb is self.X else None      # the full batch: its 8-bit pixels
        before = self._pass_state()
        results = self._halves_grads(Xb, yb, codes, half_ranges(n, size))
        if None in results:
            self._put_back(before)                     # as if the step had not begun
            return None
        add_halves(self._halves[:len(results)], self.grads)
        return sum(r[0] for r in results), sum(r[1] for r in results)

    def _halves_grads(self, Xb: np.ndarray, yb: np.ndarray, codes: np.ndarray | None,
                      halves: list[range]) -> list[tuple[float, int] | None]:
        """Each half's ``half_grads`` (nn.core.batch_halves), the second one on a worker thread
        when two are worth it and allowed; a None for a half told to stop."""
        if self._halves is None:
            self._halves = [HalfBuffers(self.model.params) for _ in range(HALVES)]
        errors = np.geterr()                    # the caller's errstate, for the worker thread too

        def run_pass(X: np.ndarray, y: np.ndarray, out: list[np.ndarray]) -> tuple[float, int]:
            with np.errstate(**errors):
                return self.model.train_step_grads(X, y, out, **self._loss_kw, **self._piece_kw)

        def half(k: int, here: bool = True) -> tuple[float, int] | None:
            """On this thread: the stop checks; on the worker: the stop flag only."""
            return half_grads(run_pass, Xb, yb, codes, halves[k], len(Xb), self._halves[k],
                              self._stop_requested if here else lambda: self._stop)

        threads = (half_threads(self.model.layer_sizes, len(Xb), allowed_threads())
                   if self._threaded_halves and len(halves) > 1 else 1)
        if threads > 1:
            return run_parallel([lambda: half(1, here=False), lambda: half(0)])[::-1]
        return [half(k) for k in range(len(halves))]

    def _pixel_codes(self) -> np.ndarray | None:
        """The training images as uint8 codes (nn.core.pixels), found once, when X is exactly
        pixels / 255: the full batch's pieces are read from them, a quarter of float32's bytes
        (an eighth of float64's) through memory each step; None for other data."""
        if not self._codes_checked:
            self._codes, self._codes_checked = pixel_codes(self.X), True
        return self._codes

    def _pass_state(self) -> tuple[list[np.ndarray], int | None]:
        """What the passes of a step change besides its gradients: batch norm's running
        statistics and a ``Sequential``'s count of passes (it seeds dropout and augmentation)."""
        return [b.copy() for b in getattr(self.model, "buffers", [])], getattr(self.model, "_steps", None)

    def _put_back(self, state: tuple[list[np.ndarray], int | None]) -> None:
        """Undo the passes of a step cut short, so that it is redone exactly on the next run."""
        buffers, passes = state
        if buffers:
            self.model.copy_buffers_from(buffers)
        if passes is not None:
            self.model._steps = passes

    def _piece_rows(self, n: int) -> int:
        """Rows of the next training pass of a batch of ``n``: at most ``piece_rows`` (fixed by
        the network's cost, whatever the machine's speed); with batch norm, the batch cut into
        equal pieces of at most that."""
        if self.bn_rows:
            return even_piece(n, self.bn_rows)
        return self.piece_rows

    def _record(self, end_of_epoch: bool) -> Record:
        seen = max(self._pos, 1)
        record: Record = {
            "epoch": self.epochs_done if end_of_epoch else self.epochs_done + self._pos / self.n_fit,
            "step": self.steps_done,
            "seconds": round(self.seconds, 6),
            "train_loss": self._loss_sum / seen,
            "train_accuracy": self._correct / seen,
            "val_loss": None,
            "val_accuracy": None,
            "end_of_epoch": end_of_epoch,
            "lr": self.optimizer.lr,
        }
        if is_regression(self.model):     # R^2 = 1 - MSE / Var(y) instead of an accuracy
            record["train_accuracy"] = None
            record["train_r2"] = 1.0 - record["train_loss"] / self._chance_loss()
            record["val_r2"] = None
        if self._change is not None:
            record["change"], self._change = self._change[-MAX_CHANGE_TEXT:], None
        if end_of_epoch and self.early is not None:
            self._early_stopping(record)      # before the test figures: they are of the kept weights
        if self.X_val is not None and (end_of_epoch or self.validate_inside_epoch):
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    val_loss, val_score = evaluate_in_pieces(
                        self.model, self.X_val, self.y_val, self._stop_requested, self.pacer,
                        self.config.tta, report=self.config.reported_loss)
                record["val_loss"] = val_loss
                record["val_r2" if is_regression(self.model) else "val_accuracy"] = val_score
            except EvaluationStopped:       # Stop mid-evaluation: this record goes without them
                pass
        if not all(np.isfinite(p).all() for p in self.model.params) or not math.isfinite(
                record["val_loss"] if record["val_loss"] is not None else 0.0):
            self._diverge("the weights stopped being finite")
        if record["train_loss"] > self._too_high:
            self._diverge(f"the training loss rose to {record['train_loss']:.3g}, far above the "
                          f"{self.start_loss:.3g} this training started from,")
        self._keep_good_weights()
        self.history.append(record)
        return record

    def _early_stopping(self, record: Record) -> None:
        """The held-out rows' figures into ``record``; at the best loss so far, keep these
        weights; after ``patience`` epochs without one, or at the run's last epoch, put the best
        weights back (``record["restored"]``: the epoch they come from)."""
        held = self._held_rows
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                loss, accuracy = evaluate_in_pieces(self.model, TakenRows(self.X, held), self.y[held],
                                                    self._stop_requested, self.pacer)
        except EvaluationStopped:                 # Stop: this epoch is not scored
            return
        record["holdout_loss"] = loss if math.isfinite(loss) else None     # None: diverged (below)
        record["holdout_r2" if is_regression(self.model) else "holdout_accuracy"] = accuracy
        patience_over = self.early.update(self.epochs_done, loss if math.isfinite(loss) else math.inf,
                                          self._weights())
        if not (patience_over or self.epochs_done >= self._target):
            return
        best = self.early.restore(self._weights())
        if best is not None and best != self.epochs_done:
            record["restored"] = best
        if patience_over:
            self.stopped_early = (
                f"Stopped early at epoch {self.epochs_done}: the loss on the {len(held):,} held-out "
                f"training rows had not improved for {self.early.patience} epochs; the model keeps "
                f"the weights of epoch {best}, where that loss was lowest ({self.early.best_loss:.4f}).")

    def _keep_good_weights(self) -> None:
        for good, p in zip(self._good + self._good_buffers,
                           self.model.params + getattr(self.model, "buffers", [])):
            np.copyto(good, p)

    def _diverge(self, what: str) -> None:
        """Put back the last finite weights, reset the optimizer, and raise with an explanation."""
        self.model.copy_params_from(self._good)
        if self._good_buffers:
            self.model.copy_buffers_from(self._good_buffers)
        self.optimizer = self._new_optimizer()
        self._order = None
        kept = (f"its weights from epoch {self.history[-1]['epoch']:.3g}" if self.history
                else "the weights it started with")
        self.diverged = (
            f"Training diverged: {what} at step {self.steps_done + 1} (epoch {self.epochs_done + 1}). "
            f"The learning rate ({self.config.lr:g}) is probably too high for this network: each "
            f"step overshoots, so the weights swing further instead of settling. Try a smaller "
            f"one. The model keeps {kept}, the last good ones.")
        raise TrainingDiverged(self.diverged)


def _check_data(model: Model, X: np.ndarray, y: np.ndarray | None, what: str) -> None:
    if y is None or X.ndim != 2 or len(X) != len(y) or len(X) == 0:
        raise ValueError(f"{what} data must be a non-empty (n, features) array with n labels")
    if X.shape[1] != model.layer_sizes[0]:
        raise ValueError(f"{what} data has {X.shape[1]} features; the network's input layer has "
                         f"{model.layer_sizes[0]}")
    if is_regression(model):
        if not np.isfinite(y).all():
            raise ValueError(f"{what} targets must be finite numbers")
    elif y.min() < 0 or y.max() >= model.layer_sizes[-1]:
        raise ValueError(f"{what} labels must lie in 0..{model.layer_sizes[-1] - 1}")

