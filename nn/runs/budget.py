"""What a visitor's job will cost, estimated from the decoded sizes before it starts.

Memory comes from the network's actual layer sizes (or a CNN's planned shapes), the batch and the
dataset's actual arrays (never a size a file declares); time from the epoch cost model in
``nn.runs.experiment``. The page asks ``nn.runs.slots.JOBS`` for room with ``need`` and holds a
run to ``fit_run`` (a run longer than the visitor's limit is capped, or refused in plain words).

Memory of a training run, beyond the (shared, cached) dataset:
- parameters, gradients, a chunk's gradients, the optimizer's state and the last good weights:
  ``PARAM_COPIES`` arrays of the parameters' size;
- one chunk of rows through the network: an MLP keeps three arrays per layer for each of two
  batch sizes (the last batch of an epoch differs); a CNN holds ``values_per_sample`` floats
  per row of a chunk (its workspace is bounded by ``WORKSPACE_BYTES`` per worker thread);
- a minibatch copy of the rows, the epoch's row order, and the test set's log-probabilities.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from nn.core.arch import ArchError, layers_from_blocks, parse_arch
from nn.core.batch_halves import HALVES
from nn.core.mlp import EVAL_CHUNK
from nn.core.sequential import WORKSPACE_BYTES, _values_per_sample, plan_shapes
from nn.core.training import GRAD_CHUNK, START_ROWS
from nn.core.config import RunConfig
from nn.runs import experiment
from nn.runs.experiment import (data_shape, estimate_config_epoch_seconds, input_shape_for,
                                layer_sizes_for)
from nn.runs.slots import MB, Need, mb

ITEM = 4                     # float32
PARAM_COPIES = 7             # params, grads, chunk grads, good copy, Adam's m and v, a spare
                             # (early stopping's best weights take it)
HALF_PARAM_COPIES = 3        # a large batch's halves' sums and pieces' gradients (nn.core.batch_halves),
                             # beyond the chunk grads above
CNN_WORKERS = 2              # a Sequential's worker threads (at most the cores; bounded here)
STEP_SECONDS = 0.5           # a Step's compute, at most
STEP_MB = 200                # a Step's memory, at most (it keeps every array to show it)
STEP_ROW_COPIES = 10         # a Step keeps Z, A, dZ, dA and the library's own pass per layer
# A Step estimated above either of these runs in a worker process (nn.views.inspect.step_worker)
# under a hard memory and CPU limit; below both (the moons' default: ~0.1 MB, ~0.1 ms) it stays
# in the server's process, where a click answers without a worker's ~30 ms start and transfer.
STEP_IN_PROCESS_MB = 32
STEP_IN_PROCESS_SECONDS = 0.1
STEP_WORKER_PARAM_COPIES = 8  # a worker's Step also holds the pickled weights and optimizer, both ways


@dataclass(frozen=True)
class RunEstimate:
    """A training run's estimated peak memory and time."""
    bytes: int
    epoch_seconds: float
    extra_seconds: float          # the start-up pass and the final evaluation

    def seconds(self, epochs: int) -> float:
        return self.epoch_seconds * epochs + self.extra_seconds


