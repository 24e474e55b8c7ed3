"""A ``Trainer``'s run in a worker process (``nn.hosting.isolated``), followed from this one.

``run_isolated(trainer, epochs, ...)`` behaves like ``trainer.run(epochs)`` — it yields the same
records, raises ``TrainingDiverged`` the same way, and leaves the trainer (optimizer state, row
order, random generator, history) exactly where an in-process run would — but the steps run in a
child process with hard memory and CPU limits:

- the child gets the trainer without its data (pickled, a few MB at most) and the data as raw
  arrays, and sends back each record with the weights of that moment (the live view draws them);
- ``trainer.stop()``, its ``deadline`` or ``also_stop`` (a click, a closed tab) send the child a
  stop; it ends within a piece of work (``nn.core.training.CHUNK_SECONDS``) and sends its state;
- at the end the trainer takes the child's state (``Trainer.take_state``). A child that does not
  answer within ``STOP_WAIT`` is killed; the trainer then keeps the last record's weights.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from nn.core.training import Record, Trainer, TrainingDiverged, log_proba_in_pieces
from nn.hosting.isolated import Channel, IsolatedJob, JobFailed

STOP_WAIT = 0.8              # seconds a stopped child may take to send its state back
POLL = 0.05                  # seconds between stop checks while waiting for the child


@dataclass(frozen=True)
class JobLimits:
    """A run's worker: its memory estimate beyond the data, CPU seconds (None: no limit) and
    BLAS threads."""
    memory_bytes: int
    cpu_seconds: float | None = None
    blas_threads: int = 1


def _train_task(channel: Channel, payload: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """In the child: train, sending ("record", (record, params, buffers)); return the trainer's state."""
    trainer: Trainer = payload["trainer"]
    trainer.attach(arrays["X"], arrays["y"], arrays.get("X_val"), arrays.get("y_val"))
    trainer.also_stop = channel.stop_requested
    if payload["seconds"] is not None:
        trainer.deadline = time.perf_counter() + payload["seconds"]
    diverged = None
    try:
        for record in trainer.run(payload["epochs"]):
            channel.send("record", (record, trainer.model.params, getattr(trainer.model, "buffers", [])))
    except TrainingDiverged as exc:
        diverged = str(exc)
    test_logp = None
    if payload["evaluate"] and not channel.stopped and not trainer.out_of_time and trainer.X_val is not None:
        test_logp = _test_log_proba(trainer, channel)
    return {"trainer": trainer, "diverged": diverged, "test_logp": test_logp}


def _test_log_proba(trainer: Trainer, channel: Channel) -> np.ndarray | None:
    """The test set's log-probabilities for the final view (None if told to stop first)."""
    parts = []
    try:
        for _, logp in log_proba_in_pieces(trainer.model, trainer.X_val, channel.stop_requested, trainer.pacer,
                                           trainer.config.tta):
            parts.append(logp)
    except Exception:               # EvaluationStopped, or anything: the page evaluates itself
        return None
    return np.concatenate(parts) if parts else None


def data_bytes(trainer: Trainer) -> int:
    """Bytes of the data a child receives (it holds its own copy)."""
    return sum(a.nbytes for a in (trainer.X, trainer.y, trainer.X_val, trainer.y_val) if a is not None)


def run_isolated(trainer: Trainer, epochs: int, *, memory_bytes: int, cpu_seconds: float | None = None,
                 blas_threads: int = 1, evaluate: bool = True,
                 on_test_logp: Callable[[np.ndarray], None] = lambda logp: None) -> Iterator[Record]:
    """Train ``epochs`` more epochs in a worker (see the module's docstring), yielding records.
    ``memory_bytes``: the job's estimate beyond its data (the child's limit adds the data);
    ``on_test_logp`` gets the test set's log-probabilities when a run ends by finishing."""
    seconds = None if trainer.deadline is None else max(trainer.deadline - time.perf_counter(), 0.0)
    payload = {"trainer": trainer, "epochs": int(epochs), "seconds": seconds, "evaluate": evaluate}
    arrays = {"X": trainer.X, "y": trainer.y, "X_val": trainer.X_val, "y_val": trainer.y_val}
    trainer._stop = trainer.out_of_time = False
    trainer.after_early_stop()                  # here too: a child that never answers leaves it so
    with IsolatedJob(_train_task, payload, arrays, memory_bytes + data_bytes(trainer), cpu_seconds,
                     blas_threads, what="this training run") as job:
        try:
            while not job.finished and not trainer._stop_requested():
                for kind, value in job.messages(POLL):
                    if kind == "record":
                        _follow(trainer, *value)
                        yield value[0]
        finally:        # also when the caller stops listening (a rerun closes this generator)
            diverged = _settle(job, trainer, on_test_logp)
    if diverged:
        raise TrainingDiverged(diverged)


def _settle(job: IsolatedJob, trainer: Trainer, on_test_logp: Callable[[np.ndarray], None]) -> str | None:
    """Take the child's final state (asking it to stop first if it still runs, and waiting at
    most ``STOP_WAIT``); return its divergence message, if any. Without an answer in time the
    trainer keeps what the records brought (the child is killed on leaving)."""
    if job.failed:
        return None
    if not job.finished:
        job.stop()
        end = time.perf_counter() + STOP_WAIT
        while not job.finished and time.perf_counter() < end:
            for kind, value in job.messages(POLL):
                if kind == "record":
                    _follow(trainer, *value)
    if not job.finished:
        return None
    result, out_of_time = job.result, trainer.out_of_time     # this side's deadline may come first
    trainer.take_state(result["trainer"])
    trainer.out_of_time = trainer.out_of_time or out_of_time
    if result["test_logp"] is not None:
        on_test_logp(result["test_logp"])
    trainer.diverged = result["diverged"] or trainer.diverged
    return result["diverged"]


def _follow(trainer: Trainer, record: Record, params: list[np.ndarray], buffers: list[np.ndarray]) -> None:
    """This process's trainer as of ``record``: its weights (and BatchNorm's running statistics),
    history and counters (enough for the live view and for a run that has to end without the
    child's state)."""
    trainer.model.copy_params_from(params)
    if buffers:
        trainer.model.copy_buffers_from(buffers)
    trainer.history.append(record)
    trainer.epochs_done = int(math.floor(record["epoch"]))
    trainer.steps_done, trainer.seconds = int(record["step"]), float(record["seconds"])
    trainer._order = None           # without the child's state, the next run starts an epoch
    trainer._keep_good_weights()


__all__ = ["run_isolated", "data_bytes", "JobFailed", "JobLimits", "STOP_WAIT"]
