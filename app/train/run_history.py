"""The Train page's history of runs, without Streamlit (tests drive it directly): every finished
or stopped run of the browser session, kept with its settings, curves, final figures and weights,
as a table (and its CSV), the ticked runs' curves to overlay, and a run rebuilt to restore.

What one run is, as a user sees it: **one model**, from Train (or a restore, or an upload) to its
last Continue.
- Stop keeps the run (its row says "stopped"); Continue after a Stop, or after the run finished,
  trains the same model further and **updates its row** (settings, curves, figures, weights):
  it is still the same network, and its curves already show each stretch of training.
- Train makes a new model, so a new row; so does training a restored (or uploaded) model
  further: a new row "from run N", and run N stays as it was kept.
- Reset forgets the session's model, not its history: the runs stay listed (a run under way is
  kept first, stopped where it was). Restoring a run keeps the model the session had too.
- A model never trained here (built by Step, uploaded, restored and not trained further) adds no
  row; Steps on a trained model change its weights but not its history, so they are not kept.

Bounded per session: ``MAX_RUNS`` runs and ``max_bytes`` (``nn.hosting.limits().history_mb``,
NN_HISTORY_MB) of weights, curves and records; the oldest run goes first. A single run above the
byte bound is kept without its weights (its row and curves stay; Restore gives its settings).
The page also counts ``RunHistory.nbytes`` against the visitor's share of the server's budget
(``app.jobs.keep``), dropping the oldest runs when that is full.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from app.train.state import describe_network
from nn.core import Sequential
from nn.core.config import RunConfig
from nn.core.history import Record
from nn.core.mlp import MLP
from nn.core.training import Trainer
from nn.data import Dataset
from nn.runs.experiment import build_model
from nn.views.run_overlay import Curves, run_curves

MAX_RUNS = 20
# Bytes of a kept run beyond its arrays and texts: the entry, its settings and figures (a few
# dozen small Python objects; tracemalloc measures about 5 KB for a moons run).
ENTRY_OVERHEAD = 8192
FIGURES = ("test_accuracy", "test_r2", "test_loss", "train_accuracy", "train_r2", "train_loss")
# the table's columns, left to right (the CSV adds every setting after them)
SUMMARY = ("run", "status", "dataset", "network", "optimizer", "lr", "batch_size", "seed",
           "epochs_trained", *FIGURES, "compute_seconds", "wall_seconds", "from_run", "weights_kept")
SPLIT_KEYS = (("test", "val"), ("train", "train"))    # a figure's name, its records' prefix
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")     # a spreadsheet would run such a cell


@dataclass
class RunMark:
    """Which kept run the session's model is, and the training it had when last kept."""
    number: int | None = None                 # its row in the history (None: not kept yet)
    kept_at: tuple[int, int] | None = None    # (optimizer steps, records) when kept or loaded
    parent: int | None = None                 # the run it was restored from


class Session(Protocol):
    """What the history reads of a session (``app.train.session.TrainSession``, which holds it)."""
    model: MLP | Sequential | None
    cfg: RunConfig | None
    trainer: Trainer | None
    run_mark: RunMark
    error: str | None
    target: int
    wall_seconds: float

    @property
    def history(self) -> list[Record]: ...

    @property
    def epoch(self) -> float: ...


@dataclass
class KeptRun:
    """One run as the history keeps it."""
    number: int
    cfg: dict[str, Any]                       # RunConfig.to_dict()
    network: str
    status: str                               # finished, stopped or diverged
    epochs: float
    compute_seconds: float
    wall_seconds: float
    figures: dict[str, float | None]
    curves: Curves                            # thinned lines for the overlay (nn.views.run_overlay)
    history_json: str                         # the records, exactly (json keeps every float)
    weights: list[np.ndarray] | None          # copies of the parameters (None: over the byte bound)
    parent: int | None = None

    @property
    def nbytes(self) -> int:
        weights = sum(w.nbytes for w in self.weights) if self.weights is not None else 0
        return (weights + len(self.history_json) + sum(c.nbytes for c in self.curves.values())
                + ENTRY_OVERHEAD)

    @property
    def label(self) -> str:
        return f"run {self.number}"

    def history(self) -> list[Record]:
        return json.loads(self.history_json)

    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.cfg)

    def row(self) -> dict[str, Any]:
        """The run's row of the table: its summary, then every setting."""
        cfg = self.cfg
        summary = {"run": self.number, "status": self.status, "dataset": cfg["dataset"],
                   "network": self.network, "optimizer": cfg["optimizer"], "lr": cfg["lr"],
                   "batch_size": str(cfg["batch_size"]), "seed": cfg["seed"],
                   "epochs_trained": round(self.epochs, 2),
                   **{k: self.figures.get(k) for k in FIGURES},
                   "compute_seconds": round(self.compute_seconds, 3),
                   "wall_seconds": round(self.wall_seconds, 3), "from_run": self.parent,
                   "weights_kept": self.weights is not None}
        settings = {k: _cell(v) for k, v in cfg.items() if k not in summary}
        return {**summary, **settings}


def _cell(value: Any) -> Any:
    """A setting as one table cell: lists as '32-32', a dict as JSON text."""
    if isinstance(value, list):
        return "-".join(map(str, value))
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else value


