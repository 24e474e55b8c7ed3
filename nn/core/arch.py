"""Architectures as text and as JSON-able specs, validated before anything is allocated.

Text (the CLI's ``--arch``), items separated by commas:

    conv 5x5x16            a 5x5 convolution with 16 filters (also ``conv 5x3x16``: 5 high, 3 wide)
    conv 3x3x32 stride 2   ... with a stride (default 1)
    conv 3x3x32 pad 1      ... with zero padding (``pad same``: keep the size, stride 1, odd kernels)
    pool 2                 2x2 max-pooling, stride 2 (``pool 3 stride 2``: overlapping windows)
    dense 128              a fully connected hidden layer
    bn                     batch normalisation of the conv or dense layer just before (or of
                           a conv's pooled maps: ``conv 5x5x16, pool 2, bn``)
    dropout 0.25           inverted dropout while training

The network's activation follows every conv and hidden dense layer (after the pool that directly
follows a conv: max-pooling commutes with relu, tanh and sigmoid, and the activation then runs on
4x fewer values; after the ``bn`` that directly follows one: conv, batch norm, pool, activation;
and after a pool's ``bn``: conv, pool, batch norm, activation, which normalises 4x fewer values
and lets the convolution and its pool run fused: mnist-fast's step in 0.43x the time).
A Flatten goes before the first dense layer, and a dense output layer with one
unit per class ends the network. ``describe_arch`` writes the canonical text back.

A model's spec (``Sequential.spec()``) lists its exact layers; ``from_spec`` checks every field
and the parameter count (``nn.hosting.limits().max_params``) before building it.
"""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

from nn.core.layers import (ACTIVATION_LAYERS, BatchNorm, Conv2D, Dense, Dropout, Flatten, Layer,
                            LAYER_TYPES, MaxPool2D)
from nn.core.sequential import Sequential, _internal_shape, plan_shapes
from nn.core.settings import CNN_INITS, SETTINGS

MAX_ITEMS = 20                 # items of an architecture text (layers of a spec: 3x that)
KERNEL_RANGE = (1, 11)
FILTERS_RANGE = (1, 512)
STRIDE_RANGE = (1, 4)
POOL_RANGE = (2, 8)
UNITS_RANGE = (SETTINGS["hidden"].low, SETTINGS["hidden"].high)     # a dense layer's, as an MLP's
MAX_INPUT_SIDE = 512
MAX_CLASSES = 1000

# CNN presets: ``nn.runs.presets`` merges them into its PRESETS (an ``arch`` text instead of ``hidden``).
# ``lr_schedule="cosine"``: epoch e (from 0) of E trains at lr (1 + cos(pi e / E)) / 2
# (``nn.TrainConfig.lr_schedule``, applied by ``nn.Trainer``).
CNN_PRESETS: dict[str, dict[str, Any]] = {
    # Test accuracy after 6 epochs, seed 0, trained by nn.Trainer (benchmarks/bench_cnn.py): 99.28%
    # with the augmentation, 99.32% without; the augmentation is for drawings: on test digits
    # shifted up to 3 px, 98.5% with it against 90.6% without.
    "mnist-cnn": dict(dataset="mnist", arch="conv 5x5x16, pool 2, conv 5x5x32, pool 2, dense 128",
                      activation="relu", init="he", optimizer="adam", lr=2e-3,
                      lr_schedule="cosine", batch_size=128, epochs=6, seed=0,
                      augment=dict(shift=2.0, rotate=10.0, scale=0.1)),
    # Time to accuracy (issue 21, benchmarks/bench_time_to_accuracy.py): one epoch of a small
    # batch-normed CNN, batch 256, Adam with a one-cycle schedule peaking at 0.02 (0.01 gave
    # 99.01% mean over 5 seeds, 0.02 gives 99.13%), label smoothing 0.1, 3-copy test-time
    # augmentation (a shift of one pixel). Each bn follows its conv's pool (conv, pool, bn): the
    # step takes 0.43x the time of conv, bn, pool (13.8 against 32.0 ms per 128 rows, one thread:
    # the pool fuses with its conv and the batch norm sees 4x fewer values), the same accuracy
    # (5 seeds: 99.15, 99.08, 99.17, 99.14 and 99.15% against 99.19, 99.05, 99.12, 99.09, 99.22%).
    # With Adam's state kept scaled and its passes partly in BLAS (nn.core.optimizers; the same
    # update, rounded otherwise), 2026-12-03: 99.13, 99.06, 99.19, 99.18 and 99.16%, mean 99.14%,
    # 5.19 s mean at 205 GFLOP/s.
    "mnist-fast": dict(dataset="mnist", arch="conv 5x5x16, pool 2, bn, conv 3x3x32, pool 2, bn, dense 64, bn",
                       activation="relu", init="he", optimizer="adam", lr=2e-2, lr_schedule="onecycle",
                       batch_size=256, epochs=1, seed=0, label_smoothing=0.1, tta=3),
    # The slower recipe to 99.5%: twice the filters, the drawings' augmentation, 8 epochs; bn
    # after each pool as in mnist-fast (a step in 0.64x the time: 49 against 77 ms per 128 rows;
    # seed 0: 99.63% against 99.64%; seeds 0-2 with bench_time_to_accuracy.py: 99.61% mean, lowest
    # 99.58%; with Adam's state kept scaled and its passes partly in BLAS, 2026-12-03: 99.62,
    # 99.61 and 99.65%, mean 99.63%, 133 s mean at 197 GFLOP/s).
    "mnist-best": dict(dataset="mnist", arch="conv 5x5x32, pool 2, bn, conv 5x5x64, pool 2, bn, dense 256, bn",
                       activation="relu", init="he", optimizer="adam", lr=1e-2, lr_schedule="onecycle",
                       batch_size=128, epochs=8, seed=0, label_smoothing=0.1, tta=5,
                       augment=dict(shift=2.0, rotate=10.0, scale=0.1)),
}


