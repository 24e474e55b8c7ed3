"""A sweep run in this process (one worker): its tasks one after the other, ``poll`` training a
whole task. No worker process to start or end."""
from __future__ import annotations

from typing import Any

from nn.data import Dataset
from nn.sweep.budget import Estimate
from nn.sweep.config import SweepConfig
from nn.sweep.plan import Task
from nn.sweep.running import SweepRun
from nn.sweep.task import run_task


class InProcessRun(SweepRun):
    """Tasks one after the other in this process (one worker): ``poll`` trains a whole task."""

    def __init__(self, sweep: SweepConfig, tasks: list[Task], est: Estimate, data: Dataset):
        super().__init__(sweep, tasks, est, "this process")
        self.data = data

    def poll(self, timeout: float) -> list[dict[str, Any]] | None:
        if self.done:
            return None
        i = self.finished
        out = run_task(self.sweep, self.tasks[i], self.data, progress=lambda e: self._note(i, e))
        self._finish(i)
        return out
