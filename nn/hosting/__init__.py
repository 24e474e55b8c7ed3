"""The hosting mode and the server's limits, read from the environment.

A copy on one's own laptop runs with the defaults. The hosted demo sets ``NN_PUBLIC=1``: every
visitor is then a stranger, so nothing a visitor types may pick a server to talk to (the Sweep
page's Dask address is not offered; the operator's own cluster, if any, comes from
``NN_DASK_SCHEDULER``). The limits hold in both modes, so a laptop and the demo behave alike;
each can be changed by its environment variable (see README, "Hosting").

| variable                  | default   | what it bounds                                            |
|---------------------------|-----------|-----------------------------------------------------------|
| NN_PUBLIC                 | 0         | 1/true/yes: hosting mode                                  |
| NN_DASK_SCHEDULER         | (none)    | the operator's Dask cluster for sweeps                    |
| NN_MAX_PARAMS             | 5000000   | parameters of one model (built, trained or loaded)        |
| NN_MAX_MODEL_MB           | 64        | a model file, compressed and inflated                     |
| NN_JOB_SLOTS              | cores     | jobs computing at once on this server (others queue); a   |
|                           |           | sweep takes one per worker. Old name: NN_MAX_TRAINING_RUNS |
| NN_CLIENT_SLOTS           | slots / 2 | ... of which one client (address) may hold at once (when   |
|                           |           | not hosting: all; one person uses a laptop)                |
| NN_BUDGET_MB              | 1024      | memory of all visitors' jobs and kept data together        |
| NN_CLIENT_MB              | 512       | ... of which one client (all its tabs) may hold (when not  |
|                           |           | hosting: all of it)                                        |
| NN_MAX_JOB_MB             | 384       | one job (a run, a Step, an evaluation, a sweep)            |
| NN_HISTORY_MB             | 128       | a session's kept runs (the Train page's history: weights,  |
|                           |           | curves, settings), beside its count of runs               |
| NN_UPLOADS_MB             | 128       | uploaded files not yet read, all sessions together (each   |
|                           |           | session: one file of NN_MAX_MODEL_MB at most)              |
| NN_MAX_RUN_SECONDS        | 1200 / 0  | a visitor's run: longer estimates are capped or refused,   |
|                           |           | a run past it is ended (hosting mode 1200 s, else 0: none) |
| NN_MAX_SWEEP_SECONDS      | 600       | a sweep's estimated work, in seconds of one core          |
| NN_MAX_SWEEP_MEMORY_MB    | 2048      | a sweep's estimated peak memory, all workers together     |
| NN_MAX_WORKERS            | cores     | local worker processes of a sweep                         |
| NN_WORKER_NICE            | 5 / 0     | the niceness of job processes (hosting mode 5, else 0): the |
|                           |           | pages and the health endpoint get the CPU first            |

An uploaded table has its own limits (NN_MAX_TABLE_MB, NN_MAX_TABLE_ROWS, NN_MAX_TABLE_COLUMNS),
read by ``nn.data.tables.table_limits``.

The budget (``nn.runs.slots``) admits every job against an estimate of its memory and compute,
counted against the server's total and the client's share; a client is the address the proxy
forwards (X-Forwarded-For, X-Real-IP), else the socket's (``app.jobs.client_id``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from nn.core.blas_threads import cores

TRUE_WORDS = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Limits:
    public: bool = False
    dask_scheduler: str | None = None
    max_params: int = 5_000_000
    max_model_mb: int = 64
    max_training_runs: int = 2            # job slots (NN_JOB_SLOTS): cores by default
    client_slots: int = 1
    budget_mb: int = 1024
    client_mb: int = 512
    max_job_mb: int = 384
    history_mb: int = 128                 # a session's history of runs (app.train.run_history)
    uploads_mb: int = 128                 # uploads held unread, all sessions (app.uploads)
    max_run_seconds: float = 0.0          # 0: no limit
    max_sweep_seconds: float = 600.0
    max_sweep_memory_mb: int = 2048
    max_workers: int = 1
    worker_nice: int = 0                  # added to a job process's niceness (0 to 19)

    @property
    def max_model_bytes(self) -> int:
        return self.max_model_mb * 1024 * 1024

    @property
    def job_slots(self) -> int:
        return self.max_training_runs

    def describe(self) -> str:
        """The budget in one sentence, for the pages."""
        run = (f"; a run may take at most {self.max_run_seconds / 60:g} min"
               if self.max_run_seconds else "")
        return (f"This server computes {self.job_slots} job(s) at once ({self.client_slots} per "
                f"visitor) within {self.budget_mb} MB ({self.client_mb} MB per visitor, "
                f"{self.max_job_mb} MB per job){run}.")


class HostingConfigError(ValueError):
    """An environment variable of the hosting configuration is unreadable."""


def env_int(name: str, default: int, low: int = 1) -> int:
    """The whole number in environment variable ``name`` (``default`` when unset)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise HostingConfigError(f"{name} must be a whole number >= {low}; got {text!r}") from None
    if value < low:
        raise HostingConfigError(f"{name} must be a whole number >= {low}; got {value}")
    return value


def env_seconds(name: str, default: float) -> float:
    """Seconds in environment variable ``name``; 0 means no limit."""
    return float(env_int(name, int(default), low=0)) if os.environ.get(name, "").strip() else default


def limits() -> Limits:
    """The limits in force now (read from the environment on every call: it is cheap)."""
    n_cores = cores()
    public = os.environ.get("NN_PUBLIC", "").strip().lower() in TRUE_WORDS
    slots = env_int("NN_JOB_SLOTS", env_int("NN_MAX_TRAINING_RUNS", n_cores))
    budget = env_int("NN_BUDGET_MB", Limits.budget_mb)
    return Limits(
        public=public,
        dask_scheduler=os.environ.get("NN_DASK_SCHEDULER", "").strip() or None,
        max_params=env_int("NN_MAX_PARAMS", Limits.max_params),
        max_model_mb=env_int("NN_MAX_MODEL_MB", Limits.max_model_mb),
        max_training_runs=slots,
        client_slots=min(env_int("NN_CLIENT_SLOTS", max(1, slots // 2) if public else slots), slots),
        budget_mb=budget,
        client_mb=min(env_int("NN_CLIENT_MB", Limits.client_mb if public else budget), budget),
        max_job_mb=min(env_int("NN_MAX_JOB_MB", Limits.max_job_mb), budget),
        history_mb=env_int("NN_HISTORY_MB", Limits.history_mb),
        uploads_mb=env_int("NN_UPLOADS_MB", Limits.uploads_mb),
        max_run_seconds=env_seconds("NN_MAX_RUN_SECONDS", 1200.0 if public else 0.0),
        max_sweep_seconds=float(env_int("NN_MAX_SWEEP_SECONDS", int(Limits.max_sweep_seconds))),
        max_sweep_memory_mb=env_int("NN_MAX_SWEEP_MEMORY_MB", Limits.max_sweep_memory_mb),
        max_workers=min(env_int("NN_MAX_WORKERS", n_cores), n_cores),
        worker_nice=min(env_int("NN_WORKER_NICE", 5 if public else 0, low=0), 19),
    )
