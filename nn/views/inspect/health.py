"""The health of training, per layer, and a plain-language reading of the classic failures.

Per layer k (weights ``W_k``, numbered from 1): the gradient norm |dW_k| on a fixed sample of the
training data, the weights' norm, the update/weight ratio |W_k - W_k(last record)| / |W_k(last
record)|, the share of dead ReLUs (never positive on the sample), the share of saturated
sigmoid/tanh outputs, and the typical size (RMS) of the layer's outputs. ``HealthMonitor``
follows an ``nn.Trainer`` record by record without changing it: it keeps a copy of the weights
at the start and at the last record, and computes gradients with ``model.loss_and_grads`` (which
uses its own buffers, not the trainer's).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from nn.core.mlp import MLP
from nn.views.plots import subsample

from nn.views.inspect.neurons import forward, n_layers

Record = dict[str, Any]
# Saturation: sigmoid outputs within 0.01 of 0 or 1, tanh within 0.01 of -1 or 1 (slope < 0.04).
SATURATION_MARGIN = 0.01
# Thresholds of the readings (each a classic rule of thumb, loose enough not to cry wolf).
DEAD_SHARE = 0.4             # share of a layer's ReLUs that are dead
SATURATED_SHARE = 0.5        # share of a layer's sigmoid/tanh outputs that are saturated
VANISHING_RATIO = 0.01       # RMS gradient of layer 1 against the last layer's
EXPLODING_RMS = 30.0         # typical size of the output scores (logits)
UPDATE_TOO_BIG = 0.1         # weights changing by more than 10% of their size per step (on average)
UPDATE_TOO_SMALL = 1e-5      # weights changing by less than this share of their size since the last record
MAX_SAMPLE = 512


@dataclass
class LayerHealth:
    """One layer's figures (JSON-able: floats, ``None`` where a figure does not apply)."""
    layer: int
    units: int
    grad_norm: float               # |dW_k| (Frobenius) of the mean loss on the sample
    grad_rms: float                # |dW_k| / sqrt(size): comparable across layers of any size
    weight_norm: float             # |W_k|
    update_ratio: float | None     # |W_k - W_k(previous)| / |W_k(previous)|; None without a previous
    update_per_step: float | None  # update_ratio / steps since the previous weights, when known
    dead_share: float | None       # ReLU / leaky ReLU hidden layers: units never positive on the sample
    saturated_share: float | None  # sigmoid / tanh hidden layers: outputs in the flat tails
    output_rms: float              # RMS of A_k (of Z_k, the scores, for the output layer)


def layer_health(model: MLP, X: np.ndarray, y: np.ndarray,
                 previous: Sequence[np.ndarray] | None = None, steps: int | None = None) -> list[LayerHealth]:
    """Per-layer health of ``model`` on the rows (X, y); ``previous`` are earlier weights
    (``[W1, b1, ...]``), ``steps`` the optimizer steps taken since them."""
    return health_and_loss(model, X, y, previous, steps)[0]


def health_and_loss(model: MLP, X: np.ndarray, y: np.ndarray, previous: Sequence[np.ndarray] | None = None,
                    steps: int | None = None) -> tuple[list[LayerHealth], float]:
    """``layer_health`` and the mean loss on the rows, from the same gradient pass."""
    loss, grads = model.loss_and_grads(X, y)
    Zs, As = forward(model, X)
    out = []
    for k in range(n_layers(model)):
        W, g = model.params[2 * k], grads[2 * k]
        hidden = k < n_layers(model) - 1
        update = None
        if previous is not None:
            before = previous[2 * k]
            update = _norm(W - before) / max(_norm(before), 1e-12)
        out.append(LayerHealth(
            layer=k + 1, units=W.shape[1], grad_norm=_norm(g), grad_rms=_norm(g) / math.sqrt(g.size),
            weight_norm=_norm(W), update_ratio=update,
            update_per_step=update / steps if update is not None and steps else None,
            dead_share=_dead_share(model.activation, Zs[k]) if hidden else None,
            saturated_share=_saturated_share(model.activation, As[k]) if hidden else None,
            output_rms=_rms(As[k] if hidden else Zs[k])))
    return out, float(loss)


def _norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.square(a, dtype=np.float64).sum()))


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.square(a, dtype=np.float64).mean()))


