"""Step through backprop: one minibatch step on any MLP, with every quantity of the tutorials'
equations, and a neuron's formula written out with the current numbers.

The step is the library's own: the gradients come from ``model.loss_and_grads`` and the update
from ``nn.core.optimizers.make_optimizer`` (the Trainer's rule and state). The forward and backward
values are recomputed next to them with the tutorials' equations, per sample (no 1/m)::

    Z_k = A_{k-1} W_k + b_k          A_k = f(Z_k)          A_L = softmax(Z_L)
    dZ_L = A_L - Y                   dW_k = A_{k-1}ᵀ dZ_k / m      db_k = Σ_rows dZ_k / m
    dA_{k-1} = dZ_k W_kᵀ             dZ_{k-1} = dA_{k-1} * f'(Z_{k-1})

so that the mean over the batch of one sample's ``outer(A_{k-1}[i], dZ_k[i])`` is ``dW_k``. A
regression network's output is linear, A_L = Z_L, with the loss (A_L - y)^2 per sample: then
dZ_L = 2 (A_L - Y) (``nn.core.losses.mean_squared_error_grad`` without the 1/m).
Layers are numbered from 1 in the text and in ``layer`` arguments; units from 0 in arguments
(array indices) and from 1 in the text (``a2_3`` is unit 3 of layer 2).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from nn.core.mlp import MLP
from nn.core.optimizers import Optimizer, make_optimizer
from nn.core.config import TrainConfig

from nn.views.inspect.neurons import _check_layer, _fprime, forward, is_regression, label_array, n_layers

MINUS = "\u2212"
SMALL_NETWORK = 64          # hidden neurons in all: up to this, the step view shows every number
SHOWN_ITEMS = 8             # numbers per vector (and rows per matrix) the step view writes out


@dataclass
class LayerStep:
    """One layer's values in a step. Batch arrays have one row per sample of the minibatch."""
    layer: int
    W_before: np.ndarray
    b_before: np.ndarray
    Z: np.ndarray
    A: np.ndarray            # f(Z); softmax probabilities for the output layer
    dZ: np.ndarray           # the tutorials' per-sample dZ (no 1/m)
    dA_prev: np.ndarray | None   # dZ W_kᵀ: the gradient handed to the layer below (None for layer 1)
    dW: np.ndarray           # the library's gradient (mean over the batch), from loss_and_grads
    db: np.ndarray
    W_after: np.ndarray
    b_after: np.ndarray


@dataclass
class Equation:
    """One line of the step view: ``formula`` with its ``value`` (the chosen sample's row for
    per-sample quantities, the whole array for batch ones) and ``text`` (the numbers, shortened)."""
    name: str
    formula: str
    value: np.ndarray
    scope: str               # "sample" or "batch"
    text: str