class ArchError(ValueError):
    """An architecture text or spec that is malformed or out of bounds; the message says which
    item and the allowed range."""


def _whole(text: str, what: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d+", text) or not low <= int(text) <= high:
        raise ArchError(f"{what} must be a whole number from {low} to {high}; got {text!r}")
    return int(text)


# --- text ------------------------------------------------------------------------------------
def parse_arch(text: str) -> list[dict[str, Any]]:
    """Parse an architecture text into blocks: ``[{"type": "conv", "kernel": [5, 5],
    "filters": 16, "stride": 1, "padding": 0}, {"type": "pool", ...}, {"type": "dense", ...}]``."""
    if not isinstance(text, str) or len(text) > 2000:
        raise ArchError("the architecture (--arch) must be a text of at most 2000 characters")
    items = [item.strip().lower() for item in text.split(",") if item.strip()]
    if not 1 <= len(items) <= MAX_ITEMS:
        raise ArchError(f"the architecture (--arch) takes 1 to {MAX_ITEMS} comma-separated items; "
                        f"got {len(items)}")
    return [_parse_item(item, i + 1) for i, item in enumerate(items)]


def _parse_item(item: str, pos: int) -> dict[str, Any]:
    words = item.split()
    kind, args = words[0], words[1:]
    where = f"item {pos} ({item!r})"
    try:
        if kind == "conv":
            return _parse_conv(args)
        if kind == "pool":
            if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "stride"):
                raise ArchError("write 'pool K' or 'pool K stride S'")
            size = _whole(args[0], "the pool size", *POOL_RANGE)
            stride = _whole(args[2], "the pool stride", 1, POOL_RANGE[1]) if len(args) == 3 else size
            return {"type": "pool", "size": size, "stride": stride}
        if kind == "dense":
            if len(args) != 1:
                raise ArchError("write 'dense N'")
            return {"type": "dense", "units": _whole(args[0], "the dense size", *UNITS_RANGE)}
        if kind == "dropout":
            return {"type": "dropout", "rate": _rate(args)}
        if kind == "bn":
            if args:
                raise ArchError("write 'bn' alone, right after a conv or dense item")
            return {"type": "bn"}
    except ArchError as exc:
        raise ArchError(f"{where}: {exc}") from None
    raise ArchError(f"{where}: each item starts with conv, pool, dense, bn or dropout (the activation "
                    "follows each conv and dense layer by itself)")


