"""What the neurons compute: every layer's values on some inputs, hidden neurons over the plane,
first-layer weights as images, the most active units, and what a single input (a drawn digit)
does inside the network.

Layers are numbered from 1 like the tutorials' equations: layer k has weights ``W_k`` =
``model.params[2k-2]`` of shape (fan_in, fan_out), ``Z_k = A_{k-1} W_k + b_k`` and
``A_k = f(Z_k)`` (the last layer's ``A`` is the softmax of its ``Z``; a regression network's is
``Z`` itself, its linear output).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nn.core.losses import log_softmax
from nn.core.mlp import MLP
from nn.data.features import PLAIN, expand, model_features
from nn.views.plots import plane_grid


def n_layers(model: MLP) -> int:
    """Weight layers (hidden layers + the output layer)."""
    return len(model.params) // 2


def _check_layer(model: MLP, layer: int, hidden_only: bool = False) -> None:
    last = n_layers(model) - (1 if hidden_only else 0)
    if not 1 <= layer <= last:
        what = "hidden layer" if hidden_only else "layer"
        raise ValueError(f"layer must be a {what} number from 1 to {last}; got {layer}")


def forward(model: MLP, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(Z, A)``: the pre-activations and activations of every layer for the rows of ``X``
    (fresh arrays in the model's dtype; ``A[-1]`` holds the softmax probabilities, or for a
    regression network the predicted values, ``Z[-1]``)."""
    A = np.asarray(X, dtype=model.dtype)
    if A.ndim != 2 or A.shape[1] != model.layer_sizes[0]:
        raise ValueError(f"expected input of shape (n, {model.layer_sizes[0]}); got {A.shape}")
    Zs, As = [], []
    last = n_layers(model) - 1
    for k in range(n_layers(model)):
        Z = A @ model.params[2 * k] + model.params[2 * k + 1]
        A = _output(model, Z) if k == last else model.act.forward(Z, np.empty_like(Z))
        Zs.append(Z)
        As.append(A)
    return Zs, As


def is_regression(model: MLP) -> bool:
    return getattr(model, "task", "classification") == "regression"


def _output(model: MLP, Z: np.ndarray) -> np.ndarray:
    """The output layer's A: softmax(Z), or Z itself for a regression network (linear output)."""
    return Z.copy() if is_regression(model) else np.exp(log_softmax(Z))


def label_array(model: MLP, y: np.ndarray) -> np.ndarray:
    """The labels as the model trains on them: class indices, or quantities (regression)."""
    return np.asarray(y, dtype=model.dtype if is_regression(model) else np.intp)


# --- neuron maps (2-D datasets) -----------------------------------------------------------------
@dataclass
class NeuronMaps:
    """Every hidden neuron's activation over a ``grid`` x ``grid`` patch of the plane.

    ``hidden[k]`` is (grid, grid, units of hidden layer k+1), row 0 at the smallest y (as
    ``plots.plane_grid``); ``inputs`` (grid, grid, k) the network's k input features
    (``input_names``, nn.data.features) over the plane, ``output`` P(class 1) (for regression:
    the predicted value)."""
    xs: np.ndarray
    ys: np.ndarray
    inputs: np.ndarray
    hidden: list[np.ndarray]
    output: np.ndarray
    activation: str
    regression: bool = False
    input_names: tuple[str, ...] = PLAIN


def neuron_maps(model: MLP, X: np.ndarray, grid: int = 40) -> NeuronMaps:
    """Activations of every hidden neuron over the plane that covers the points ``X`` (n, 2)
    (the same plane as the decision boundary), for networks of 2-D data: each grid point is
    expanded to the features the model reads (``model_features``) first."""
    names = model_features(model)
    if model.layer_sizes[0] != len(names):
        raise ValueError(f"neuron maps need a network with {len(names)} inputs (a 2-D dataset read as "
                         f"{', '.join(names)}); this one has {model.layer_sizes[0]}")
    if not 4 <= grid <= 200:
        raise ValueError(f"grid must be from 4 to 200 points per side; got {grid}")
    xs, ys, pts = plane_grid(np.asarray(X), grid)
    inputs = expand(pts, names)
    _, As = forward(model, inputs)
    shape = (grid, grid)
    return NeuronMaps(xs, ys, inputs.reshape(*shape, -1), [A.reshape(*shape, -1) for A in As[:-1]],
                      As[-1][:, -1].reshape(shape), model.activation, is_regression(model), names)