@dataclass
class BackpropStep:
    """Everything one minibatch step did. ``sample`` is the row the equations show."""
    X: np.ndarray
    y: np.ndarray
    Y: np.ndarray            # one-hot labels (regression: the values, one column)
    loss: float              # mean cross-entropy (regression: squared error) on the batch (the library's)
    layers: list[LayerStep]
    sample: int
    activation: str
    optimizer: str
    lr: float
    step: int                # steps this stepper has taken, this one included
    small: bool = field(default=True)   # whether the network is small enough to show every number
    summary_rows: list[dict] | None = None   # ``summaries()``, kept by ``compact``
    finite: bool | None = None               # ``step_is_finite``, kept by ``compact``
    regression: bool = False                 # a linear output and the squared error

    @property
    def m(self) -> int:
        return len(self.y)

    def sample_loss(self, i: int | None = None) -> float:
        i = self.sample if i is None else i
        if self.regression:
            return float((float(self.layers[-1].A[i, 0]) - float(self.y[i])) ** 2)
        return float(-np.log(max(float(self.layers[-1].A[i, self.y[i]]), 1e-300)))

    def sample_dW(self, layer: int, i: int | None = None) -> np.ndarray:
        """One sample's share of dW (before the 1/m): outer(A_{k-1}[i], dZ_k[i])."""
        i = self.sample if i is None else i
        A_prev = self.X if layer == 1 else self.layers[layer - 2].A
        return np.outer(A_prev[i], self.layers[layer - 1].dZ[i])

    def equations(self, max_items: int = 8) -> list[Equation]:
        """The forward values, loss, backward quantities and update, in the tutorials' order."""
        return _equations(self, max_items)

    def summaries(self) -> list[dict[str, float | int | str]]:
        """Per-layer summaries for networks too big to show number by number."""
        if self.summary_rows is not None:
            return self.summary_rows
        return [_summary(self, s) for s in self.layers]

    def compact(self, max_items: int = SHOWN_ITEMS) -> "BackpropStep":
        """Only what the step view shows, for any sample: the summaries, and the equations'
        numbers (``max_items`` + 1 columns per row, so the "…" stays; the output layer whole)
        for a small network, the output layer's A and dZ for a big one. Its size grows with the
        batch's rows only, never with the network's width (what a session keeps, what a worker
        sends back)."""
        k = max_items + 1
        last = len(self.layers)

        def cut(s: LayerStep) -> LayerStep:
            out = s.layer == last
            if not self.small:
                empty = np.empty((0, 0), s.Z.dtype)
                return LayerStep(s.layer, empty, empty, empty, s.A if out else empty, s.dZ if out else empty,
                                 None, empty, empty, empty, empty)
            rows = (lambda a: a) if out else (lambda a: a[:, :k])     # noqa: E731
            return LayerStep(s.layer, s.W_before[:k, :k], s.b_before[:k], rows(s.Z), rows(s.A), rows(s.dZ),
                             None if s.dA_prev is None else s.dA_prev[:, :k], s.dW[:k, :k], s.db[:k],
                             s.W_after[:k, :k], s.b_after[:k])

        copied = {name: np.ascontiguousarray(a) for name, a in (("X", self.X[:, :k] if self.small else self.X[:, :0]),
                                                                 ("Y", self.Y))}
        layers = [cut(s) for s in self.layers]
        for s in layers:                        # own arrays, not views keeping the batch's alive
            for name, a in vars(s).items():
                if isinstance(a, np.ndarray):
                    setattr(s, name, a.copy())
        return BackpropStep(copied["X"], self.y.copy(), copied["Y"], self.loss, layers, self.sample,
                            self.activation, self.optimizer, self.lr, self.step, self.small,
                            summary_rows=self.summaries(), finite=step_is_finite(self),
                            regression=self.regression)


class BackpropStepper:
    """Runs one minibatch step at a time on ``model`` (changing it, as training does).

    Batches follow the Trainer's order for the same seed (a shuffled pass per epoch); the
    optimizer is ``optimizer`` if given (e.g. a Trainer's, to continue its momentum), else a
    fresh one from ``config``."""

    def __init__(self, model: MLP, X: np.ndarray, y: np.ndarray, config: TrainConfig | None = None,
                 optimizer: Optimizer | None = None) -> None:
        self.model = model
        self.config = (config or TrainConfig()).validate()
        self.X = np.asarray(X, dtype=model.dtype)
        self.y = label_array(model, y)
        bs = self.config.batch_size
        self.batch_size = len(self.X) if bs == "full" else min(int(bs), len(self.X))
        c = self.config
        self.optimizer = optimizer or make_optimizer(c.optimizer, model.params, c.lr, c.weight_decay, c.momentum, c.l1)
        self.rng = np.random.default_rng([c.seed, 1])
        self._order = np.arange(0)
        self._pos = 0
        self.steps = 0

    def next_rows(self) -> np.ndarray:
        """The next minibatch's rows of ``X`` (all of them, in order, for a full batch)."""
        if self._pos >= len(self._order):
            full = self.batch_size >= len(self.X)
            self._order = np.arange(len(self.X)) if full else self.rng.permutation(len(self.X))
            self._pos = 0
        rows = self._order[self._pos:self._pos + self.batch_size]
        self._pos += len(rows)
        return rows

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self.next_rows()
        return self.X[rows], self.y[rows]

    def position(self) -> tuple:
        """Where the batches are (``restore`` goes back there: a step that did not happen)."""
        return copy.deepcopy(self.rng.bit_generator.state), self._order, self._pos

    def restore(self, position: tuple) -> None:
        self.rng.bit_generator.state, self._order, self._pos = position

    def step(self, sample: int = 0, X: np.ndarray | None = None, y: np.ndarray | None = None,
             apply: bool = True) -> BackpropStep:
        """One step on the next minibatch (or on (X, y)); ``apply=False`` shows the step
        without keeping it (the model and the optimizer's state are left as they were)."""
        Xb, yb = self.next_batch() if X is None else (np.asarray(X, self.model.dtype), label_array(self.model, y))
        if not 0 <= sample < len(yb):
            raise ValueError(f"sample must be a row of the batch, from 0 to {len(yb) - 1}; got {sample}")
        optimizer = self.optimizer if apply else copy.deepcopy(self.optimizer)
        view = one_step(self.model, Xb, yb, optimizer, sample, self.steps + 1)
        if apply:
            self.steps += 1
        else:
            self.model.copy_params_from([p for s in view.layers for p in (s.W_before, s.b_before)])
        return view


