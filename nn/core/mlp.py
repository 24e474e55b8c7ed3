"""The multilayer perceptron: dense layers (``nn.core.layers.Dense``), a hidden activation
(``nn.core.activations``), softmax output (or, for regression, one linear output trained on the
mean squared error), and a training step that reuses its buffers."""
from __future__ import annotations

import copy
import threading
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from nn.core.activations import get_activation
from nn.core.classifier import Classifier
from nn.core.dtypes import check_dtype
from nn.core.flat import for_pickle, from_pickle, packed
from nn.core.init import check_init, init_rng
from nn.core.layers import Dense
from nn.core.losses import mean_squared_error_grad, softmax_cross_entropy_grad
from nn.core.row_blocks import block_rows
from nn.core.settings import TASKS

MAX_LAYER_SIZE = 100_000
# Rows per forward pass at inference (evaluate, predict...): bounds the memory of the activations
# (one chunk's, not the whole set's) and lets a caller stop between chunks, so a Stop never waits
# for a whole test set through a big network.
EVAL_CHUNK = 2048


class EvaluationStopped(Exception):
    """A chunked forward pass was told to stop (``should_stop`` returned True between chunks)."""


def validate_layer_sizes(layer_sizes: Sequence[int], task: str = "classification") -> list[int]:
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least an input and an output size; got {sizes}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= MAX_LAYER_SIZE:
            raise ValueError(f"layer sizes must be whole numbers from 1 to {MAX_LAYER_SIZE}; got {sizes}")
    if task == "regression" and sizes[-1] != 1:
        raise ValueError(f"a regression network has one output; got {sizes[-1]}")
    if task != "regression" and sizes[-1] < 2:
        raise ValueError(f"the output layer needs at least 2 classes; got {sizes[-1]}")
    return [int(s) for s in sizes]


class _Workspace:
    """Preallocated activations for one batch size, reused every step of training: each dense
    layer's output Z, each hidden layer's A = f(Z), and the gradient of each layer's input
    (``dX[0]`` None: the inputs need none)."""

    def __init__(self, n: int, layer_sizes: list[int], dtype: np.dtype) -> None:
        self.Z = [np.empty((n, s), dtype) for s in layer_sizes[1:]]
        self.A = [np.empty((n, s), dtype) for s in layer_sizes[1:-1]]
        self.dX = [None, *(np.empty((n, s), dtype) for s in layer_sizes[1:-1])]


