"""A Step through backprop in a worker process (``nn.hosting.isolated``), for Steps too big to run
in the server's own process (``nn.runs.budget.step_in_worker``).

The worker gets the model's weights and the optimizer's state (pickled, without the model's
buffers) and the batch's rows as raw arrays (the rows themselves when they are small, else the
whole ``X`` and the row numbers: no copy in this process), runs ``one_step`` exactly as the
stepper would, and sends back the new weights, the optimizer's state and the step's compact view
(``BackpropStep.compact``: what the page shows, nothing that grows with the network's width). The
model, the optimizer and the stepper's place in its batches change only when the worker
succeeds; ``JobFailed`` (out of its memory or CPU time) or ``JobStopped`` (``should_stop``)
leave them as they were.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from nn.core.optimizers import Optimizer
from nn.hosting.isolated import Channel, IsolatedJob, JobFailed, JobStopped

from nn.views.inspect.backprop import BackpropStep, BackpropStepper, one_step

COPY_BYTES = 16 * 2**20     # a batch up to this size is copied and sent; a bigger one is read
POLL = 0.05                 # seconds between two stop checks while the worker steps


def _step_task(channel: Channel, payload: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """In the worker: one step on the batch; the new weights, optimizer and compact view."""
    model, optimizer = payload["model"], payload["optimizer"]
    X, rows = arrays.pop("X"), arrays.pop("rows", None)
    Xb = X if rows is None else X[rows]
    del X
    arrays.clear()
    view = one_step(model, Xb, payload["y"], optimizer, payload["sample"], payload["step"])
    return {"params": model.params, "optimizer": optimizer, "view": view.compact()}


def _light(model: Any) -> Any:
    """The model without its batch buffers and metadata (what a step needs: weights, settings)."""
    out = copy.copy(model)
    out._workspaces, out.meta = {}, {}
    return out


def batch_arrays(stepper: BackpropStepper, rows: np.ndarray) -> dict[str, np.ndarray]:
    """What the worker needs of ``X`` for ``rows``: the whole ``X`` (a full batch in order), the
    rows copied (up to ``COPY_BYTES``), or the whole ``X`` and the row numbers."""
    X = stepper.X
    if len(rows) == len(X):                  # a full batch: every row, in order
        return {"X": X}
    if len(rows) * X[:1].nbytes <= COPY_BYTES:
        return {"X": X[rows]}
    return {"X": X, "rows": rows}


def _take_optimizer(mine: Optimizer, theirs: Optimizer) -> None:
    """``mine`` becomes ``theirs`` (its state arrays written into mine: the same objects stay)."""
    for name, value in vars(theirs).items():
        old = getattr(mine, name, None)
        if (isinstance(old, list) and isinstance(value, list) and len(old) == len(value)
                and all(isinstance(a, np.ndarray) and a.shape == b.shape for a, b in zip(old, value))):
            for a, b in zip(old, value):
                np.copyto(a, b)
        else:
            setattr(mine, name, value)


def step_in_worker(stepper: BackpropStepper, sample: int = 0, *, memory_bytes: int,
                   cpu_seconds: float | None = None, blas_threads: int = 1,
                   should_stop: Callable[[], bool] = lambda: False) -> BackpropStep:
    """``stepper.step(sample).compact()``, computed in a worker process with ``memory_bytes``
    (beyond what it is sent) and ``cpu_seconds``; see the module's docstring."""
    place = stepper.position()
    rows = stepper.next_rows()
    if not 0 <= sample < len(rows):
        stepper.restore(place)
        raise ValueError(f"sample must be a row of the batch, from 0 to {len(rows) - 1}; got {sample}")
    arrays = batch_arrays(stepper, rows)
    payload = {"model": _light(stepper.model), "optimizer": stepper.optimizer, "y": stepper.y[rows],
               "sample": int(sample), "step": stepper.steps + 1}
    sent = sum(a.nbytes for a in arrays.values())
    try:
        result = _run(payload, arrays, memory_bytes + sent, cpu_seconds, blas_threads, should_stop)
    except BaseException:
        stepper.restore(place)              # a step that did not happen
        raise
    stepper.model.copy_params_from(result["params"])
    _take_optimizer(stepper.optimizer, result["optimizer"])
    stepper.steps += 1
    return result["view"]


def _run(payload: dict[str, Any], arrays: dict[str, np.ndarray], memory_bytes: int,
         cpu_seconds: float | None, blas_threads: int, should_stop: Callable[[], bool]) -> dict[str, Any]:
    with IsolatedJob(_step_task, payload, arrays, memory_bytes, cpu_seconds, blas_threads,
                     what="this Step") as job:
        while True:
            for kind, value in job.messages(POLL):
                if kind == "result":
                    return value
            if should_stop():
                raise JobStopped("this Step")


__all__ = ["step_in_worker", "batch_arrays", "JobFailed", "JobStopped"]