def one_step(model: MLP, X: np.ndarray, y: np.ndarray, optimizer: Optimizer, sample: int = 0,
             step: int = 1) -> BackpropStep:
    """Apply one step of ``optimizer`` to ``model`` on (X, y) and return what it did."""
    X, y = np.asarray(X, model.dtype), label_array(model, y)
    before = [p.copy() for p in model.params]
    loss, grads = model.loss_and_grads(X, y)
    shown = [g.copy() for g in grads]                   # the optimizer uses grads as scratch
    Zs, As = forward(model, X)
    if is_regression(model):
        Y = y.reshape(-1, 1).copy()
    else:
        Y = np.zeros_like(As[-1])
        Y[np.arange(len(y)), y] = 1
    dZs, dAs = _backward(model, Zs, As, Y)
    optimizer.step(model.params, grads)
    layers = [LayerStep(k + 1, before[2 * k], before[2 * k + 1], Zs[k], As[k], dZs[k], dAs[k],
                        shown[2 * k], shown[2 * k + 1], model.params[2 * k].copy(), model.params[2 * k + 1].copy())
              for k in range(n_layers(model))]
    name = type(optimizer).__name__.lower()
    return BackpropStep(X, y, Y, loss, layers, sample, model.activation, name, optimizer.lr, step,
                        small=sum(model.layer_sizes[1:-1]) <= SMALL_NETWORK, regression=is_regression(model))