def _parse_conv(args: list[str]) -> dict[str, Any]:
    m = re.fullmatch(r"(\d+)x(\d+)x(\d+)", args[0]) if args else None
    if not m:
        raise ArchError("write 'conv KxKxF' (kernel height, width, filters), e.g. conv 5x5x16")
    kh, kw = (_whole(g, "the kernel size", *KERNEL_RANGE) for g in m.groups()[:2])
    block = {"type": "conv", "kernel": [kh, kw], "filters": _whole(m.group(3), "the filters", *FILTERS_RANGE),
             "stride": 1, "padding": 0}
    rest = args[1:]
    if len(rest) % 2:
        raise ArchError("after the kernel, write 'stride S' and/or 'pad P' (or 'pad same')")
    for key, value in zip(rest[::2], rest[1::2]):
        if key == "stride":
            block["stride"] = _whole(value, "the stride", *STRIDE_RANGE)
        elif key == "pad" and value == "same":
            block["padding"] = "same"
        elif key == "pad":
            block["padding"] = _whole(value, "the padding", 0, max(kh, kw) - 1)
        else:
            raise ArchError(f"unknown conv option {key!r}; use stride or pad")
    if block["padding"] == "same":
        if kh != kw or kh % 2 == 0 or block["stride"] != 1:
            raise ArchError("'pad same' needs a square odd kernel and stride 1")
        block["padding"] = kh // 2
    return block


def _rate(args: list[str]) -> float:
    try:
        rate = float(args[0]) if len(args) == 1 else -1.0
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 0.9:
        raise ArchError(f"write 'dropout R' with 0 <= R <= 0.9; got {' '.join(args)!r}")
    return rate


def describe_arch(blocks: Sequence[dict[str, Any]]) -> str:
    """The canonical text of parsed blocks (``parse_arch(describe_arch(b)) == b``)."""
    parts = []
    for b in blocks:
        if b["type"] == "conv":
            text = f"conv {b['kernel'][0]}x{b['kernel'][1]}x{b['filters']}"
            text += f" stride {b['stride']}" if b["stride"] != 1 else ""
            text += f" pad {b['padding']}" if b["padding"] else ""
        elif b["type"] == "pool":
            text = f"pool {b['size']}" + (f" stride {b['stride']}" if b["stride"] != b["size"] else "")
        elif b["type"] == "dense":
            text = f"dense {b['units']}"
        elif b["type"] == "bn":
            text = "bn"
        else:
            text = f"dropout {b['rate']:g}"
        parts.append(text)
    return ", ".join(parts)


def layers_from_blocks(blocks: Sequence[dict[str, Any]], n_classes: int,
                       activation: str = "relu") -> list[Layer]:
    """The layers of parsed blocks: the activation after each conv (after its bn and pool, if
    they follow) and each hidden dense (after its bn), a Flatten before the first dense, a dense
    output layer."""
    if activation not in ACTIVATION_LAYERS:
        raise ArchError(f"activation must be one of {', '.join(ACTIVATION_LAYERS)}; got {activation!r}")
    act = ACTIVATION_LAYERS[activation]
    layers: list[Layer] = []
    flat = False
    types = [b["type"] for b in blocks]
    for i, b in enumerate(blocks):
        prev, nxt = _base_neighbours(types, i)
        if b["type"] == "conv":
            if flat:
                raise ArchError(f"item {i + 1}: a conv cannot follow a dense layer")
            layers.append(Conv2D(b["filters"], tuple(b["kernel"]), b["stride"], b["padding"]))
            if nxt not in ("pool", "bn"):
                layers.append(act())
        elif b["type"] == "bn":
            if prev not in ("conv", "dense", "conv pool"):
                raise ArchError(f"item {i + 1}: bn goes right after a conv or dense item, or a "
                                "conv's pool (conv, pool, bn)")
            layers.append(BatchNorm())
            if prev != "conv" or nxt != "pool":
                layers.append(act())
        elif b["type"] == "pool":
            if flat:
                raise ArchError(f"item {i + 1}: a pool cannot follow a dense layer")
            layers.append(MaxPool2D(b["size"], b["stride"]))
            if prev == "conv" and nxt != "bn":
                layers.append(act())
        elif b["type"] == "dense":
            if not flat:
                layers.append(Flatten())
                flat = True
            layers.append(Dense(b["units"]))
            if nxt != "bn":
                layers.append(act())
        else:
            layers.append(Dropout(b["rate"]))
    if not flat:
        layers.append(Flatten())
    layers.append(Dense(n_classes))
    return layers


