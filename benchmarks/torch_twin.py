"""A PyTorch twin of an nn network and recipe, for the benchmarks that time nn against PyTorch on
the CPU (bench_cnn.py, bench_time_to_accuracy.py): the same layers in the same order (built from
nn's own ``build_network`` of the architecture text), weights drawn from the same distributions
as ``nn.core.init``, the same learning-rate schedule (nn's ``onecycle_lr`` per step, cosine per
epoch), label smoothing, augmentation (``nn.data.augment`` on the NumPy batches) and test-time
augmentation (``nn.core.tta``'s shifted copies, averaged in the log domain).

PyTorch (not in requirements.txt) is needed by the functions that build or train; the
schedules (``epoch_lr``, ``step_lr``) work without it.
"""
from __future__ import annotations

import copy
import math
import time
from typing import Any, Callable

import numpy as np

try:
    import torch
except ImportError:                  # the schedules still work; the rest needs PyTorch
    torch = None

from nn.core import build_network
from nn.core.layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D
from nn.core.training import onecycle_lr
from nn.core.tta import SHIFTS, shifted

def epoch_lr(preset: dict, epoch: int, epochs: int) -> float:
    """The rate of epoch ``epoch`` (from 0) of ``epochs``: lr (1 + cos(pi e / E)) / 2 for
    "cosine" (as ``nn.Trainer.epoch_lr``), else lr."""
    lr = preset["lr"]
    if preset.get("lr_schedule") == "cosine":
        return lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    return lr


def step_lr(preset: dict, epoch: int, epochs: int, step: int, steps: int) -> float:
    """The rate of step ``step`` (from 0) of ``steps`` in all: nn's ``onecycle_lr`` for
    "onecycle" (as ``nn.Trainer.step_lr``), else the epoch's rate."""
    if preset.get("lr_schedule") == "onecycle":
        return onecycle_lr(preset["lr"], step, steps)
    return epoch_lr(preset, epoch, epochs)


def torch_network(preset: dict, input_shape: tuple[int, int, int], n_classes: int) -> torch.nn.Sequential:
    """nn's network of ``preset["arch"]`` layer for layer, in PyTorch, initialised as nn does."""
    net = build_network(preset["arch"], input_shape, n_classes, activation=preset["activation"])
    modules, channels = [], input_shape[0]
    for layer, out in zip(net.layers, net.shapes):    # nn's output shapes: (H, W, C) or (units,)
        modules.append(_module(layer, channels, len(out) == 3))
        channels = out[-1] if not isinstance(layer, Flatten) else int(np.prod(out))
    model = torch.nn.Sequential(*modules)
    init_like_nn(model, preset.get("init", "he"))
    return model