def _backward(model: MLP, Zs: list[np.ndarray], As: list[np.ndarray], Y: np.ndarray
              ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """The tutorials' per-sample dZ_k for every layer, and dA_{k-1} = dZ_k W_kᵀ (None for k = 1)."""
    L = n_layers(model)
    dZs: list[np.ndarray] = [np.empty(0)] * L
    dAs: list[np.ndarray | None] = [None] * L
    dZs[-1] = 2 * (As[-1] - Y) if is_regression(model) else As[-1] - Y     # d(loss)/dZ_L per sample
    for k in range(L - 1, 0, -1):
        dA = dZs[k] @ model.params[2 * k].T
        dAs[k] = dA
        dZs[k - 1] = dA * _fprime(model, Zs[k - 1], As[k - 1])
    return dZs, dAs


# --- text ---------------------------------------------------------------------------------------
def fmt(v: float, digits: int = 2) -> str:
    """A number for the formulas: fixed point, or scientific when tiny or huge; a real minus."""
    v = float(v) + 0.0                  # -0.0 -> 0.0
    if v != 0 and (abs(v) < 10 ** -digits or abs(v) >= 1e5):
        text = f"{v:.{digits}e}"
    else:
        text = f"{v:.{digits}f}"
    return text.replace("-", MINUS)


def format_array(a: np.ndarray, max_items: int = 8, digits: int = 2) -> str:
    """``[0.52, −1.30, …]`` (vectors) or rows of them (matrices), at most ``max_items`` each way."""
    a = np.asarray(a)
    if a.ndim == 0:
        return fmt(a, digits)
    if a.ndim == 1:
        items = [fmt(v, digits) for v in a[:max_items]]
        return "[" + ", ".join(items) + (", …" if len(a) > max_items else "") + "]"
    rows = [format_array(r, max_items, digits) for r in a[:max_items]]
    return "[" + ",\n ".join(rows) + (",\n …" if len(a) > max_items else "") + "]"


def _equations(v: BackpropStep, max_items: int) -> list[Equation]:
    i, L, f = v.sample, len(v.layers), v.activation
    eqs: list[Equation] = []

    def add(name: str, formula: str, value: np.ndarray, scope: str = "sample") -> None:
        eqs.append(Equation(name, formula, value, scope, format_array(value, max_items)))

    add("A0", "A0 = X (the sample's inputs)", v.X[i])
    for s in v.layers:
        k = s.layer
        add(f"Z{k}", f"Z{k} = A{k - 1} W{k} + b{k}", s.Z[i])
        out = f"A{k} = Z{k} (linear output: the predicted value)" if v.regression else f"A{k} = softmax(Z{k})"
        add(f"A{k}", out if k == L else f"A{k} = {f}(Z{k})", s.A[i])
    loss = f"(A{L} − y)²" if v.regression else f"−log A{L}[y]"
    add("loss", f"loss = {loss} (this sample; the batch mean is {fmt(v.loss, 4)})", np.array(v.sample_loss()))
    for s in reversed(v.layers):
        k = s.layer
        if k == L:
            add(f"dZ{k}", f"dZ{k} = 2 (A{k} − Y)" if v.regression else f"dZ{k} = A{k} − Y", s.dZ[i])
        else:
            add(f"dZ{k}", f"dZ{k} = dA{k} * {f}'(Z{k})", s.dZ[i])
        add(f"dW{k}", f"dW{k} = A{k - 1}ᵀ dZ{k} / m (m = {v.m}; this sample adds A{k - 1}[i]ᵀ dZ{k}[i] / m)",
            s.dW, "batch")
        add(f"db{k}", f"db{k} = Σ dZ{k} / m", s.db, "batch")
        if s.dA_prev is not None:
            add(f"dA{k - 1}", f"dA{k - 1} = dZ{k} W{k}ᵀ", s.dA_prev[i])
    rule = {"sgd": "W ← W − lr·dW", "momentum": "v ← μ·v − lr·dW;  W ← W + v",
            "adam": "W ← W − lr_t·m / (√v + ε)  (m, v: running means of dW and dW²)"}.get(v.optimizer, "")
    for s in v.layers:
        k = s.layer
        add(f"W{k} before", f"W{k} before the step", s.W_before, "batch")
        add(f"W{k} after", f"W{k} after: {rule.replace('W', f'W{k}')} (lr = {v.lr:g})", s.W_after, "batch")
        add(f"b{k} after", f"b{k} after (from b{k} = {format_array(s.b_before, max_items)})", s.b_after, "batch")
    return eqs


def _summary(v: BackpropStep, s: LayerStep) -> dict[str, float | int | str]:
    rms = lambda a: float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))   # noqa: E731
    change = float(np.linalg.norm((s.W_after - s.W_before).astype(np.float64)))
    out: dict[str, float | int | str] = {
        "layer": s.layer, "shape": f"{s.W_before.shape[0]}×{s.W_before.shape[1]}",
        "Z_rms": rms(s.Z), "A_mean": float(s.A.mean(dtype=np.float64)), "dZ_rms": rms(s.dZ),
        "dW_norm": float(np.linalg.norm(s.dW.astype(np.float64))), "db_norm": float(np.linalg.norm(s.db)),
        "update_norm": change,
        "update_ratio": change / max(float(np.linalg.norm(s.W_before.astype(np.float64))), 1e-12)}
    if s.layer < len(v.layers) and v.activation in ("relu", "leaky_relu"):
        out["active_share"] = float((s.Z > 0).mean())
    return out


