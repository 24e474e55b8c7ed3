"""A started sweep (``SweepRun``), whatever runs it: its progress, its results as tasks finish,
and ``cancel``; and ``SweepError``, the sweep that could not finish. The ways to run it are
nn/sweep/run_here.py (this process), run_local.py (worker processes) and run_dask.py (a cluster)."""
from __future__ import annotations

from typing import Any

from nn.sweep.budget import Estimate
from nn.sweep.config import SweepConfig
from nn.sweep.plan import Task, task_costs


class SweepError(RuntimeError):
    """The sweep could not finish: a worker or the Dask cluster failed; the message says why."""


class SweepRun:
    """A started sweep. ``poll(timeout)`` returns one task's results when one finishes within
    ``timeout`` seconds (else None); ``progress`` is the share of the work done; ``cancel()``
    ends it at once, with its worker processes. Use it in a ``with`` block: leaving the block
    in any way (an exception, a stopped Streamlit script) cancels what is still running."""

    def __init__(self, sweep: SweepConfig, tasks: list[Task], estimate: Estimate, where: str) -> None:
        self.sweep, self.tasks, self.estimate, self.where = sweep, tasks, estimate, where
        self.total = len(sweep.values) * sweep.trials
        self._weights = task_costs(sweep, tasks)
        self._epochs = [sweep.run.epochs] * len(tasks)        # (every value has the base's epochs)
        self._done: dict[int, float] = {}                     # task index -> share of it done
        self.finished = 0                                     # tasks finished
        self.finished_tasks: list[Task] = []                  # which (a later run may skip them)

    @property
    def done(self) -> bool:
        return self.finished == len(self.tasks)

    @property
    def progress(self) -> float:
        total = sum(self._weights) or 1.0
        return min(1.0, sum(self._weights[i] * f for i, f in self._done.items()) / total)

    def _note(self, i: int, epochs_done: int) -> None:
        self._done[i] = min(1.0, epochs_done / max(1, self._epochs[i]))

    def _finish(self, i: int) -> None:
        self._done[i] = 1.0
        self.finished += 1
        self.finished_tasks.append(self.tasks[i])

    def poll(self, timeout: float) -> list[dict[str, Any]] | None:
        raise NotImplementedError

    def cancel(self) -> None:
        """End what is still running (idempotent)."""

    def __enter__(self) -> "SweepRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cancel()