def training_state(s: Session) -> tuple[int, int]:
    """How far the session's model has trained: (optimizer steps, records)."""
    return (s.trainer.steps_done, len(s.history)) if s.trainer is not None else (0, 0)


def snapshot(s: Session, number: int, figures: tuple[float, float] | None) -> KeptRun:
    """The session's model and its training as run ``number``. ``figures``: the test set's
    (loss, accuracy) of the weights as they are; without them, the last record's."""
    history, last = s.history, s.history[-1]
    figs = {f"{split}_{metric}": last.get(f"{key}_{metric}") for split, key in SPLIT_KEYS
            for metric in ("loss", "accuracy", "r2")}
    if figures is not None:
        figs.update(_test_figures(s.cfg.task, figures))
    status = "diverged" if s.error else ("stopped" if s.epoch < s.target else "finished")
    return KeptRun(number, s.cfg.to_dict(), describe_network(s.model), status, s.epoch,
                   s.trainer.seconds, s.wall_seconds, figs, run_curves(history),
                   json.dumps(history, separators=(",", ":")), [p.copy() for p in s.model.params],
                   s.run_mark.parent)


@dataclass
class RunHistory:
    """A session's kept runs, oldest first, at most ``max_runs``."""
    max_runs: int = MAX_RUNS
    kept: list[KeptRun] = field(default_factory=list)
    next_number: int = 1

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.kept)

    def get(self, number: int | None) -> KeptRun | None:
        return next((r for r in self.kept if r.number == number), None)

    def put(self, run: KeptRun, max_bytes: int) -> None:
        """Keep ``run`` (in the place of the kept run of its number), then drop the oldest other
        runs until at most ``max_runs`` and ``max_bytes`` are kept; a run alone above
        ``max_bytes`` keeps no weights."""
        at = next((i for i, r in enumerate(self.kept) if r.number == run.number), None)
        if at is None:
            self.kept.append(run)
        else:
            self.kept[at] = run                     # a run trained further keeps its place
        others = [r for r in self.kept if r is not run]          # oldest first
        while others and (len(self.kept) > self.max_runs or self.nbytes > max_bytes):
            self.kept.remove(others.pop(0))
        if self.nbytes > max_bytes:
            run.weights = None

    def drop_oldest(self) -> bool:
        """Forget the oldest run (the server's budget is full); False if there was none."""
        return self.kept.pop(0) is not None if self.kept else False

    def record(self, s: Session, figures: tuple[float, float] | None, max_bytes: int) -> bool:
        """Keep the session's run if it trained since it was last kept (a new row for a model
        not kept yet, its own row updated otherwise), or its test figures once they are computed.
        True if the history changed."""
        if s.model is None or s.trainer is None or not s.history:
            return False
        mark, state = s.run_mark, training_state(s)
        kept = self.get(mark.number)
        if mark.kept_at == state:
            return kept is not None and figures is not None and _set_test_figures(kept, figures)
        if kept is None:
            mark.number, self.next_number = self.next_number, self.next_number + 1
        self.put(snapshot(s, mark.number, figures), max_bytes)
        mark.kept_at = state
        return True

    # --- what the page shows -----------------------------------------------------------------
    def table(self) -> list[dict[str, Any]]:
        return [r.row() for r in self.kept]

    def csv(self) -> str:
        """The table as CSV: a row per run, its summary then every setting (text cells that a
        spreadsheet would take for a formula start with a quote)."""
        rows = self.table()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else list(SUMMARY),
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _safe(v) for k, v in row.items()} for row in rows)
        return buf.getvalue()

    def task(self, number: int) -> str:
        """The task of kept run ``number`` (classification or regression)."""
        return next((r.cfg.get("task", "classification") for r in self.kept if r.number == number),
                    "classification")

    def overlay(self, numbers: list[int]) -> list[tuple[str, Curves]]:
        """The curves of the kept runs among ``numbers``, oldest first."""
        return [(r.label, r.curves) for r in self.kept if r.number in numbers]


def _test_figures(task: str, figures: tuple[float, float]) -> dict[str, float]:
    """The test set's (loss, accuracy) of a classifier, or (loss, R²) of a regression."""
    return dict(zip(("test_loss", "test_r2" if task == "regression" else "test_accuracy"), figures))


def _set_test_figures(run: KeptRun, figures: tuple[float, float]) -> bool:
    new = _test_figures(run.cfg.get("task", "classification"), figures)
    if all(run.figures.get(k) == v for k, v in new.items()):
        return False
    run.figures.update(new)
    return True


def _safe(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def rebuild(run: KeptRun, data: Dataset) -> MLP | Sequential:
    """The kept run's model: its settings' network on ``data``, with the kept weights and
    records; ValueError if its weights were not kept or do not fit the network."""
    if run.weights is None:
        raise ValueError(f"the weights of {run.label} were not kept (above the history's memory "
                         f"bound): train it again from its settings")
    model = build_model(run.config(), data)
    shapes = [p.shape for p in model.params]
    if shapes != [w.shape for w in run.weights]:
        raise ValueError(f"{run.label}'s weights do not fit its network on this data")
    model.copy_params_from(run.weights)
    model.meta["history"] = run.history()
    return model