def _module(layer: Any, channels: int, image: bool) -> torch.nn.Module:
    """The PyTorch module of one nn layer reading ``channels`` channels (or features)."""
    if isinstance(layer, Conv2D):
        return torch.nn.Conv2d(channels, layer.filters, layer.kernel, layer.stride, layer.padding)
    if isinstance(layer, BatchNorm):       # nn's momentum 0.1 and eps 1e-5 are PyTorch's defaults
        cls = torch.nn.BatchNorm2d if image else torch.nn.BatchNorm1d
        return cls(channels, eps=BatchNorm.EPS, momentum=BatchNorm.MOMENTUM)
    if isinstance(layer, MaxPool2D):
        return torch.nn.MaxPool2d(layer.size, layer.stride)
    if isinstance(layer, Flatten):
        return torch.nn.Flatten()
    if isinstance(layer, Dense):
        return torch.nn.Linear(channels, layer.units)
    if isinstance(layer, Dropout):
        return torch.nn.Dropout(layer.rate)
    return {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[layer.kind]()


def init_like_nn(model: torch.nn.Module, scheme: str) -> None:
    """Weights from nn.core.init's distributions, biases 0: "he" N(0, 2 / fan_in); "xavier"
    U(-a, a), a = sqrt(6 / (fan_in + fan_out)); fan = channels x kernel area for a convolution.
    BatchNorm keeps gamma = 1, beta = 0 (nn's too)."""
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(m.weight)
            with torch.no_grad():
                if scheme == "he":
                    m.weight.normal_(0.0, math.sqrt(2.0 / fan_in))
                else:
                    limit = math.sqrt(6.0 / (fan_in + fan_out))
                    m.weight.uniform_(-limit, limit)
                m.bias.zero_()


def make_optimizer(preset: dict, model: torch.nn.Module) -> torch.optim.Optimizer:
    """nn's optimizer: Adam with nn's betas (0.9, 0.999) and eps 1e-7, or momentum SGD (0.9).
    Two forms differ slightly: nn's Adam adds eps to sqrt(v), PyTorch's to sqrt(v / (1 - b2^t))
    (the same update with eps / sqrt(1 - b2^t): negligible at 1e-7); nn's momentum is
    v = mu v - lr g, PyTorch's b = mu b + g, w -= lr b (the same while lr is constant)."""
    if preset["optimizer"] == "adam":
        return torch.optim.Adam(model.parameters(), lr=preset["lr"], betas=(0.9, 0.999), eps=1e-7)
    if preset["optimizer"] == "momentum":
        return torch.optim.SGD(model.parameters(), lr=preset["lr"], momentum=preset.get("momentum", 0.9))
    return torch.optim.SGD(model.parameters(), lr=preset["lr"])


def train_torch(model: torch.nn.Module, preset: dict, X: np.ndarray, y: np.ndarray, epochs: int,
                seed: int, augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None
                ) -> list[float]:
    """Train ``model`` on the rows X (flat 1x28x28 images) as nn.Trainer trains: shuffled
    batches, the rate set per step, label smoothing, ``augment`` applied to each NumPy batch.
    Returns the seconds of each epoch (training only)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 3])           # the augmentation's draws
    opt = make_optimizer(preset, model)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=preset.get("label_smoothing", 0.0))
    bs, n = preset["batch_size"], len(X)
    steps_per_epoch = math.ceil(n / bs)
    labels = torch.from_numpy(y.astype(np.int64))
    shape = (-1, 1, 28, 28)
    warm_up(model, torch.from_numpy(X[:bs].reshape(shape).copy()), labels[:bs], loss_fn)
    times, step = [], 0
    for epoch in range(epochs):
        model.train()
        t = time.perf_counter()
        order = np.random.default_rng([seed, 1, epoch]).permutation(n)
        for start in range(0, n, bs):
            rows = order[start:start + bs]
            Xb = X[rows] if augment is None else augment(X[rows], rng)
            for group in opt.param_groups:
                group["lr"] = step_lr(preset, epoch, epochs, step, epochs * steps_per_epoch)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(torch.from_numpy(Xb.reshape(shape))), labels[rows])
            loss.backward()
            opt.step()
            step += 1
        times.append(time.perf_counter() - t)
    return times


def warm_up(model: torch.nn.Module, Xb: torch.Tensor, yb: torch.Tensor, loss_fn: Callable) -> None:
    """One untimed forward and backward pass of a copy of ``model`` (PyTorch's first passes
    build its kernels: about 1 s; nn's trainer likewise makes an untimed pass before training)."""
    twin = copy.deepcopy(model)
    twin.train()
    loss_fn(twin(Xb), yb).backward()


def tta_accuracy(model: torch.nn.Module, X: np.ndarray, y: np.ndarray, copies: int = 1,
                 image_shape: tuple[int, int, int] = (1, 28, 28), piece: int = 2000) -> float:
    """Test accuracy of log (1/N sum_k softmax(f(shift_k(X)))) over the first N = ``copies`` of
    ``nn.core.tta.SHIFTS`` (as ``nn.core.tta.tta_log_proba``); the plain prediction for N = 1.
    Read ``piece`` rows at a time."""
    model.eval()
    right = 0
    with torch.no_grad():
        for start in range(0, len(X), piece):
            right += int((_tta_log_proba(model, X[start:start + piece], copies, image_shape).argmax(1).numpy()
                          == y[start:start + piece]).sum())
    return right / len(X)


def _tta_log_proba(model: torch.nn.Module, X: np.ndarray, copies: int,
                   image_shape: tuple[int, int, int]) -> torch.Tensor:
    """log sum_k softmax(f(shift_k(X))), summed in the log domain (- log N: the same argmax)."""
    total = None
    for dy, dx in SHIFTS[:copies]:
        rows = np.ascontiguousarray(shifted(X, image_shape, dy, dx))
        logp = torch.log_softmax(model(torch.from_numpy(rows.reshape(-1, *image_shape))), 1)
        total = logp if total is None else torch.logaddexp(total, logp)
    return total