def _base_neighbours(types: list[str], i: int) -> tuple[str | None, str | None]:
    """The item before item ``i`` and the item after it. A pool right after a conv's bn counts
    the conv as its predecessor (conv, bn, pool); a bn right after a conv's pool has the
    predecessor "conv pool" (conv, pool, bn: the batch norm of the pooled maps)."""
    prev = types[i - 1] if i > 0 else None
    if types[i] == "pool" and prev == "bn" and i > 1 and types[i - 2] == "conv":
        prev = "conv"
    if types[i] == "bn" and prev == "pool" and i > 1 and types[i - 2] == "conv":
        prev = "conv pool"
    return prev, (types[i + 1] if i + 1 < len(types) else None)


def build_network(arch: str, input_shape: Sequence[int], n_classes: int, activation: str = "relu",
                  seed: int = 0, dtype: str = "float32", init: str = "he",
                  max_params: int | None = None) -> Sequential:
    """A fresh network from an architecture text, e.g. for MNIST
    ``build_network("conv 5x5x16, pool 2, dense 128", (1, 28, 28), 10)``; ArchError (before
    allocating) above ``max_params`` parameters."""
    _check_input(input_shape, n_classes)
    layers = layers_from_blocks(parse_arch(arch), n_classes, activation)
    net = _sequential(layers, input_shape, seed, dtype, init, max_params)
    net.meta["arch"] = describe_arch(parse_arch(arch))
    return net