@dataclass
class NeuronFormula:
    """A neuron's computation for one input: ``text`` with symbols (``a = relu(0.52·x1 −
    1.30·x2 + 0.10) = 0.84``), ``text_values`` with the input's numbers put in."""
    layer: int
    unit: int
    weights: np.ndarray
    bias: float
    inputs: np.ndarray
    z: float
    a: float
    text: str
    text_values: str


def neuron_formula(model: MLP, layer: int, unit: int, x: np.ndarray, digits: int = 2,
                   max_terms: int = 6, input_names: Sequence[str] | None = None) -> NeuronFormula:
    """Unit ``unit`` (from 0) of ``layer`` (from 1) written out for input ``x``; with more than
    ``max_terms`` inputs, the terms with the largest |w·input| and the sum of the others. The
    inputs are x1, x2, ... unless ``input_names`` names them (a 2-D set's features: x1², sin x1)."""
    _check_layer(model, layer)
    W, b = model.params[2 * layer - 2], model.params[2 * layer - 1]
    if not 0 <= unit < W.shape[1]:
        raise ValueError(f"unit must be from 0 to {W.shape[1] - 1} in layer {layer}; got {unit}")
    Zs, As = forward(model, np.asarray(x).reshape(1, -1))
    inputs = (np.asarray(x, model.dtype).ravel() if layer == 1 else As[layer - 2][0]).astype(np.float64)
    w, bias = W[:, unit].astype(np.float64), float(b[unit])
    z, a = float(Zs[layer - 1][0, unit]), float(As[layer - 1][0, unit])
    names = [f"x{j + 1}" if layer == 1 else f"a{layer - 1}_{j + 1}" for j in range(len(w))]
    if layer == 1 and input_names is not None:
        names = list(input_names)
    shown = np.arange(len(w))
    if len(w) > max_terms:
        shown = np.sort(np.argsort(-np.abs(w * inputs), kind="stable")[:max_terms])
    rest = np.setdiff1d(np.arange(len(w)), shown)
    sym = _sum_text([(w[j], names[j]) for j in shown], digits)
    val = _sum_text([(w[j], _paren(fmt(inputs[j], digits))) for j in shown], digits)
    if len(rest):
        others = fmt(float(w[rest] @ inputs[rest]), digits)
        sym += f" + ({len(rest)} more terms: {others})"
        val += f" + ({others})"
    sym += f" {_signed(bias, digits)}"
    val += f" {_signed(bias, digits)}"
    out_name = f"a{layer}_{unit + 1}"
    if layer == n_layers(model):
        out = "the predicted value" if is_regression(model) else \
            f"p(class {unit}) = softmax(z)_{unit + 1} = {fmt(a, digits)}"
        text = f"z{layer}_{unit + 1} = {sym} = {fmt(z, digits)};  {out}"
        text_values = f"z = {val} = {fmt(z, digits)}"
    else:
        f = model.activation
        text = f"{out_name} = {f}({sym}) = {fmt(a, digits)}"
        text_values = f"{out_name} = {f}({val}) = {f}({fmt(z, digits)}) = {fmt(a, digits)}"
    return NeuronFormula(layer, unit, w, bias, inputs, z, a, text, text_values)


def _paren(text: str) -> str:
    return f"({text})" if text.startswith(MINUS) else text


def _signed(v: float, digits: int) -> str:
    return f"{MINUS} {fmt(abs(v), digits)}" if v < 0 else f"+ {fmt(v, digits)}"


def _sum_text(terms: list[tuple[float, str]], digits: int) -> str:
    out = ""
    for n, (w, name) in enumerate(terms):
        mag = f"{fmt(abs(w), digits)}·{name}"
        if n == 0:
            out = (MINUS if w < 0 else "") + mag
        else:
            out += f" {MINUS if w < 0 else '+'} {mag}"
    return out


def step_is_finite(view: BackpropStep) -> bool:
    if view.finite is not None:
        return view.finite
    return math.isfinite(view.loss) and all(np.isfinite(s.W_after).all() for s in view.layers)