def _cnn_bytes(cfg: RunConfig, data: Any, batch: int, n_test: int) -> tuple[int, int]:
    """(parameters, bytes of one chunk of rows training and evaluating) of ``cfg.arch``."""
    _, classes, _, _ = data_shape(cfg, data)
    shape = input_shape_for(cfg, data)
    layers = layers_from_blocks(parse_arch(cfg.arch), classes, cfg.activation)
    shapes, n_params = plan_shapes(layers, shape)
    per_row = _values_per_sample(layers, shape, shapes) * ITEM
    rows = CNN_WORKERS * max(1, WORKSPACE_BYTES // per_row)
    return n_params, min(batch, rows) * per_row + min(n_test, rows) * per_row // 2


def _mlp_bytes(sizes: Sequence[int], batch: int, n_test: int) -> tuple[int, int]:
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    rows = min(batch, GRAD_CHUNK)
    work = 2 * rows * 3 * sum(sizes[1:]) * ITEM
    evaluate = min(n_test, EVAL_CHUNK) * 3 * max(sizes[1:]) * ITEM
    return params, work + evaluate


def run_estimate(cfg: RunConfig, data: Any = None) -> RunEstimate:
    """Peak bytes and seconds of training ``cfg`` on ``data`` (its actual arrays if given)."""
    features, classes, n_train, n_test = data_shape(cfg, data)
    batch = n_train if cfg.batch_size == "full" else min(int(cfg.batch_size), max(n_train, 1))
    try:
        params, work = (_cnn_bytes(cfg, data, batch, n_test) if cfg.arch else
                        _mlp_bytes(layer_sizes_for(cfg, data), batch, n_test))
    except (ArchError, ValueError):
        params, work = 0, 0
    rows = (batch * features * ITEM if batch < n_train else 0) + n_train * 16 + n_test * classes * ITEM
    if batch >= n_train > GRAD_CHUNK:     # a full batch: its uint8 pixels and a piece's floats per half
        rows += n_train * features + HALVES * GRAD_CHUNK * features * ITEM      # (Trainer, batch_halves)
    copies = PARAM_COPIES + (HALF_PARAM_COPIES if batch > GRAD_CHUNK else 0)
    nbytes = copies * params * ITEM + work + rows
    if cfg.dtype == "float64":       # every array twice as wide, and the (float32) data copied to it
        nbytes = 2 * nbytes + (n_train + n_test) * features * 8
    epoch = estimate_config_epoch_seconds(cfg, data)
    epoch = epoch if math.isfinite(epoch) else math.inf
    per_row = _forward_seconds_per_row(cfg, data, epoch, n_train, n_test)
    return RunEstimate(int(nbytes), epoch, per_row * (min(n_train, START_ROWS) + n_test))


def _forward_seconds_per_row(cfg: RunConfig, data: Any, epoch: float, n_train: int, n_test: int) -> float:
    """About a forward pass's share of an epoch, per row (a training row costs about 3)."""
    rows = 3 * n_train + n_test
    return epoch / rows if rows else 0.0


def need(cfg: RunConfig, data: Any, client: str, what: str = "this training run") -> Need:
    return Need(1, run_estimate(cfg, data).bytes, client, what)


def fit_run(cfg: RunConfig, data: Any, epochs: int, max_seconds: float) -> tuple[int, str | None]:
    """The epochs a visitor's run may train within ``max_seconds`` (0: no limit) and why it
    was capped; ValueError in plain words when not even one epoch fits."""
    est = run_estimate(cfg, data)
    if not max_seconds or est.seconds(epochs) <= max_seconds:
        return epochs, None
    limit = _duration(max_seconds)
    one = est.seconds(1)
    if one > max_seconds:
        raise ValueError(f"One epoch of this network would take about {_duration(one)} on this "
                         f"server; a run may take at most {limit}. Use a smaller network, fewer "
                         f"filters or fewer samples.")
    fit = max(1, int((max_seconds - est.extra_seconds) // max(est.epoch_seconds, 1e-9)))
    return fit, (f"{epochs:,} epochs would take about {_duration(est.seconds(epochs))}; a run on "
                 f"this server may take at most {limit}, so this one trains {fit:,} epochs "
                 f"(press Continue for more).")


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"


# --- Step through backprop ------------------------------------------------------------------------
def step_row_bytes(layer_sizes: Sequence[int]) -> int:
    """Bytes a Step holds per row of its minibatch (inputs, and every layer's arrays)."""
    return ITEM * (layer_sizes[0] + STEP_ROW_COPIES * sum(layer_sizes[1:]))


def step_batch(layer_sizes: Sequence[int], batch: int, max_bytes: int | None = None,
               flops_per_second: float | None = None) -> int:
    """The rows a Step may take: at most ``batch``, within ``max_bytes`` (default STEP_MB) and
    ``STEP_SECONDS`` of compute (a Step only needs one minibatch)."""
    max_bytes = STEP_MB * MB if max_bytes is None else max_bytes
    params = sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    by_memory = (max_bytes - 6 * params * ITEM) // step_row_bytes(layer_sizes)
    flops = 4 * 2 * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))  # 2 passes
    rate = (flops_per_second or experiment.matmul_flops_per_second()) * 0.25
    by_time = STEP_SECONDS * rate // max(flops, 1)
    return int(max(1, min(batch, by_memory, by_time)))


def step_bytes(layer_sizes: Sequence[int], rows: int) -> int:
    params = sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    return 6 * params * ITEM + rows * step_row_bytes(layer_sizes)


def step_seconds(layer_sizes: Sequence[int], rows: int, flops_per_second: float | None = None) -> float:
    """A Step's estimated compute: a training pass and the view's own, at a quarter of the
    measured matmul rate (as ``step_batch``)."""
    flops = 4 * 2 * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])) * rows
    return flops / ((flops_per_second or experiment.matmul_flops_per_second()) * 0.25)


def step_in_worker(layer_sizes: Sequence[int], rows: int) -> bool:
    """Whether a Step of ``rows`` rows runs in a worker process (see ``STEP_IN_PROCESS_MB``)."""
    return (step_bytes(layer_sizes, rows) > STEP_IN_PROCESS_MB * MB
            or step_seconds(layer_sizes, rows) > STEP_IN_PROCESS_SECONDS)


def step_worker_bytes(layer_sizes: Sequence[int], rows: int) -> int:
    """A worker's memory for a Step, beyond the arrays it is sent."""
    params = sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    return step_bytes(layer_sizes, rows) + STEP_WORKER_PARAM_COPIES * params * ITEM


def step_cpu_seconds(layer_sizes: Sequence[int], rows: int) -> float:
    """A worker's CPU time limit for a Step: far above its estimate (a busy moment's slow
    probe), yet an end to a Step gone wrong."""
    return 10.0 + 20 * step_seconds(layer_sizes, rows)


def describe_need(n: Need) -> str:
    return f"{n.what}: about {mb(n.bytes)}"
