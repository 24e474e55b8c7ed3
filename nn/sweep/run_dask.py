"""A sweep run on a Dask cluster: every task submitted at once, the data scattered once; a task
that fails there, or a cluster left without workers, ends the sweep with a ``SweepError``.
Results are unpickled here, so the cluster must be one you trust."""
from __future__ import annotations

import time
from typing import Any

from nn.core.settings import ConfigError
from nn.data import Dataset
from nn.runs.experiment import load_data
from nn.sweep.budget import Estimate
from nn.sweep.config import SweepConfig
from nn.sweep.dask_probe import connect
from nn.sweep.plan import Task, estimate, plan
from nn.sweep.running import SweepError, SweepRun
from nn.sweep.task import run_task


class DaskRun(SweepRun):
    """Tasks on a Dask cluster, submitted at once; a task that fails there ends the sweep."""

    def __init__(self, sweep: SweepConfig, address: str, client: Any, tasks: list[Task],
                 est: Estimate, data: Dataset):
        super().__init__(sweep, tasks, est, f"the Dask cluster at {address}")
        self.address, self.client = address, client
        try:
            [data_future] = client.scatter([data])
            sd = sweep.to_dict()
            self.futures = {client.submit(run_task, sd, t, data_future, pure=False): i
                            for i, t in enumerate(tasks)}
        except Exception as exc:        # e.g. workers that cannot unpickle the data: no ``nn``
            raise SweepError(self._cannot(exc)) from None
        self.pending = set(self.futures)

    def _cannot(self, exc: BaseException | str) -> str:
        return (f"The Dask cluster at {self.address} could not run the sweep's tasks "
                f"({type(exc).__name__ if not isinstance(exc, str) else 'status'}: {exc}). Its "
                "workers need this package (nn) and its dependencies installed.")

    def poll(self, timeout: float) -> list[dict[str, Any]] | None:
        if not self.pending:
            return None
        future = self._next_done(timeout)
        if future is None:
            return None
        self.pending.discard(future)
        if future.status != "finished":
            raise SweepError(self._cannot(future.exception() if future.status == "error"
                                          else future.status))
        self._finish(self.futures[future])
        return future.result()

    def _next_done(self, timeout: float) -> Any:
        """A finished future within ``timeout`` seconds, else None (SweepError if the cluster has
        no workers left)."""
        deadline = time.monotonic() + timeout
        while not (done := [f for f in self.pending if f.done()]):
            if time.monotonic() >= deadline:
                if not self.client.scheduler_info().get("workers"):
                    raise SweepError(f"The Dask cluster at {self.address} has no workers left; "
                                     "the sweep cannot finish.")
                return None
            time.sleep(0.05)
        return done[0]

    def cancel(self) -> None:
        if self.client is not None:
            try:
                self.client.cancel(list(self.pending))
            finally:
                self.client.close()
                self.client = None


def start_dask(sweep: SweepConfig, address: str) -> DaskRun:
    """The sweep started on the cluster at ``address``, planned for its threads and held to the
    budget (ConfigError: no scheduler there, no workers, or over the budget)."""
    client = connect(address)
    try:
        threads = _cluster_threads(client, address)
        tasks = plan(sweep, threads)
        est = estimate(sweep, threads, tasks).check()
        return DaskRun(sweep, address, client, tasks, est, load_data(sweep.run))
    except BaseException:
        client.close()
        raise


def _cluster_threads(client: Any, address: str, wait_seconds: float = 10.0) -> int:
    """Threads of the cluster's workers, waiting a little for the first worker to join."""
    try:
        client.wait_for_workers(1, timeout=wait_seconds)
    except (TimeoutError, OSError):
        raise ConfigError("scheduler", f"scheduler (--scheduler): the Dask cluster at {address!r} "
                                       f"has no workers (waited {wait_seconds:g} s)") from None
    return max(1, sum(client.nthreads().values()))