# --- image datasets -----------------------------------------------------------------------------
def first_layer_weight_images(model: MLP, image_shape: tuple[int, int],
                              units: np.ndarray | list[int] | None = None) -> np.ndarray:
    """The incoming weights of first-layer ``units`` (default: all) as (k, height, width) images."""
    h, w = image_shape
    W = model.params[0]
    if W.shape[0] != h * w:
        raise ValueError(f"image_shape {image_shape} has {h * w} pixels; the network has {W.shape[0]} inputs")
    idx = np.arange(W.shape[1]) if units is None else _check_units(units, W.shape[1])
    return np.ascontiguousarray(W[:, idx].T).reshape(len(idx), h, w)


def _check_units(units: np.ndarray | list[int], n: int) -> np.ndarray:
    idx = np.asarray(units, dtype=np.intp).ravel()
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"units must be numbers from 0 to {n - 1}; got {idx.tolist()[:8]}")
    return idx


def unit_activity(model: MLP, X: np.ndarray, layer: int = 1) -> np.ndarray:
    """Mean |activation| of each unit of hidden ``layer`` over the rows of ``X``."""
    _check_layer(model, layer, hidden_only=True)
    _, As = forward(model, X)
    return np.abs(As[layer - 1]).mean(axis=0, dtype=np.float64)


def most_active_units(model: MLP, X: np.ndarray, layer: int = 1, k: int = 16) -> np.ndarray:
    """Indices of the ``k`` units of hidden ``layer`` with the largest mean |activation| on ``X``,
    most active first (ties by index)."""
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    activity = unit_activity(model, X, layer)
    return np.argsort(-activity, kind="stable")[:k]


# --- one input, e.g. a drawn digit -------------------------------------------------------------
@dataclass
class InputExplanation:
    """What one input does inside the network.

    ``activations[k]`` are hidden layer k+1's activations; ``pushes[j]`` how much first-layer
    unit j moved the predicted class's score above the mean of all scores (activation x the
    score's sensitivity to it: exact for one hidden layer, where the scores are linear in
    ``A_1``); ``top_units`` the units that pushed most towards the prediction, strongest first."""
    probabilities: np.ndarray
    predicted: int
    activations: list[np.ndarray]
    pushes: np.ndarray
    top_units: np.ndarray


def explain_input(model: MLP, x: np.ndarray, top: int = 8) -> InputExplanation:
    """Per-layer activations for one input and the first-layer units that pushed its
    prediction most."""
    x = np.asarray(x, dtype=model.dtype).reshape(1, -1)
    if n_layers(model) < 2:
        raise ValueError("the network has no hidden layer to explain")
    Zs, As = forward(model, x)
    c = int(As[-1][0].argmax())
    # d(z_c - mean_k z_k) / d A_1 (regression: d z / d A_1), carried back from the output layer
    W_out = model.params[-2].astype(np.float64)
    g = W_out[:, c] - (0 if is_regression(model) else W_out.mean(axis=1))
    for k in range(n_layers(model) - 2, 0, -1):        # through hidden layers k+1 .. 2
        fprime = _fprime(model, Zs[k][0].astype(np.float64), As[k][0].astype(np.float64))
        g = model.params[2 * k].astype(np.float64) @ (g * fprime)
    pushes = As[0][0].astype(np.float64) * g
    order = np.argsort(-pushes, kind="stable")[:top]
    return InputExplanation(As[-1][0], c, [A[0] for A in As[:-1]], pushes, order)


def _fprime(model: MLP, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """f'(Z), through the activation's own backward rule."""
    return model.act.backward(np.ones_like(Z), Z, A, np.empty_like(Z))
