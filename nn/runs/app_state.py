"""The Train page's state and logic without Streamlit, so tests can drive it directly.

- ``config_to_query`` / ``config_from_query``: the whole ``RunConfig`` as URL query values.
- ``TrainSession``: one browser session's model, trainer, progress and error.
- ``Throttle``: when to redraw, so live charts cost only a few percent of training time.
"""
from __future__ import annotations

import csv
import io
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from nn.core import Sequential
from nn.core.mlp import MLP
from nn.core.mlp import EvaluationStopped
from nn.core.training import Record, Trainer, TrainingDiverged, log_proba_in_pieces
from nn.data import TOY_DATASETS, Dataset
from nn.hosting import limits
from nn.runs.config import AUGMENT_KEYS, OWN_DATASETS, ConfigError, RunConfig
from nn.runs.experiment import build_model, build_trainer, check_model_fits, config_from_preset
from nn.runs.presets import PRESETS
from nn.runs.remote_training import JobFailed, JobLimits, run_isolated

TRAIN_FIELDS = ("optimizer", "lr", "batch_size", "momentum", "weight_decay", "seed", "lr_schedule",
                "augment")
HISTORY_COLUMNS = ("epoch", "step", "seconds", "train_loss", "train_accuracy", "val_loss",
                   "val_accuracy", "end_of_epoch")
DEFAULT_PRESET = "moons"
ETA_AFTER_S = 1.0           # seconds of measured pace before a time left is shown
DATASET_NAMES = (*TOY_DATASETS, "digits", "mnist", "fashion_mnist")
# Where the page's widgets are narrower than what the library accepts (RunConfig.validate), a
# link's value is clamped to the widget's range with a warning naming it. Everything else the
# library accepts, the widgets accept too.
WIDGET_LIMITS = {"momentum": (0.0, 0.999), "weight_decay": (0.0, 0.9999)}
_AUTOLINK = re.compile(r"(?i)www|[:@]")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^\"'])")


