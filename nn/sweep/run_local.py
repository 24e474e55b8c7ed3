"""A sweep run on local worker processes (nn/sweep/pool.py): tasks biggest first, one per idle
worker; a Stop (``cancel``) ends the processes at once."""
from __future__ import annotations

import time
from typing import Any

from nn.data import Dataset
from nn.sweep.budget import Estimate
from nn.sweep.config import SweepConfig
from nn.sweep.plan import Task
from nn.sweep.pool import WorkerFailed, WorkerPool
from nn.sweep.running import SweepError, SweepRun
from nn.sweep.task import run_task


class LocalRun(SweepRun):
    """Tasks on local worker processes (nn/sweep/pool.py), biggest first, one per idle worker."""

    def __init__(self, sweep: SweepConfig, tasks: list[Task], est: Estimate, workers: int):
        super().__init__(sweep, tasks, est, f"{workers} local worker process(es)")
        self.pool = WorkerPool(workers)                       # they start while the data loads
        self.next = 0
        self.sweep_dict = sweep.to_dict()

    def start(self, data: Dataset) -> "LocalRun":
        self.pool.send_data(data)
        self._feed()
        return self

    def _feed(self) -> None:
        for w in self.pool.idle():
            if self.next >= len(self.tasks):
                return
            self.pool.submit(w, self.next, run_task, self.sweep_dict, self.tasks[self.next])
            self.next += 1

    def poll(self, timeout: float) -> list[dict[str, Any]] | None:
        deadline = time.monotonic() + timeout
        while not self.done:
            results = self._collect(max(0.0, deadline - time.monotonic()))
            self._feed()
            if results is not None or time.monotonic() >= deadline:
                return results
        return None

    def _collect(self, timeout: float) -> list[dict[str, Any]] | None:
        """The results of the tasks that finish within ``timeout`` (None if none did); notes
        the others' progress."""
        try:
            events = self.pool.events(timeout)
        except WorkerFailed as exc:
            raise SweepError(f"The sweep stopped: {exc}") from None
        results = None
        for kind, i, value in events:
            if kind == "progress":
                self._note(i, value)
            else:
                self._finish(i)
                results = (results or []) + value
        return results

    @property
    def pids(self) -> list[int]:
        return self.pool.pids

    def cancel(self) -> None:
        self.pool.close()
