"""One browser session's training on the Train page, without Streamlit (tests drive it directly).

- ``TrainSession``: the session's model, trainer, progress and error, kept across reruns.
- ``Throttle``: when to redraw, so live charts cost only a few percent of training time.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from app.train.run_history import RunHistory, RunMark, training_state
from app.train.state import TRAIN_FIELDS, describe_network
from nn.core import Sequential
from nn.core.config import RunConfig
from nn.core.mlp import MLP, EvaluationStopped
from nn.core.classifier import squared_errors
from nn.core.losses import r2_score, reported_loss_sum
from nn.core.training import Record, Trainer, TrainingDiverged, log_proba_in_pieces
from nn.data import Dataset
from nn.hosting import limits
from nn.runs.experiment import build_model, build_trainer, check_model_fits
from nn.runs.remote_training import JobFailed, JobLimits, run_isolated

ETA_AFTER_S = 1.0           # seconds of measured pace before a time left is shown
RESET_WAIT_S = 5.0          # Reset waits at most this for a page run to let go of the model


# --- live redraw pacing --------------------------------------------------------------------------
@dataclass
class Throttle:
    """Redraw at most every ``min_gap`` seconds and at least every ``max_gap`` seconds; in between,
    space redraws so that drawing takes about ``budget`` of the time (adapts to its own cost)."""
    min_gap: float = 0.75          # a browser redraw of the page costs real CPU time too
    max_gap: float = 1.0
    budget: float = 0.05
    _last: float = field(default=-math.inf)
    _cost: float = 0.0

    def begin(self, now: float | None = None) -> None:
        """Training (re)starts now: the first redraw comes a gap later (a run shorter than that
        shows only its final view, at no cost to training)."""
        self._last = time.perf_counter() if now is None else now

    def due(self, now: float | None = None) -> bool:
        now = time.perf_counter() if now is None else now
        gap = min(max(self._cost / self.budget, self.min_gap), self.max_gap)
        return now - self._last >= gap

    def drew(self, started: float, now: float | None = None) -> None:
        """Record a redraw that began at ``started`` (``time.perf_counter``)."""
        now = time.perf_counter() if now is None else now
        self._cost = now - started if self._cost == 0 else 0.5 * self._cost + 0.5 * (now - started)
        self._last = now


# Settings a running run takes from the page at its next step (Trainer.set_rates); the other
# training settings apply at the next Train or Continue.
LIVE_RATES = ("lr", "weight_decay", "l1")

# --- one session's training ----------------------------------------------------------------------
class TrainSession:
    """A browser session's model and its training, kept across Streamlit reruns.

    ``start`` / ``resume`` set a target epoch; ``steps`` trains towards it yielding records and can
    be abandoned at any point (a rerun) and called again to go on exactly where it stopped.
    """

    def __init__(self) -> None:
        # Streamlit may start a new page run while the previous one is still finishing its step
        # in another thread: whoever trains or draws holds this lock (kept across resets).
        self.lock = threading.RLock()
        self.runs = RunHistory()                  # the session's kept runs: Reset keeps them
        self._clear()

    def _clear(self) -> None:
        self.cfg: RunConfig | None = None         # the settings the model was built / trained with
        self.model: MLP | Sequential | None = None
        self.trainer: Trainer | None = None
        self.running = False
        self.target = 0                           # train until trainer.epochs_done == target
        self.error: str | None = None
        self.notice: str | None = None
        self.wall_seconds = 0.0                   # wall-clock time spent training this model
        self.run_wall = 0.0                       # ... since the last Train / Continue
        self.run_from = 0.0                       # epoch at the last Train / Continue
        self.throttle = Throttle()                # paces the live redraws
        self.uploaded = False                     # the model came from a file, not trained here yet
        self.run_epochs = 0                       # the 'Epochs' setting the last run started with
        self.queue_ahead: int | None = None       # waiting for a training slot: runs ahead in line
        self._pace_from: tuple[float, float] | None = None   # (run_wall, epoch) the ETA counts from
        self._test_cache: tuple[Any, np.ndarray] | None = None
        self.run_mark = RunMark()                 # which of ``runs`` this model's training is

    # state
    @property
    def history(self) -> list[Record]:
        return self.trainer.history if self.trainer else []

    @property
    def epoch(self) -> float:
        return self.history[-1]["epoch"] if self.history else 0.0

    def reset(self) -> None:
        """Forget the model (Reset, Train, an upload, a restore); a run under way is kept in
        ``runs`` first, where it stopped (the page's run holding the lock lets go within a step)."""
        self.stop()
        held = self.lock.acquire(timeout=RESET_WAIT_S)
        try:
            self.keep_run()
        finally:
            if held:
                self.lock.release()
        self._clear()

    def keep_run(self, data: Dataset | None = None) -> bool:
        """Keep this model's run in the history if it trained since it was last kept (with the
        test set's figures when they are computed for ``data``); True if the history changed."""
        figures = self.test_figures(data) if data is not None and self.test_ready(data) else None
        return self.runs.record(self, figures, limits().history_mb * 2**20)

    # actions
    def new_model(self, cfg: RunConfig, data: Dataset) -> None:
        self.reset()
        self.cfg = cfg
        self.model = build_model(cfg, data)
        self._new_trainer(cfg, data)

    def adopt(self, model: MLP | Sequential, cfg: RunConfig, data: Dataset) -> None:
        """Take an uploaded model. Everything is checked first (it fits ``data``, its size, its
        history): on any error (ValueError) the session keeps its model and history untouched."""
        check_model_fits(model, data)
        n, limit = model.n_params, limits().max_params
        if n > limit:
            raise ValueError(f"this model has {n:,} parameters, above the limit of {limit:,} "
                             f"(NN_MAX_PARAMS)")
        trainer = build_trainer(cfg, data, model)    # reads and checks the history
        self.reset()
        self.cfg, self.model, self.trainer = cfg, model, trainer
        self.target = self.run_from = self.trainer.epochs_done
        self.uploaded = True
        self.run_mark.kept_at = training_state(self)      # not a run of this session (yet)
        what = (f"a {describe_network(model)}" if isinstance(model, Sequential)
                else f"a model with layers {model.layer_sizes}")
        self.notice = f"Loaded {what}, trained {self.epoch:g} epochs."

    def _new_trainer(self, cfg: RunConfig, data: Dataset) -> None:
        self.trainer = build_trainer(cfg, data, self.model)

    def start(self, epochs: int) -> None:
        self._run_to(self.trainer.epochs_done + int(epochs), epochs)

    def _run_to(self, target: int, epochs: int) -> None:
        self.target, self.run_epochs = int(target), int(epochs)
        self.running, self.error, self.notice, self.uploaded = True, None, None, False
        self.run_wall, self.run_from = 0.0, self.epoch
        self._pace_from = None
        self.throttle = Throttle()

    @property
    def interrupted(self) -> bool:
        """Stopped by the user before reaching the target (not finished, not diverged)."""
        return self.model is not None and not self.running and not self.error and self.epoch < self.target

    def continue_target(self, epochs: int) -> int:
        """The epoch Continue trains to (its button says it): after a Stop, the stopped run's own
        target, so Continue finishes what Stop interrupted, unless 'Epochs' was changed since
        that run started; after a finished (or diverged) run, ``epochs`` more."""
        if self.interrupted and int(epochs) == self.run_epochs:
            return self.target
        return (self.trainer.epochs_done if self.trainer else 0) + int(epochs)

    def resume(self, cfg: RunConfig, data: Dataset) -> None:
        """Continue to ``continue_target(cfg.epochs)`` on the same model; new training settings
        (learning rate, optimizer, batch size...) take effect with a fresh optimizer."""
        target = self.continue_target(cfg.epochs)
        a, b = self.cfg.to_dict(), cfg.to_dict()
        changed = [f for f in TRAIN_FIELDS if a[f] != b[f]]
        if changed:
            self.cfg = RunConfig.from_dict({**a, **{f: b[f] for f in TRAIN_FIELDS}})
            self.trainer = build_trainer(self.cfg, data, self.model)
        self._run_to(target, cfg.epochs)
        if changed:
            self.notice = f"Continuing with new {', '.join(changed)} (the optimizer starts afresh)."

    def apply_rates(self, cfg: RunConfig) -> str | None:
        """While a run trains: a learning rate or regularization changed on the page applies from
        the next step (the optimizer keeps its state; the next record notes the change). Returns
        the message for the visitor, or None when nothing changed."""
        if not self.running or self.trainer is None or self.cfg is None:
            return None
        rates = {name: getattr(cfg, name) for name in LIVE_RATES}
        changed = self.trainer.set_rates(**rates)
        if not changed:
            return None
        self.cfg = RunConfig.from_dict({**self.cfg.to_dict(), **rates})
        self.notice = f"Changed while training: {changed} (from the next step on)."
        return self.notice

    def stop(self) -> None:
        """Stop training. Also tells the trainer, in case the page run that is training has not
        been interrupted yet (Streamlit stops it only at its next redraw)."""
        self.running = False
        if self.trainer is not None:
            self.trainer.stop()

    def add_time(self, seconds: float) -> None:
        """Count wall-clock time spent on this model's training (the page adds its redraws)."""
        self.wall_seconds += seconds
        self.run_wall += seconds

    def steps(self, job: JobLimits | None = None, data: Dataset | None = None) -> Iterator[Record]:
        """Train towards ``target``, yielding each record. Safe to abandon mid-way: the next call
        goes on from exactly where this one stopped. With ``job``, the steps run in a worker
        process under its limits (``nn.runs.remote_training``); a worker that fails (out of its
        memory or time) stops training with a message, the model keeping its last weights."""
        if not self.running or self.trainer is None:
            return
        epochs = self.target - self.trainer.epochs_done
        try:
            if job is None:
                yield from self.trainer.run(epochs)
            else:
                yield from run_isolated(self.trainer, epochs, memory_bytes=job.memory_bytes,
                                        cpu_seconds=job.cpu_seconds, blas_threads=job.blas_threads,
                                        on_test_logp=lambda logp: self._keep_test(data, logp))
        except TrainingDiverged as exc:
            self.error = (f"{exc} Press Train for a fresh model, or lower the learning rate and "
                          f"Continue from the kept weights.")
            self.running = False
        except JobFailed as exc:
            self.error = (f"Training stopped: {exc}. The model keeps its weights from epoch "
                          f"{self.epoch:g}; a smaller network, batch or dataset fits better.")
            self.running = False
        if self.trainer.stopped_early:                  # early stopping: this run is done
            self.target, self.notice = self.trainer.epochs_done, self.trainer.stopped_early
        if self.trainer.epochs_done >= self.target:      # not when merely told to stop
            self.running = False

    def _keep_test(self, data: Dataset | None, logp: np.ndarray) -> None:
        if data is not None and len(logp) == len(data.y_test):
            self._test_cache = (self._test_key(data), logp)

    def model_moved(self) -> None:
        """The weights changed outside training (a Step): the cached test figures are stale."""
        self._test_cache = None

    # the model on the test set, computed once per state of the model (every rerun draws it)
    def _test_key(self, data: Dataset) -> tuple:
        return (id(self.model), id(data), self.trainer.steps_done if self.trainer else 0, len(self.history))

    def test_ready(self, data: Dataset) -> bool:
        """True if the test set's figures for the model as it is now are computed."""
        return self._test_cache is not None and self._test_cache[0] == self._test_key(data)

    def evaluate_test(self, data: Dataset, should_stop: Callable[[], bool],
                      on_piece: Callable[[int], None] = lambda done: None) -> bool:
        """Compute the test log-probabilities in pieces of about 0.2 s (``on_piece(rows done)``
        after each); False, with nothing kept, if ``should_stop()`` turned True first."""
        if self.test_ready(data):
            return True
        parts = []
        try:
            for start, logp in log_proba_in_pieces(self.model, data.X_test, should_stop, tta=self._tta()):
                parts.append(logp)
                on_piece(start + len(logp))
        except EvaluationStopped:
            return False
        logp = parts[0] if len(parts) == 1 else (
            np.concatenate(parts) if parts else np.zeros((0, self.model.layer_sizes[-1]), self.model.dtype))
        self._test_cache = (self._test_key(data), logp)
        return True

    def _tta(self) -> int:
        """Copies per test image (the settings' ``tta``) for an image network; 1 otherwise."""
        images = len(getattr(self.model, "input_shape", ())) == 3
        return int(getattr(self.cfg, "tta", 1)) if images and self.cfg is not None else 1

    def test_log_proba(self, data: Dataset) -> np.ndarray:
        """Log-probabilities of the test set (chunked), cached until the model trains again."""
        if not self.test_ready(data):
            self.evaluate_test(data, lambda: False)
        return self._test_cache[1]

    def test_figures(self, data: Dataset) -> tuple[float, float]:
        """(mean loss, accuracy) on the test set, from ``test_log_proba``, the loss being the one
        the run's records report (``reported_loss``: cross-entropy unless the run says otherwise)
        (regression: (mean squared error, R²), from the predicted values it then holds)."""
        logp, y = self.test_log_proba(data), data.y_test
        if data.task == "regression":
            sse = squared_errors(logp, y, 0)
            return sse / max(len(y), 1), r2_score(sse, y)
        report = self.cfg.reported_loss if self.cfg is not None else "cross_entropy"
        loss = reported_loss_sum(logp, y, report) / len(y) if len(y) else math.nan
        return loss, float((logp.argmax(axis=1) == y).mean())

    # progress text
    def eta_seconds(self) -> float:
        """Seconds left, from the pace measured since this run's first record (its start-up, a
        worker starting and the first pass, says nothing about the pace); inf ("estimating...")
        until ``ETA_AFTER_S`` of measured training."""
        if self._pace_from is None or self._pace_from[1] >= self.epoch:
            if self.history and self.epoch > self.run_from:
                self._pace_from = (self.run_wall, self.epoch)
            return math.inf
        wall, epoch = self._pace_from
        if self.run_wall - wall < ETA_AFTER_S:
            return math.inf
        return (self.run_wall - wall) / (self.epoch - epoch) * max(self.target - self.epoch, 0.0)