def dead_units(Z: np.ndarray) -> np.ndarray:
    """Mask of the units whose pre-activation is never positive on the rows of ``Z``."""
    return ~(Z > 0).any(axis=0)


def _dead_share(activation: str, Z: np.ndarray) -> float | None:
    if activation not in ("relu", "leaky_relu"):
        return None
    return float(dead_units(Z).mean())


def _saturated_share(activation: str, A: np.ndarray) -> float | None:
    m = SATURATION_MARGIN
    if activation == "sigmoid":
        return float(((A < m) | (A > 1 - m)).mean())
    if activation == "tanh":
        return float((np.abs(A) > 1 - m).mean())
    return None


# --- readings -----------------------------------------------------------------------------------
@dataclass
class Reading:
    """A plain-language diagnosis: ``kind`` is one of dead_relu, saturated, vanishing, exploding,
    update_too_big, update_too_small."""
    layer: int
    kind: str
    text: str


def readings(layers: Sequence[LayerHealth], activation: str, init: str | None = None,
             loss: float | None = None) -> list[Reading]:
    """The classic failures visible in ``layers`` (from ``layer_health``) of a network with
    this ``activation`` and ``init``, one line each. With the ``loss`` on the same rows, huge
    scores are read as an exploding signal only when the loss is above chance level (a trained
    network that is right with huge scores is merely confident)."""
    out: list[Reading] = []
    trained = any(h.update_ratio is not None for h in layers)
    if trained:
        dead_fix = "try a smaller learning rate" + (" or `he` init" if init != "he" else "")
    else:
        dead_fix = "they start dead: try " + ("`he` init or " if init != "he" else "") + "wider layers"
    name = {"relu": "ReLUs", "leaky_relu": "leaky ReLUs"}.get(activation, f"{activation} units")
    for h in layers:
        if h.dead_share is not None and h.dead_share >= DEAD_SHARE:
            out.append(Reading(h.layer, "dead_relu", (
                f"layer {h.layer}: {h.dead_share:.0%} of {name} are dead (never active on the sample): "
                f"they no longer learn; {dead_fix}")))
        if h.saturated_share is not None and h.saturated_share >= SATURATED_SHARE:
            flat = "0 or 1" if activation == "sigmoid" else "-1 or 1"
            out.append(Reading(h.layer, "saturated", (
                f"layer {h.layer}: {h.saturated_share:.0%} of its {activation} outputs are saturated "
                f"(stuck near {flat}, where the slope is almost 0): try `xavier` init, a smaller "
                f"learning rate, or relu")))
    first, last = layers[0], layers[-1]
    if len(layers) >= 3 and last.grad_rms > 0 and first.grad_rms < VANISHING_RATIO * last.grad_rms:
        out.append(Reading(1, "vanishing", (
            f"layer 1: its gradient is {last.grad_rms / max(first.grad_rms, 1e-30):.0f}x smaller than "
            f"layer {last.layer}'s: the gradient vanishes on its way back through the {activation} "
            f"layers, so the first layers barely learn; try relu with `he` init, or fewer layers")))
    chance = math.log(max(last.units, 2))
    if last.output_rms > EXPLODING_RMS and (loss is None or not loss <= chance):
        out.append(Reading(last.layer, "exploding", (
            f"layer {last.layer} (output): the scores are huge (typical size {last.output_rms:.3g}): "
            f"the signal grows layer after layer, so {'the softmax is saturated' if last.units > 1 else 'the predictions are far off'} and the steps are wild; "
            f"try `he` init (or `xavier`) instead of `normal`, or a smaller learning rate")))
    for h in layers:
        if h.update_per_step is not None and h.update_per_step > UPDATE_TOO_BIG:
            out.append(Reading(h.layer, "update_too_big", (
                f"layer {h.layer}: each step changes the weights by {h.update_per_step:.0%} of their size "
                f"on average (about 0.1% is healthy): the learning rate looks too high; try a smaller one")))
    if layers and all(h.update_ratio is not None and h.update_ratio < UPDATE_TOO_SMALL for h in layers):
        out.append(Reading(1, "update_too_small", (
            f"all layers: the weights changed by less than {UPDATE_TOO_SMALL:.0e} of their size since "
            f"the last record: learning has stalled; try a larger learning rate")))
    return out