def _check_input(input_shape: Sequence[int], n_classes: int) -> None:
    shape = list(input_shape)
    ok = len(shape) in (1, 3) and all(isinstance(s, int) and not isinstance(s, bool) for s in shape)
    if ok and len(shape) == 3:
        ok = 1 <= shape[0] <= 16 and all(1 <= s <= MAX_INPUT_SIDE for s in shape[1:])
    elif ok:
        ok = 1 <= shape[0] <= MAX_INPUT_SIDE ** 2
    if not ok:
        raise ArchError(f"input_shape must be (channels 1-16, height, width 1-{MAX_INPUT_SIDE}) or "
                        f"(features,); got {input_shape!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or not 2 <= n_classes <= MAX_CLASSES:
        raise ArchError(f"n_classes must be a whole number from 2 to {MAX_CLASSES}; got {n_classes!r}")


def _sequential(layers: list[Layer], input_shape: Sequence[int], seed: int, dtype: str,
                init: str, max_params: int | None) -> Sequential:
    try:
        return Sequential(layers, input_shape, seed=seed, dtype=dtype, init=init, max_params=max_params)
    except ArchError:
        raise
    except ValueError as exc:                        # shapes that do not fit, too many parameters
        raise ArchError(str(exc)) from None


# --- specs -----------------------------------------------------------------------------------
_SPEC_FIELDS: dict[str, dict[str, tuple[int, int] | str]] = {
    "conv2d": {"filters": FILTERS_RANGE, "kernel": KERNEL_RANGE, "stride": STRIDE_RANGE,
               "padding": (0, KERNEL_RANGE[1] - 1)},
    "maxpool2d": {"size": POOL_RANGE, "stride": (1, POOL_RANGE[1])},
    "dense": {"units": UNITS_RANGE},
    "dropout": {"rate": "rate"},
    "flatten": {}, "relu": {}, "tanh": {}, "sigmoid": {}, "batchnorm": {},
}


def layer_from_spec(spec: Any, pos: int = 1) -> Layer:
    """One layer from its ``Layer.spec()`` dict, every field checked."""
    where = f"layer {pos}"
    if not isinstance(spec, dict) or spec.get("type") not in _SPEC_FIELDS:
        raise ArchError(f"{where}: type must be one of {', '.join(_SPEC_FIELDS)}")
    fields = _SPEC_FIELDS[spec["type"]]
    if set(spec) != {"type", *fields}:
        raise ArchError(f"{where} ({spec['type']}): fields must be exactly {sorted(fields)}; "
                        f"got {sorted(k for k in spec if k != 'type')}")
    values = {}
    for name, bounds in fields.items():
        values[name] = _spec_value(spec[name], f"{where} {name}", bounds)
    cls = LAYER_TYPES[spec["type"]]
    if cls is Conv2D:
        return Conv2D(values["filters"], tuple(values["kernel"]), values["stride"], values["padding"])
    if cls is MaxPool2D:
        return MaxPool2D(values["size"], values["stride"])
    if cls is Dense:
        return Dense(values["units"])
    if cls is Dropout:
        return Dropout(values["rate"])
    return cls()


def _spec_value(value: Any, what: str, bounds: tuple[int, int] | str) -> Any:
    if bounds == "rate":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 0.9:
            raise ArchError(f"{what} must be a number from 0 to 0.9; got {value!r}")
        return float(value)
    low, high = bounds
    items = value if isinstance(value, list) and what.endswith("kernel") else [value]
    if what.endswith("kernel") and len(items) != 2:
        raise ArchError(f"{what} must be [height, width]; got {value!r}")
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise ArchError(f"{what} must be a whole number from {low} to {high}; got {value!r}")
    return value


def plan_spec(spec: Any) -> tuple[list[Layer], list[int], str, str, int, list[tuple[int, ...]], int]:
    """Check a spec without allocating anything: (layers, input_shape, dtype, init, seed, per-layer
    output shapes, parameter count). Raises ArchError naming the first bad field."""
    if not isinstance(spec, dict):
        raise ArchError("a network spec must be a dict")
    unknown = sorted(str(k)[:30] for k in spec if k not in ("input_shape", "layers", "seed", "init", "dtype"))
    if unknown:
        raise ArchError(f"unknown spec fields: {', '.join(unknown[:5])}")
    layers_spec = spec.get("layers")
    if not isinstance(layers_spec, list) or not 1 <= len(layers_spec) <= 3 * MAX_ITEMS + 2:
        raise ArchError(f"a spec needs 'layers': a list of 1 to {3 * MAX_ITEMS + 2} layers")
    layers = [layer_from_spec(s, i + 1) for i, s in enumerate(layers_spec)]
    input_shape = spec.get("input_shape")
    if not isinstance(input_shape, list):
        raise ArchError("a spec needs 'input_shape': [channels, height, width] or [features]")
    dtype, init, seed = spec.get("dtype", "float32"), spec.get("init", "he"), spec.get("seed", 0)
    if dtype not in SETTINGS["dtype"].choices or init not in CNN_INITS:
        raise ArchError(f"dtype must be one of {SETTINGS['dtype'].choices} and init one of {CNN_INITS}; "
                        f"got {dtype!r}, {init!r}")
    if not (isinstance(seed, int) and SETTINGS["seed"].item_ok(seed)):
        raise ArchError(f"seed must be {SETTINGS['seed'].allowed()}; got {seed!r}")
    shapes, n_params = _plan(layers, input_shape)
    _check_input(input_shape, shapes[-1][0] if len(shapes[-1]) == 1 else 0)
    return layers, input_shape, dtype, init, seed, shapes, n_params


def spec_param_shapes(spec: Any) -> tuple[dict[str, tuple[int, ...]], str]:
    """The arrays a saved network of this spec holds, by name (as ``param_arrays`` names them),
    with their shapes, and their dtype: what a file must contain, known before reading it."""
    layers, input_shape, dtype, *_ = plan_spec(spec)
    shapes: dict[str, tuple[int, ...]] = {}
    shape = _internal_shape(tuple(input_shape))
    for i, layer in enumerate(layers, start=1):
        for kind, p in zip(layer.param_names + layer.buffer_names,
                           layer.param_shapes(shape) + layer.buffer_shapes(shape)):
            shapes[f"layer{i}_{kind}"] = tuple(p)
        shape = layer.output_shape(shape)
    return shapes, dtype


def from_spec(spec: Any, max_params: int | None = None) -> Sequential:
    """A network from ``Sequential.spec()`` (e.g. read back from a file): every field checked,
    the shapes planned and the parameter count compared with ``max_params`` before allocating."""
    layers, input_shape, dtype, init, seed, _, _ = plan_spec(spec)
    return _sequential(layers, input_shape, seed, dtype, init, max_params)


def arch_cost(arch: str, input_shape: Sequence[int], n_classes: int,
              activation: str = "relu") -> tuple[int, dict[str, int]]:
    """(parameters, ``flops_per_sample``) of the network ``build_network`` would make, computed
    without allocating it (ArchError for a text that does not fit the input)."""
    _check_input(input_shape, n_classes)
    layers = layers_from_blocks(parse_arch(arch), n_classes, activation)
    shapes, n_params = _plan(layers, input_shape)
    forward = train = 0
    first = True
    shape = _internal_shape(tuple(input_shape))
    for layer, out in zip(layers, shapes):
        if isinstance(layer, (Conv2D, Dense)):
            w = layer.param_shapes(shape)[0]
            macs = math.prod(out) * math.prod(w) // (layer.filters if isinstance(layer, Conv2D) else layer.units)
            forward += 2 * macs
            train += 2 * macs * (2 if first else 3)
            first = False
        shape = out
    return n_params, {"forward": forward, "train": train}


def _plan(layers: list[Layer], input_shape: Sequence[int]) -> tuple[list[tuple[int, ...]], int]:
    _check_input(input_shape, 2)
    try:
        return plan_shapes(layers, tuple(input_shape))
    except ValueError as exc:
        raise ArchError(str(exc)) from None


# --- description -----------------------------------------------------------------------------
def summary(model: Sequential) -> str:
    """A table: each layer, its output shape (channels, height, width) and its parameters."""
    rows = [("layer", "output", "params")]
    for layer, shape, in zip(model.layers, model.shapes):
        out = f"{shape[2]}x{shape[0]}x{shape[1]}" if len(shape) == 3 else str(shape[0])
        rows.append((repr(layer), out, f"{sum(p.size for p in layer.params):,}"))
    rows.append(("total", "", f"{model.n_params:,}"))
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:>{w1}}  {c:>10}" for a, b, c in rows)