def plain(text: Any, limit: int = 120) -> str:
    """``text`` (e.g. from a URL, a file name, an error quoting either) made safe inside a
    Markdown message: one line, at most ``limit`` characters, every Markdown character escaped, so
    it reads as typed (invisible word joiners aside) and never renders as a link, an image, a
    heading or a formula."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    # GFM links bare addresses after parsing, escapes or not: an invisible word joiner after
    # "www", ":" and "@" keeps "https://...", "www.x" and "a@b.c" from becoming links
    text = _AUTOLINK.sub(lambda m: m.group(0) + "\u2060", text)
    return _MARKDOWN.sub(r"\\\1", text)


# --- URL <-> config ------------------------------------------------------------------------------
def config_to_query(cfg: RunConfig) -> dict[str, str]:
    """Every setting as a short string, e.g. ``hidden=32-32``, ``lr=0.01``, ``batch_size=full``,
    ``arch=conv 5x5x16, pool 2, dense 128``, ``augment=2-10-0.1`` (shift, rotate, scale); a
    setting that is None (no ``arch``, no ``augment``) is left out."""
    out = {}
    for name, value in cfg.to_dict().items():
        if value is None:
            continue
        if name == "hidden":
            out[name] = "-".join(str(v) for v in value)
        elif name == "augment":
            out[name] = "-".join(f"{float(value[k]):g}" for k in AUGMENT_KEYS)
        else:
            out[name] = f"{value:g}" if isinstance(value, float) else str(value)
    return out


def _parse(name: str, text: str) -> Any:
    kind = RunConfig.__dataclass_fields__[name].type
    if name == "hidden":
        return [int(v) for v in text.replace(",", "-").split("-") if v.strip()]
    if name == "batch_size":
        return "full" if text == "full" else int(text)
    if name == "arch":
        return None if text.strip().lower() in ("", "none", "mlp") else text
    if name == "augment":
        if text.strip().lower() in ("", "none", "off"):
            return None
        numbers = [float(v) for v in text.replace(",", "-").split("-") if v.strip()]
        if len(numbers) != len(AUGMENT_KEYS):
            raise ValueError(f"augment takes {len(AUGMENT_KEYS)} numbers")
        return dict(zip(AUGMENT_KEYS, numbers))
    if "int" in str(kind):
        return int(text)
    if "float" in str(kind):
        return float(text)
    return text


def config_from_query(params: Mapping[str, Any], default_preset: str = DEFAULT_PRESET) -> tuple[RunConfig, list[str]]:
    """The config a URL describes (``preset=`` first, then single settings) and a warning for
    each value that was unreadable or out of range (those keep the preset's value) or clamped to
    the page's range (``WIDGET_LIMITS``). Warnings are Markdown with the URL's text escaped."""
    warnings: list[str] = []
    preset = _first(params.get("preset")) or default_preset
    if preset not in PRESETS:
        warnings.append(f"Unknown preset {plain(repr(preset))} in the link; using {default_preset!r}.")
        preset = default_preset
    values = config_from_preset(preset).to_dict()
    for name in RunConfig.__dataclass_fields__:
        text = _first(params.get(name))
        if text is None:
            continue
        try:
            candidate = {**values, name: _parse(name, text)}
            RunConfig.from_dict(candidate).validate()
        except ConfigError as exc:
            if exc.param != name:          # another field is the culprit: keep this one
                values[name] = candidate[name]
                continue
            warnings.append(f"Ignored {name}={plain(repr(text))} from the link: {plain(exc)}")
        except (ValueError, OverflowError):
            warnings.append(f"Ignored {name}={plain(repr(text))} from the link: not a valid value.")
        else:
            values = candidate
            warnings += _clamp_to_widget(values, name)
    try:
        return RunConfig.from_dict(values).validate(), warnings
    except ConfigError as exc:
        warnings.append(f"The link's settings do not fit together ({plain(exc)}); using the "
                        f"{preset!r} preset.")
        return config_from_preset(preset), warnings


def _clamp_to_widget(values: dict[str, Any], name: str) -> list[str]:
    if name not in WIDGET_LIMITS:
        return []
    low, high = WIDGET_LIMITS[name]
    value = values[name]
    if low <= value <= high:
        return []
    values[name] = min(max(value, low), high)
    return [f"{name}={value:g} from the link is outside the page's range ({low:g} to {high:g}); "
            f"using {values[name]:g}."]


def _first(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return None if value is None else str(value)


def model_changed(old: RunConfig, new: RunConfig) -> list[str]:
    """Settings that shape the network or its data and differ between ``old`` and ``new``."""
    fields = ["dataset", "arch", "activation", "init"]
    if old.arch is None and new.arch is None:
        fields.insert(1, "hidden")           # a CNN has no hidden sizes of this kind
    if old.dataset == new.dataset and old.dataset in TOY_DATASETS:
        fields += ["n_samples", "noise", "test_size"]
    elif old.dataset == new.dataset == "digits":
        fields.append("test_size")
    a, b = old.to_dict(), new.to_dict()
    return [f for f in fields if a[f] != b[f]]


def model_settings(model: MLP | Sequential) -> dict[str, Any]:
    """The settings that describe ``model``'s network (for a model read from a file): ``hidden``
    for an MLP, ``arch`` for a ``Sequential`` (ValueError if it has no architecture text)."""
    if isinstance(model, Sequential):
        arch = model.meta.get("arch")
        if not isinstance(arch, str):
            raise ValueError("this network file does not say its architecture ('arch'), so the page "
                             "cannot show or continue its settings")
        init = model.init if model.init in ("he", "xavier") else "he"
        return dict(arch=arch, activation=model.activation, init=init)
    return dict(hidden=model.layer_sizes[1:-1], activation=model.activation, init=model.init,
                arch=None, augment=None)


def upload_config(model: MLP | Sequential, current: RunConfig) -> tuple[RunConfig, str | None]:
    """The settings to use an uploaded ``model`` with, and a note when they switch the dataset.

    A model file records the dataset and settings it was trained with (``meta['config']``): the
    page takes them, so the model is evaluated and continued on its own data, never on whatever
    dataset the page happened to show. A file without them keeps the page's settings. A model
    trained on the visitor's own table or points needs that data chosen first (ValueError)."""
    saved = model.meta.get("config")
    cfg = current
    if isinstance(saved, dict):
        try:
            cfg = RunConfig.from_dict({**current.to_dict(), **saved}).validate()
        except (ConfigError, TypeError, ValueError):
            cfg = current
    elif model.meta.get("dataset") in DATASET_NAMES:
        cfg = RunConfig.from_dict({**current.to_dict(), "dataset": model.meta["dataset"]})
    if cfg.dataset in OWN_DATASETS and cfg.dataset != current.dataset:
        what = "table" if cfg.dataset == "table" else "drawn points"
        raise ValueError(f"this model was trained on your own {what}: choose that dataset (and "
                         f"give it the same data) first, then upload the model again")
    cfg = RunConfig.from_dict({**cfg.to_dict(), **model_settings(model)}).validate()
    note = None
    if cfg.dataset != current.dataset:
        note = (f"Switched to **{cfg.dataset}**, the dataset this model was trained on, with the "
                f"settings it was trained with.")
    return cfg, note


def describe_network(model: MLP | Sequential) -> str:
    """'784-256-10' for an MLP, 'CNN conv 5x5x16, pool 2, ... (80,202 parameters)' otherwise."""
    if isinstance(model, Sequential):
        return f"CNN {model.meta.get('arch') or 'network'} ({model.n_params:,} parameters)"
    return "-".join(map(str, model.layer_sizes))


def history_csv(history: list[Record]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


def format_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


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

    # state
    @property
    def history(self) -> list[Record]:
        return self.trainer.history if self.trainer else []

    @property
    def epoch(self) -> float:
        return self.history[-1]["epoch"] if self.history else 0.0

    def reset(self) -> None:
        self.stop()
        self._clear()

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
            for start, logp in log_proba_in_pieces(self.model, data.X_test, should_stop):
                parts.append(logp)
                on_piece(start + len(logp))
        except EvaluationStopped:
            return False
        logp = parts[0] if len(parts) == 1 else (
            np.concatenate(parts) if parts else np.zeros((0, self.model.layer_sizes[-1]), self.model.dtype))
        self._test_cache = (self._test_key(data), logp)
        return True

    def test_log_proba(self, data: Dataset) -> np.ndarray:
        """Log-probabilities of the test set (chunked), cached until the model trains again."""
        if not self.test_ready(data):
            self.evaluate_test(data, lambda: False)
        return self._test_cache[1]

    def test_figures(self, data: Dataset) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) on the test set, from ``test_log_proba``."""
        logp, y = self.test_log_proba(data), data.y_test
        loss = float(-logp[np.arange(len(y)), y].mean(dtype=np.float64))
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
