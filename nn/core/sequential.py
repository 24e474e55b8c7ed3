"""A network as a list of layers, with ``nn.MLP``'s public contract so ``nn.Trainer`` drives it.

Inputs are rows of features, as ``nn.data`` gives them (MNIST: 784 floats per image); an image
network reshapes each row to ``input_shape`` = (channels, height, width) inside. The last layer's
outputs are the logits of a softmax cross-entropy loss.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from nn.core.blas_threads import cores
from nn.core.classifier import Classifier
from nn.core.dtypes import check_dtype
from nn.core.init import LAYER_INITS, check_init
from nn.core.layers import ACTIVATION_LAYERS, BatchNorm, Conv2D, Dropout, Layer, MaxPool2D, Shape
from nn.core.losses import softmax_cross_entropy_grad
from nn.core.mlp import EvaluationStopped
from nn.core.worker_threads import run_parallel

# Rows per forward/backward pass are capped so that one pass keeps at most this many bytes of
# activations and im2col copies: a 10000-image evaluation or a full-batch step runs in chunks.
WORKSPACE_BYTES = 256 * 1024 * 1024
# Data parallelism on the cores: a batch is cut into one chunk per worker thread (NumPy releases
# the GIL inside its loops and BLAS calls), each chunk running with one BLAS thread. Measured on
# 2 cores, batch 128 of the mnist-cnn preset: 41 ms a step with 2 BLAS threads (they spin while
# the main thread does the im2col copies, pooling and activations, which NumPy runs on one core),
# 24 ms with one BLAS thread, 12 ms with 2 workers of one BLAS thread each
# (nn.core.worker_threads).
MIN_CHUNK_ROWS = 16           # below this a chunk's Python overhead outweighs a second core


_malloc_tuned = False


def _keep_freed_memory() -> None:
    """Let glibc's malloc serve a step's big blocks (up to 32 MB) from its heap and keep up to
    32 MB of freed memory per heap for reuse, instead of mapping fresh pages for every im2col copy
    and activation and handing them back after each step: fresh pages cost a page fault each.

    A process-wide setting (the app's server included), so kept only because measured and bounded
    (mnist-cnn, batch 128, 2 cores, load 3.5, 150 steps): 22 ms a step against 28-31 ms without,
    kernel time 0.6 s against 1.0-2.0 s; resident memory after a 10,000-image evaluation 112 MB
    against 198 MB without (a 256 MB trim threshold kept 204 MB for no further gain). At most
    32 MB of freed memory stays per malloc arena. No-op elsewhere than glibc."""
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)      # glibc's maximum on 64-bit
        libc.mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


class ModelTooLarge(ValueError):
    """The architecture has more parameters than its builder allows (``max_params``)."""


def plan_shapes(layers: Sequence[Layer], input_shape: Shape) -> tuple[list[Shape], int]:
    """Each layer's per-sample output shape (internal layout: (H, W, C) for images) and the total
    parameter count, computed without allocating anything. Raises ValueError if a layer does not
    fit its input."""
    shape = _internal_shape(input_shape)
    shapes, n_params = [], 0
    for i, layer in enumerate(layers):
        try:
            out = layer.output_shape(shape)          # checks the input shape first
            n_params += sum(math.prod(s) for s in layer.param_shapes(shape))
            shape = out
        except ValueError as exc:
            raise ValueError(f"layer {i + 1} ({layer!r}): {exc}") from None
        shapes.append(shape)
    return shapes, n_params


def _internal_shape(input_shape: Shape) -> Shape:
    if len(input_shape) == 3:
        c, h, w = input_shape
        return (h, w, c)
    return tuple(input_shape)


def _values_per_sample(layers: Sequence[Layer], input_shape: Shape, shapes: list[Shape]) -> int:
    """Floats a training pass holds per sample: every layer's output, plus im2col copies and
    batch norms' normalised inputs."""
    total, prev = math.prod(input_shape), _internal_shape(input_shape)
    for layer, shape in zip(layers, shapes):
        total += 2 * math.prod(shape)                # output and its gradient
        if isinstance(layer, Conv2D):
            kh, kw = layer.kernel
            total += 2 * shape[0] * shape[1] * kh * kw * prev[2]    # cols and dcols
        elif isinstance(layer, BatchNorm):
            total += math.prod(shape)                # xhat, kept for the backward pass
        prev = shape
    return total


class Sequential(Classifier):
    """Layers applied in order, then softmax cross-entropy.

    ``Sequential([Conv2D(16, 5), MaxPool2D(2), ReLU(), Flatten(), Dense(10)], input_shape=(1, 28, 28))``.
    ``params`` lists every layer's parameters in order (conv: W (out, in, kh, kw), b (out,);
    dense: W (fan_in, fan_out), b (fan_out,)). The parameter count is checked against
    ``max_params`` (the server's limit, passed by whoever builds the network) before anything is
    allocated.
    """

    def __init__(self, layers: Sequence[Layer], input_shape: Sequence[int], seed: int = 0,
                 dtype: str = "float32", init: str = "he", max_params: int | None = None) -> None:
        check_dtype(dtype)
        check_init(init, LAYER_INITS)
        self.layers = list(layers)
        self.input_shape = tuple(int(s) for s in input_shape)
        if not self.layers or len(self.input_shape) not in (1, 3) or min(self.input_shape) < 1:
            raise ValueError("a network needs at least one layer and an input_shape of (features,) "
                             f"or (channels, height, width); got {self.input_shape}")
        self.shapes, n_params = plan_shapes(self.layers, self.input_shape)
        if len(self.shapes[-1]) != 1 or self.shapes[-1][0] < 2:
            raise ValueError(f"the last layer must give at least 2 class scores; it gives {self.shapes[-1]}")
        if max_params is not None and n_params > max_params:
            raise ModelTooLarge(f"this network has {n_params:,} parameters; the limit is {max_params:,} "
                                f"(NN_MAX_PARAMS)")
        self.seed, self.init, self.dtype = int(seed), init, np.dtype(dtype)
        self._build()
        self.meta: dict[str, Any] = {}
        per_sample = _values_per_sample(self.layers, self.input_shape, self.shapes) * self.dtype.itemsize
        self.max_rows = max(1, WORKSPACE_BYTES // per_sample)
        self.workers = min(cores(), 8)     # threads per pass; 1 = no threads
        self._steps = 0                      # training passes so far: seeds dropout masks
        self._scratch_grads: dict[int, list[np.ndarray]] = {}
        # training-time augmentation of one-channel images (nn.data.augment.Augment), or None; done
        # inside each chunk's pass, so on the worker threads, with the chunk's own generator
        self.augment: Any = None

    def _build(self) -> None:
        rng = np.random.default_rng(self.seed)       # layer by layer (nn.core.init), as MLP
        shape = _internal_shape(self.input_shape)
        for i, (layer, out) in enumerate(zip(self.layers, self.shapes)):
            layer.build(shape, rng, self.dtype, self.init)
            if isinstance(layer, Dropout):
                layer.rng = np.random.default_rng([self.seed, 2, i])
            shape = out
        # a convolution followed by a pool it can run fused (Conv2D.forward_pooled) in training
        self._fused = {i for i, layer in enumerate(self.layers[:-1])
                       if isinstance(layer, Conv2D) and isinstance(self.layers[i + 1], MaxPool2D)
                       and self.layers[i + 1].fuses(self.shapes[i])}
        self.params: list[np.ndarray] = [p for layer in self.layers for p in layer.params]
        # not trained, saved with the parameters: BatchNorm's running mean and variance
        self.buffers: list[np.ndarray] = [b for layer in self.layers for b in layer.buffers]
        self._norms = [i for i, layer in enumerate(self.layers) if isinstance(layer, BatchNorm)]
        self._slices, start = [], 0
        for layer in self.layers:
            self._slices.append(slice(start, start + len(layer.params)))
            start += len(layer.params)

    # --- description -----------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params)

    @property
    def n_features(self) -> int:
        return math.prod(self.input_shape)

    @property
    def n_classes(self) -> int:
        return self.shapes[-1][0]

    @property
    def layer_sizes(self) -> list[int]:
        """Input features, then the outputs per sample of each layer with parameters: the same
        list as ``nn.MLP.layer_sizes`` for a stack of dense layers ([784, ..., 10]). A batch
        norm keeps its input's size: it is not listed."""
        outs = [math.prod(s) for layer, s in zip(self.layers, self.shapes)
                if layer.params and not isinstance(layer, BatchNorm)]
        return [self.n_features, *outs[:-1], self.n_classes]

    @property
    def activation(self) -> str:
        """The hidden activation's name ('mixed' if several, 'none' if none)."""
        names = {layer.kind for layer in self.layers if type(layer) in ACTIVATION_LAYERS.values()}
        return names.pop() if len(names) == 1 else ("mixed" if names else "none")

    def spec(self) -> dict[str, Any]:
        """The architecture as a JSON-able dict (``nn.core.arch.from_spec`` builds it back)."""
        return {"input_shape": list(self.input_shape), "layers": [layer.spec() for layer in self.layers],
                "seed": self.seed, "init": self.init, "dtype": self.dtype.name}

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], input_shape={self.input_shape})"

    # --- inference -------------------------------------------------------------------------
    def _to_input(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected input of shape (n, {self.n_features}); got {X.shape}")
        if len(self.input_shape) == 3:                # rows (c, h, w) -> (n, h, w, c)
            return X.reshape(len(X), *self.input_shape).transpose(0, 2, 3, 1)
        return X

    def _forward(self, X: np.ndarray) -> np.ndarray:
        """Logits of rows ``X`` (at most ``max_rows``), on the worker threads if several."""
        out = np.empty((len(X), self.n_classes), self.dtype)

        def run(part: slice) -> None:
            A = self._to_input(X[part])
            for layer in self.layers:
                A, _ = layer.forward(A, train=False)
            out[part] = A

        chunks = self._chunks(len(X))
        if len(chunks) == 1:
            run(chunks[0])
        else:
            run_parallel([lambda c=c: run(c) for c in chunks])
        return out

    def logit_chunks(self, X: np.ndarray, should_stop: Callable[[], bool] | None = None):
        """The logits of ``X``, ``workers x max_rows`` rows at a time (as ``nn.MLP.logit_chunks``);
        raises ``nn.core.mlp.EvaluationStopped`` when ``should_stop()`` turns True between chunks."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected input of shape (n, {self.n_features}); got {X.shape}")
        rows = self.max_rows * self.workers
        for start in range(0, max(len(X), 1), rows):
            if should_stop is not None and should_stop():
                raise EvaluationStopped
            yield self._forward(X[start:start + rows])

    def _chunks(self, n: int) -> list[slice]:
        """Row ranges of at most ``max_rows``, at least one per worker when the rows allow."""
        per_worker = math.ceil(n / max(1, min(self.workers, n // MIN_CHUNK_ROWS)))
        size = max(1, min(self.max_rows, per_worker))
        return [slice(start, start + size) for start in range(0, n, size)] or [slice(0, 0)]

    def feature_maps(self, x: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """For one input row: (layer index, output as (channels, height, width)) of every layer
        that outputs an image, for showing what each conv layer sees."""
        A = self._to_input(np.asarray(x).reshape(1, -1))
        maps = []
        for i, layer in enumerate(self.layers):
            A, _ = layer.forward(A, train=False)
            if A.ndim == 4:
                maps.append((i, A[0].transpose(2, 0, 1).copy()))
        return maps

    # --- training --------------------------------------------------------------------------
    def loss_and_grads(self, X: np.ndarray, y: np.ndarray, out: list[np.ndarray] | None = None,
                       label_smoothing: float = 0.0) -> tuple[float, list[np.ndarray]]:
        """Mean cross-entropy on (X, y) (training mode: dropout active, batch statistics) and
        its gradients, aligned with ``params`` (written into ``out`` if given)."""
        grads = out if out is not None else [np.empty_like(p) for p in self.params]
        loss, _ = self.train_step_grads(X, y, grads, label_smoothing)
        return loss, grads

    def train_step_grads(self, X: np.ndarray, y: np.ndarray, grads: list[np.ndarray],
                         label_smoothing: float = 0.0, report: str = "cross_entropy") -> tuple[float, int]:
        """Forward and backward pass writing the mean loss's gradients into ``grads``; returns
        (mean loss, as ``report`` has it: nn.core.losses; rows predicted correctly). The batch is
        split into chunks (at most ``max_rows`` each) run on ``workers`` threads; the batch mean
        is the chunks' means weighted by their sizes. BatchNorm layers' running averages take this batch's statistics."""
        _keep_freed_memory()
        y = np.asarray(y)
        n, step = len(y), self._steps
        self._steps += 1
        chunks = self._chunks(n)
        stats: list[tuple[int, int, tuple[int, np.ndarray, np.ndarray]]] = []   # (chunk, layer, stats)
        if len(chunks) == 1:
            result = self._pass(X, y, grads, np.random.default_rng([self.seed, 2, step, 0]), 1.0,
                                label_smoothing, stats, report=report)
            self._update_running(stats)
            return result
        groups = [list(range(w, len(chunks), self.workers)) for w in range(min(self.workers, len(chunks)))]

        def run(group: list[int], out: list[np.ndarray]) -> tuple[float, int, list[np.ndarray]]:
            acc = None
            loss, correct = 0.0, 0
            for k in group:
                part = chunks[k]
                share = (min(part.stop, n) - part.start) / n
                rng = np.random.default_rng([self.seed, 2, step, k])
                part_loss, part_correct = self._pass(X[part], y[part], out, rng, share, label_smoothing,
                                                     stats, k, report)
                if acc is None:                     # grads of share x the chunk's mean: add up
                    acc = [g.copy() for g in out] if len(group) > 1 else out
                else:
                    for a, g in zip(acc, out):
                        a += g
                loss += part_loss * share
                correct += part_correct
            return loss, correct, acc

        buffers = [grads] + [self._scratch(w) for w in range(1, len(groups))]
        results = run_parallel([lambda g=g, b=b: run(g, b) for g, b in zip(groups, buffers)])
        for k, (_, _, acc) in enumerate(results):
            for g, a in zip(grads, acc):
                if k == 0:
                    if a is not g:
                        np.copyto(g, a)
                else:
                    g += a
        self._update_running(stats)
        return sum(r[0] for r in results), sum(r[1] for r in results)

    def _update_running(self, stats: list[tuple[int, int, tuple[int, np.ndarray, np.ndarray]]]) -> None:
        """Each BatchNorm layer's running averages from its chunks' statistics (in chunk order,
        so the result does not depend on which thread finished first)."""
        for i in self._norms:
            self.layers[i].update_running([s for _, layer, s in sorted(stats, key=lambda t: t[0])
                                           if layer == i])

    def _scratch(self, worker: int) -> list[np.ndarray]:
        """Gradient buffers for a worker thread, kept between steps."""
        if worker not in self._scratch_grads:
            self._scratch_grads[worker] = [np.empty_like(p) for p in self.params]
        return self._scratch_grads[worker]

    def _pass(self, X: np.ndarray, y: np.ndarray, grads: list[np.ndarray], rng: np.random.Generator,
              share: float = 1.0, label_smoothing: float = 0.0, stats: list | None = None,
              chunk: int = 0, report: str = "cross_entropy") -> tuple[float, int]:
        """One chunk's forward and backward pass: returns (its mean loss, rows right) and writes
        ``share`` x the gradients of its mean loss into ``grads`` (``share``: the chunk's part
        of the batch, so that the chunks' gradients add up to the batch mean's). BatchNorm
        layers' statistics go to ``stats`` as (``chunk``, layer index, (rows, mean, variance))."""
        if self.augment is not None:
            if len(self.input_shape) != 3 or self.input_shape[0] != 1:
                raise ValueError("augment applies to one-channel images only")
            X = self.augment(np.asarray(X, dtype=self.dtype), rng, self.input_shape[1:])
        A = self._to_input(X)
        ctxs: list[Any] = []
        for i, layer in enumerate(self.layers):
            if i - 1 in self._fused:                 # the pool already ran with its convolution
                ctxs.append(None)
            elif i in self._fused:
                A, ctx = layer.forward_pooled(A, self.layers[i + 1])
                ctxs.append(ctx)
            else:
                A, ctx = layer.forward(A, train=True, rng=rng) if isinstance(layer, Dropout) else layer.forward(A, train=True)
                ctxs.append(ctx)
        if stats is not None:
            stats.extend((chunk, i, BatchNorm.batch_stats(ctxs[i])) for i in self._norms)
        n_correct = int(np.count_nonzero(A.argmax(axis=1) == y))
        loss, dA = softmax_cross_entropy_grad(A, y, label_smoothing, report)   # dZ = (softmax(Z) - q) / n
        if share != 1.0:
            dA *= share                              # every gradient below scales with dZ
        for i in reversed(range(len(self.layers))):
            if i - 1 in self._fused:
                continue
            backward = self.layers[i].backward_pooled if i in self._fused else self.layers[i].backward
            dA = backward(dA, ctxs[i], grads[self._slices[i]], need_dx=i > 0)
            ctxs[i] = None                           # free each layer's copies as soon as done
        return loss, n_correct

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a worker process and back) without scratch gradients: they are rebuilt."""
        return {**self.__dict__, "_scratch_grads": {}}

    def copy_params_from(self, params: Sequence[np.ndarray]) -> None:
        for dst, src in zip(self.params, params, strict=True):
            np.copyto(dst, src)

    def copy_buffers_from(self, buffers: Sequence[np.ndarray]) -> None:
        """BatchNorm's running statistics, as ``copy_params_from`` the parameters."""
        for dst, src in zip(self.buffers, buffers, strict=True):
            np.copyto(dst, src)