def flops_per_sample(model: Sequential) -> dict[str, int]:
    """Floating-point operations (a multiply-add counts 2) of the matrix products per sample:
    the forward pass, and a training step (forward, dW, and dX for every layer but the first)."""
    forward = train = 0
    first = True
    for layer, shape in zip(model.layers, model.shapes):
        if isinstance(layer, (Conv2D, Dense)):
            macs = math.prod(shape) * math.prod(layer.params[0].shape) // (
                layer.filters if isinstance(layer, Conv2D) else layer.units)
            forward += 2 * macs
            train += 2 * macs * (2 if first else 3)
            first = False
    return {"forward": forward, "train": train}


# --- files -----------------------------------------------------------------------------------
def param_arrays(model: Sequential) -> dict[str, Any]:
    """The parameters and buffers by name, for an ``.npz``: ``layer3_W``, ``layer3_b``,
    ``layer4_gamma``, ``layer4_beta``, ``layer4_mean``, ``layer4_var`` (layers counted from 1,
    activations and pools included, so a name says where the array belongs)."""
    arrays = {}
    for i, layer in enumerate(model.layers, start=1):
        for kind, p in zip(layer.param_names + layer.buffer_names, layer.params + layer.buffers):
            arrays[f"layer{i}_{kind}"] = p
    return arrays


def network_from_arrays(spec: Any, arrays: dict[str, Any], max_params: int | None = None) -> Sequential:
    """Rebuild a saved network: the spec checked by ``from_spec`` (parameter limit first), then
    every array checked by name, shape and dtype; missing or extra arrays are refused."""
    model = from_spec(spec, max_params)
    expected = param_arrays(model)
    extra = sorted(set(arrays) - set(expected))
    if extra:
        raise ArchError(f"unexpected arrays for this architecture: {extra}")
    for name, target in expected.items():
        value = arrays.get(name)
        if value is None:
            raise ArchError(f"the file lacks {name}")
        if value.shape != target.shape or value.dtype != target.dtype:
            raise ArchError(f"{name} is {value.dtype} {value.shape}; the architecture needs "
                            f"{target.dtype} {target.shape}")
        if name.endswith("_var") and not (value >= 0).all():     # sqrt(var + eps) must exist
            raise ArchError(f"{name} holds negative (or NaN) variances")
        target[...] = value
    return model