# --- following a trainer ------------------------------------------------------------------------
def health_sample(X: np.ndarray, y: np.ndarray, max_rows: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A fixed spread of at most ``max_rows`` rows of (X, y): the same rows at every record."""
    if not 1 <= max_rows <= MAX_SAMPLE:
        raise ValueError(f"max_rows must be from 1 to {MAX_SAMPLE}; got {max_rows}")
    idx = subsample(len(X), max_rows)
    return np.asarray(X)[idx], np.asarray(y)[idx]


class HealthMonitor:
    """Follows a model while it trains: call ``update(record)`` with each of the trainer's
    records (between steps, in the loop that reads them); it returns that record's health as a
    JSON-able dict and appends it to ``history``. The trainer is not touched."""

    def __init__(self, model: MLP, X: np.ndarray, y: np.ndarray, max_rows: int = 256) -> None:
        self.model = model
        self.X, self.y = health_sample(X, y, max_rows)
        self.start = [p.copy() for p in model.params]
        self.previous = [p.copy() for p in model.params]
        history = model.meta.get("history") or []     # the trainer's steps so far, as it counts them
        self._step: int | None = int(history[-1]["step"]) if history else 0
        self.history: list[dict[str, Any]] = []

    def update(self, record: Record | None = None) -> dict[str, Any]:
        """The health of the model now; the update ratios compare with the weights at the last
        update (``None`` if no step was taken since)."""
        record = record or {}
        moved = any(not np.array_equal(a, b) for a, b in zip(self.previous, self.model.params))
        step = record.get("step")
        steps = step - self._step if step is not None and self._step is not None else None
        with np.errstate(over="ignore", invalid="ignore"):       # an exploding model is a reading
            layers, loss = health_and_loss(self.model, self.X, self.y, self.previous if moved else None, steps)
        for keep, p in zip(self.previous, self.model.params):
            np.copyto(keep, p)
        self._step = step
        entry = {"epoch": record.get("epoch"), "step": record.get("step"), "loss": loss,
                 "layers": [asdict(h) for h in layers],
                 "readings": [asdict(r) for r in readings(layers, self.model.activation, self.model.init, loss)]}
        self.history.append(entry)
        return entry

    def histograms(self, bins: int = 30) -> list["WeightHistogram"]:
        """Each layer's weight histogram now against the start of monitoring."""
        return weight_histograms(self.model.params, self.start, bins)


@dataclass
class WeightHistogram:
    layer: int
    edges: np.ndarray       # bins + 1 edges shared by both counts
    now: np.ndarray
    start: np.ndarray


def weight_histograms(params: Sequence[np.ndarray], start: Sequence[np.ndarray],
                      bins: int = 30) -> list[WeightHistogram]:
    """Histograms of each layer's weights ``W_k`` now and at the start, on common bins."""
    if not 2 <= bins <= 200:
        raise ValueError(f"bins must be from 2 to 200; got {bins}")
    out = []
    for k in range(len(params) // 2):
        now, then = params[2 * k].ravel(), start[2 * k].ravel()
        both = np.concatenate([now[np.isfinite(now)], then[np.isfinite(then)]])
        lo, hi = (float(both.min()), float(both.max())) if len(both) else (-1.0, 1.0)
        edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, bins + 1)
        out.append(WeightHistogram(k + 1, edges, np.histogram(now, edges)[0], np.histogram(then, edges)[0]))
    return out


# --- text for the command line ------------------------------------------------------------------
def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.0%}"


def format_health_line(record_health: dict[str, Any]) -> str:
    """One line of per-layer figures for a ``HealthMonitor.update`` entry, followed by one line
    per reading (``python -m nn train --health`` prints this after each epoch line)::

        health  L1 grad 3.1e-02 upd 4.2e-02 dead 3%  |  L2 grad ...  |  L3 grad 8.0e-02 upd 1.1e-02
          ! layer 1: 62% of ReLUs are dead (...)
    """
    parts = []
    for h in record_health["layers"]:
        text = f"L{h['layer']} grad {h['grad_norm']:.1e}"
        if h["update_ratio"] is not None:
            text += f" upd {h['update_ratio']:.1e}"
        if h["dead_share"] is not None:
            text += f" dead {_pct(h['dead_share'])}"
        if h["saturated_share"] is not None:
            text += f" sat {_pct(h['saturated_share'])}"
        parts.append(text)
    lines = ["health  " + "  |  ".join(parts)]
    lines += [f"  ! {r['text']}" for r in record_health["readings"]]
    return "\n".join(lines)