class MLP(Classifier):
    """A multilayer perceptron with softmax output.

    ``layer_sizes`` lists the input size, the hidden sizes and the number of classes:
    ``MLP([784, 128, 10])``; with ``task="regression"`` one linear output, ``MLP([2, 8, 1],
    task="regression")``. ``layers`` are the ``Dense`` layers, one a weight matrix, and
    ``params`` their parameters (the same arrays): ``[W1, b1, W2, b2, ...]`` with W of shape
    (fan_in, fan_out) and b of shape (fan_out,).
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str = "relu", init: str = "he",
                 seed: int = 0, dtype: str = "float32", task: str = "classification") -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
        self.task = task
        self.layer_sizes = validate_layer_sizes(layer_sizes, task)
        self.act = get_activation(activation)
        self.activation, self.init, self.seed = activation, check_init(init), int(seed)
        self.dtype = check_dtype(dtype)
        self.layers = [Dense(units) for units in self.layer_sizes[1:]]
        rng = init_rng(init, self.seed)              # layer by layer (nn.core.init), as Sequential
        for layer, fan_in in zip(self.layers, self.layer_sizes):
            layer.build((fan_in,), rng, self.dtype, init)
        self.params: list[np.ndarray] = []
        self._pack()
        self.meta: dict[str, Any] = {}          # dataset, preprocessing, history: set by the trainer
        self._workspaces: dict[tuple[int, int], _Workspace] = {}     # by (rows, thread)

    def __repr__(self) -> str:
        task = ", task='regression'" if self.task == "regression" else ""
        return f"MLP({self.layer_sizes}, activation={self.activation!r}, init={self.init!r}{task})"

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params)

    # --- inference -------------------------------------------------------------------------
    def _forward(self, A: np.ndarray) -> np.ndarray:
        *hidden, last = self.layers
        for layer in hidden:
            Z, _ = layer.forward(A)
            A = self.act.forward(Z, out=Z)
        return last.forward(A)[0]

    def logit_chunks(self, X: np.ndarray, should_stop: Callable[[], bool] | None = None
                     ) -> Iterator[np.ndarray]:
        """The logits of ``X``, ``EVAL_CHUNK`` rows at a time; raises ``EvaluationStopped`` when
        ``should_stop()`` turns True between two chunks."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"expected input of shape (n, {self.layer_sizes[0]}); got {X.shape}")
        for start in range(0, max(len(X), 1), EVAL_CHUNK):
            if should_stop is not None and should_stop():
                raise EvaluationStopped
            yield self._forward(np.asarray(X[start:start + EVAL_CHUNK], dtype=self.dtype))

    # --- training --------------------------------------------------------------------------
    def loss_and_grads(self, X: np.ndarray, y: np.ndarray,
                       out: list[np.ndarray] | None = None) -> tuple[float, list[np.ndarray]]:
        """Mean cross-entropy (regression: squared error) on (X, y) and its gradients, aligned with ``params``.

        With ``out`` (arrays shaped like ``params``) the gradients are written there and the
        forward pass reuses preallocated buffers: the training loop's allocation-free path.
        """
        grads = out if out is not None else [np.empty_like(p) for p in self.params]
        loss, _ = self.train_step_grads(X, y, grads, reuse_buffers=out is not None)
        return loss, grads

    def train_step_grads(self, X: np.ndarray, y: np.ndarray, grads: list[np.ndarray],
                         reuse_buffers: bool = True, label_smoothing: float = 0.0,
                         report: str = "cross_entropy", blocked: bool = False) -> tuple[float, int]:
        """Forward and backward pass writing gradients into ``grads``;
        returns (mean loss, number of rows predicted correctly; 0 for regression).
        ``label_smoothing``: see ``nn.core.losses.softmax_cross_entropy_grad`` (classes only);
        ``report``: the loss a classifier returns (nn.core.losses.REPORTED_LOSSES);
        ``blocked``: a narrow layer's products with many rows in row blocks (nn.core.row_blocks:
        the same sums, grouped otherwise; the large-batch path of ``nn.Trainer``)."""
        X = np.asarray(X, dtype=self.dtype)
        y = np.asarray(y)
        ws = self._workspace(len(X)) if reuse_buffers else _Workspace(len(X), self.layer_sizes, self.dtype)
        rows = [block_rows(len(X), a, b) if blocked else None
                for a, b in zip(self.layer_sizes[:-1], self.layer_sizes[1:])]
        # forward: Z_i = A_{i-1} W_i + b_i,  A_i = f(Z_i)
        A = X
        for i, layer in enumerate(self.layers):
            Z, _ = layer.forward(A, out=ws.Z[i], rows=rows[i])
            if i < len(ws.A):
                A = self.act.forward(Z, out=ws.A[i])
        if self.task == "regression":     # dZ_L = 2 (Z_L - y) / n, in place of Z_L (losses)
            n_correct = 0
            loss, dZ = mean_squared_error_grad(ws.Z[-1], y)
        else:
            n_correct = int(np.count_nonzero(ws.Z[-1].argmax(axis=1) == y))
            # output: dZ_L = (softmax(Z_L) - q) / n, in place of Z_L (q: the smoothed onehot(y))
            loss, dZ = softmax_cross_entropy_grad(ws.Z[-1], y, label_smoothing, report)
        for i in reversed(range(len(self.layers))):
            # dW_i = A_{i-1}^T dZ_i,  db_i = 1^T dZ_i,  dA_{i-1} = dZ_i W_i^T
            dA = self.layers[i].backward(dZ, X if i == 0 else ws.A[i - 1], grads[2 * i:2 * i + 2],
                                         need_dx=i > 0, out=ws.dX[i], rows=rows[i])
            if i > 0:
                dZ = self.act.backward(dA, ws.Z[i - 1], ws.A[i - 1], out=dA)   # dZ_{i-1} = dA * f'(Z)
        return loss, n_correct

    def _workspace(self, n: int) -> _Workspace:
        """This thread's buffers for ``n`` rows (a full batch's halves run on two threads at
        once: nn.Trainer)."""
        key = (n, threading.get_ident())
        ws = self._workspaces.get(key)
        if ws is None:
            if len(self._workspaces) > 4:      # batch sizes come and go: keep a few
                self._workspaces.clear()
            ws = self._workspaces[key] = _Workspace(n, self.layer_sizes, self.dtype)
        return ws

    # --- pickling (to a worker process and back; files: nn.save) ------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a worker process and back) without the batch buffers: they are rebuilt.
        The parameters go as their one buffer (``nn.core.flat.for_pickle``), the layers without
        their views of it."""
        layers = [copy.copy(layer) for layer in self.layers]
        for layer in layers:
            layer.params = []
        return {**self.__dict__, "_workspaces": {}, "layers": layers, "params": for_pickle(self.params)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind(from_pickle(self.params))

    def __copy__(self) -> "MLP":
        """A shallow copy sharing the layers and parameters, as ``copy.copy`` means. (Through
        ``__setstate__`` it would pack new parameters and rebind the shared layers' to them,
        leaving this model's ``params`` apart from the arrays its layers compute with.)"""
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        return out

    def _pack(self) -> None:
        """``params`` (and each layer's) as views of one flat buffer (``nn.core.flat``): the
        optimizer then updates them all in one NumPy call per pass."""
        self._bind(packed([p for layer in self.layers for p in layer.params]))

    def _bind(self, params: list[np.ndarray]) -> None:
        """``params`` become the model's and, two by two (W, b), its layers'."""
        self.params = params
        for k, layer in enumerate(self.layers):
            layer.params = params[2 * k:2 * k + 2]

    def copy_params_from(self, params: Sequence[np.ndarray]) -> None:
        for dst, src in zip(self.params, params, strict=True):
            np.copyto(dst, src)

