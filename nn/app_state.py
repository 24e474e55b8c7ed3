"""The Train page's state and logic without Streamlit, so tests can drive it directly.

- ``config_to_query`` / ``config_from_query``: the whole ``RunConfig`` as URL query values.
- ``TrainSession``: one browser session's model, trainer, progress and error.
- ``Throttle``: when to redraw, so live charts cost only a few percent of training time.
"""
from __future__ import annotations

import csv
import io
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from .config import ConfigError, RunConfig
from .data import TOY_DATASETS, Dataset
from .experiment import build_model, build_trainer, check_model_fits, config_from_preset
from .model import MLP
from .presets import PRESETS
from .training import Record, Trainer, TrainingDiverged

TRAIN_FIELDS = ("optimizer", "lr", "batch_size", "momentum", "weight_decay", "seed")
HISTORY_COLUMNS = ("epoch", "step", "seconds", "train_loss", "train_accuracy", "val_loss",
                   "val_accuracy", "end_of_epoch")
DEFAULT_PRESET = "moons"


# --- URL <-> config ------------------------------------------------------------------------------
def config_to_query(cfg: RunConfig) -> dict[str, str]:
    """Every setting as a short string, e.g. ``hidden=32-32``, ``lr=0.01``, ``batch_size=full``."""
    out = {}
    for name, value in cfg.to_dict().items():
        out[name] = "-".join(str(v) for v in value) if name == "hidden" else f"{value:g}" if isinstance(value, float) else str(value)
    return out


def _parse(name: str, text: str) -> Any:
    kind = RunConfig.__dataclass_fields__[name].type
    if name == "hidden":
        return [int(v) for v in text.replace(",", "-").split("-") if v.strip()]
    if name == "batch_size":
        return "full" if text == "full" else int(text)
    if "int" in str(kind):
        return int(text)
    if "float" in str(kind):
        return float(text)
    return text


def config_from_query(params: Mapping[str, Any], default_preset: str = DEFAULT_PRESET) -> tuple[RunConfig, list[str]]:
    """The config a URL describes (``preset=`` first, then single settings) and a warning for
    each value that was unreadable or out of range (those keep the preset's value)."""
    warnings: list[str] = []
    preset = _first(params.get("preset")) or default_preset
    if preset not in PRESETS:
        warnings.append(f"Unknown preset {preset!r} in the link; using {default_preset!r}.")
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
            warnings.append(f"Ignored {name}={text!r} from the link: {exc}")
        except ValueError:
            warnings.append(f"Ignored {name}={text!r} from the link: not a valid value.")
        else:
            values = candidate
    try:
        return RunConfig.from_dict(values).validate(), warnings
    except ConfigError as exc:
        warnings.append(f"The link's settings do not fit together ({exc}); using the {preset!r} preset.")
        return config_from_preset(preset), warnings


def _first(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return None if value is None else str(value)


def model_changed(old: RunConfig, new: RunConfig) -> list[str]:
    """Settings that shape the network or its data and differ between ``old`` and ``new``."""
    fields = ["dataset", "hidden", "activation", "init"]
    if old.dataset == new.dataset and old.dataset in TOY_DATASETS:
        fields += ["n_samples", "noise", "test_size"]
    elif old.dataset == new.dataset == "digits":
        fields.append("test_size")
    a, b = old.to_dict(), new.to_dict()
    return [f for f in fields if a[f] != b[f]]


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
        self.model: MLP | None = None
        self.trainer: Trainer | None = None
        self.running = False
        self.target = 0                           # train until trainer.epochs_done == target
        self.error: str | None = None
        self.notice: str | None = None
        self.wall_seconds = 0.0                   # wall-clock time spent training this model
        self.run_wall = 0.0                       # ... since the last Train / Continue
        self.run_from = 0.0                       # epoch at the last Train / Continue
        self.throttle = Throttle()                # paces the live redraws

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

    def adopt(self, model: MLP, cfg: RunConfig, data: Dataset) -> None:
        """Take an uploaded model (raises ValueError if it does not fit ``data``)."""
        check_model_fits(model, data)
        self.reset()
        self.cfg, self.model = cfg, model
        self._new_trainer(cfg, data)
        self.notice = f"Loaded a model with layers {model.layer_sizes}, trained {self.epoch:g} epochs."

    def _new_trainer(self, cfg: RunConfig, data: Dataset) -> None:
        self.trainer = build_trainer(cfg, data, self.model)

    def start(self, epochs: int) -> None:
        self.target = self.trainer.epochs_done + int(epochs)
        self.running, self.error, self.notice = True, None, None
        self.run_wall, self.run_from = 0.0, self.epoch
        self.throttle = Throttle()

    def resume(self, cfg: RunConfig, data: Dataset) -> None:
        """Continue: ``cfg.epochs`` more epochs on the same model; new training settings (learning
        rate, optimizer, batch size...) take effect with a fresh optimizer."""
        a, b = self.cfg.to_dict(), cfg.to_dict()
        changed = [f for f in TRAIN_FIELDS if a[f] != b[f]]
        if changed:
            self.cfg = RunConfig.from_dict({**a, **{f: b[f] for f in TRAIN_FIELDS}})
            self.trainer = build_trainer(self.cfg, data, self.model)
        self.start(cfg.epochs)
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

    def steps(self) -> Iterator[Record]:
        """Train towards ``target``, yielding each record. Safe to abandon mid-way: the next call
        goes on from exactly where this one stopped."""
        if not self.running or self.trainer is None:
            return
        try:
            yield from self.trainer.run(self.target - self.trainer.epochs_done)
        except TrainingDiverged as exc:
            self.error = (f"{exc} Press Train for a fresh model, or lower the learning rate and "
                          f"Continue from the kept weights.")
            self.running = False
        if self.trainer.epochs_done >= self.target:      # not when merely told to stop
            self.running = False

    # progress text
    def eta_seconds(self) -> float:
        done = self.epoch - self.run_from
        left = self.target - self.epoch
        return self.run_wall / done * left if done > 0 else math.inf
