"""The metadata of a model file (its ``meta`` JSON), parsed and checked before anything is built.

``parse_meta`` bounds the text's nesting before ``json.loads`` sees it (a 100,000-deep nest is
refused cleanly, not by a RecursionError) and refuses NaN/Infinity. ``check_meta`` checks every
field against the schema below: types, ranges, lengths, and the parameter count the layer sizes
imply. Unknown keys are refused (never silently dropped), so what is loaded is what was saved:
to store a new key, add it to ``OPTIONAL`` with its check.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Callable

import numpy as np

from nn.core.config import RunConfig
from nn.core.history import HistoryError, check_history, short
from nn.core.mlp import validate_layer_sizes
from nn.core.settings import SETTINGS, ConfigError
from nn.files.model_file import ModelFormatError

FORMAT = "nn-mlp/1"
SEQ_FORMAT = "nn-seq/1"         # a Sequential (nn.core): its spec instead of layer_sizes
MAX_META_CHARS = 8_000_000      # the JSON text; a record of history is about 220 characters
MAX_DEPTH = 8                   # meta {history [record {}]}: 3 levels are used
MAX_LAYERS = 12                 # input, up to 10 hidden, output (and one spare)
TEXT = re.compile(r"[\w .,:/+=-]{0,100}", re.ASCII)    # names: no markup, no control characters
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|"|[\[\]{}]+')
_OPENERS = np.frombuffer(b"[{", np.uint8)

ARCHITECTURE = ("format", "layer_sizes", "activation", "init", "seed", "dtype", "task")
SEQ_ARCHITECTURE = ("format", "spec")


# --- text to JSON ------------------------------------------------------------------------------
def parse_meta(text: str) -> dict[str, Any]:
    """The JSON object in ``text``, after bounding its length and nesting depth."""
    if len(text) > MAX_META_CHARS:
        raise ModelFormatError(f"the 'meta' entry is {len(text)} characters; at most {MAX_META_CHARS}")
    depth = nesting_depth(text, MAX_DEPTH)
    if depth > MAX_DEPTH:
        raise ModelFormatError(f"the 'meta' entry is nested more than {MAX_DEPTH} levels deep")
    try:
        meta = json.loads(text, parse_constant=_no_constant)
    except (ValueError, TypeError) as exc:
        raise ModelFormatError(f"the 'meta' entry is not valid JSON ({str(exc)[:100]})") from None
    if not isinstance(meta, dict) or meta.get("format") not in (FORMAT, SEQ_FORMAT):
        raise ModelFormatError(f"unknown model format; expected {FORMAT!r} or {SEQ_FORMAT!r}")
    return meta


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a model file may hold")


def nesting_depth(text: str, stop_above: int) -> int:
    """The deepest nesting of ``[`` and ``{`` outside JSON strings, counted in linear time; stops
    counting once above ``stop_above``. Invalid JSON may give any figure: ``json.loads`` then
    refuses it."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token[0] == '"':
            if len(token) == 1:          # an unterminated string: invalid, let json say so
                return depth
            continue
        if len(token) <= 16:                      # the usual "}, {" and "]}": no NumPy needed
            for ch in token:
                depth += 1 if ch in "[{" else -1
                if depth > stop_above:
                    return depth
            continue
        steps = np.where(np.isin(np.frombuffer(token.encode("ascii"), np.uint8), _OPENERS), 1, -1)
        levels = depth + np.cumsum(steps)
        if levels.max() > stop_above:
            return int(levels.max())
        depth = int(levels[-1])
    return depth


# --- the schema --------------------------------------------------------------------------------
def check_meta(meta: dict[str, Any], max_params: int) -> dict[str, Any]:
    """``meta`` with every field checked (a ``ModelFormatError`` names the first bad one);
    ``layer_sizes`` as a list of ints whose parameter count is within ``max_params``."""
    unknown = sorted(set(meta) - set(ARCHITECTURE) - set(OPTIONAL))
    if unknown:
        raise ModelFormatError(f"unknown entries in the model's metadata: "
                               f"{', '.join(short(k, 30) for k in unknown[:5])}")
    checked = dict(meta)
    for name, words in (("activation", "unknown activation"), ("init", "unknown init"),
                        ("dtype", "unsupported dtype"), ("seed", "bad seed"), ("task", "unknown task")):
        setting = SETTINGS[name]
        value = meta.get(name, setting.default)
        if not setting.item_ok(value):
            raise ModelFormatError(f"{words} {short(value)}; {name} must be {setting.allowed()}")
    checked["layer_sizes"] = check_layer_sizes(meta.get("layer_sizes"), max_params,
                                               meta.get("task", SETTINGS["task"].default))
    for key, check in OPTIONAL.items():
        if key in meta:
            check(meta[key])
    _check_features(meta.get("config"), checked["layer_sizes"][0])
    return checked


def _check_features(config: Any, n_inputs: int) -> None:
    """A 2-D model's record names as many input features (``features_2d``) as it has inputs: a
    loaded model expands the plane's points to exactly those (nn.data.features)."""
    from nn.data.features import FEATURE_DATASETS
    if not isinstance(config, dict) or config.get("dataset") not in FEATURE_DATASETS:
        return
    names = config.get("features_2d")         # none named (saved before features existed): not checked
    if isinstance(names, list) and len(names) != n_inputs:
        raise ModelFormatError(f"the model has {n_inputs} inputs but its config names {len(names)} "
                               f"input features (features_2d: {short(names)})")


def check_seq_meta(meta: dict[str, Any], max_params: int) -> tuple[dict[str, Any], dict[str, tuple[int, ...]], str]:
    """A Sequential's metadata checked like ``check_meta``: its spec through nn.core's bounded
    checks (layer types, sizes, depth, shapes that fit) and the parameter count against
    ``max_params``, all without allocating. Returns (meta, the arrays the file must hold by name
    with their shapes, their dtype)."""
    from nn.core import ArchError, spec_param_shapes
    unknown = sorted(set(meta) - set(SEQ_ARCHITECTURE) - set(OPTIONAL) - {"arch"})
    if unknown:
        raise ModelFormatError(f"unknown entries in the model's metadata: "
                               f"{', '.join(short(k, 30) for k in unknown[:5])}")
    try:
        shapes, dtype = spec_param_shapes(meta.get("spec"))
    except ArchError as exc:
        raise ModelFormatError(f"bad network spec in the model file ({short(str(exc), 200)})") from None
    n = sum(math.prod(s) for s in shapes.values())
    if n > max_params:
        raise ModelFormatError(f"the network spec means {n:,} parameters; the limit is "
                               f"{max_params:,} (NN_MAX_PARAMS)")
    if "arch" in meta:
        _check_arch(meta["arch"])
    for key, check in OPTIONAL.items():
        if key in meta:
            check(meta[key])
    return dict(meta), shapes, dtype


def _check_arch(value: Any) -> None:
    from nn.core import ArchError, parse_arch
    try:
        parse_arch(value)
    except ArchError as exc:
        raise ModelFormatError(f"bad arch in the model file ({short(str(exc), 200)})") from None


# --- the architecture text, rebuilt from the layers ---------------------------------------------
_BLOCKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "conv2d": lambda s: {"type": "conv", "kernel": list(s["kernel"]), "filters": s["filters"],
                         "stride": s["stride"], "padding": s["padding"]},
    "maxpool2d": lambda s: {"type": "pool", "size": s["size"], "stride": s["stride"]},
    "dense": lambda s: {"type": "dense", "units": s["units"]},
    "dropout": lambda s: {"type": "dropout", "rate": s["rate"]},
    "batchnorm": lambda s: {"type": "bn"},
}


def arch_from_layers(layers: list[dict[str, Any]]) -> str | None:
    """The architecture text (``nn.core.parse_arch``) that builds exactly these layer specs
    (``Sequential.spec()["layers"]``), or None when no text does (mixed activations, a layout
    ``build_network`` never makes). A file's own ``arch`` entry is never trusted: this is."""
    from nn.core import ArchError, describe_arch, parse_arch
    from nn.core.arch import ACTIVATION_LAYERS, layers_from_blocks
    acts = {s["type"] for s in layers if s["type"] in ACTIVATION_LAYERS}
    if len(acts) > 1 or not layers or layers[-1]["type"] != "dense":
        return None
    blocks = [_BLOCKS[s["type"]](s) for s in layers[:-1] if s["type"] in _BLOCKS]
    try:
        text = describe_arch(blocks)
        rebuilt = layers_from_blocks(parse_arch(text), layers[-1]["units"],
                                    acts.pop() if acts else "relu")   # none: any one will do
    except (ArchError, KeyError, TypeError, ValueError):
        return None
    return text if [layer.spec() for layer in rebuilt] == layers else None


def check_layer_sizes(value: Any, max_params: int, task: str = "classification") -> list[int]:
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_LAYERS:
        raise ModelFormatError(f"bad layer_sizes in the model file: expected a list of 2 to "
                               f"{MAX_LAYERS} whole numbers; got {short(value)}")
    try:
        sizes = validate_layer_sizes(value, task)
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"bad layer_sizes in the model file ({exc})") from None
    n = n_params(sizes)
    if n > max_params:
        raise ModelFormatError(f"layer_sizes {sizes} mean {n:,} parameters; the limit is "
                               f"{max_params:,} (NN_MAX_PARAMS)")
    return sizes


def n_params(sizes: list[int]) -> int:
    """Weights and biases of a network with these layer sizes."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def _text(key: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not TEXT.fullmatch(value)):
            raise ModelFormatError(f"{key} must be a name of up to 100 letters, digits or "
                                   f"'_ .,:/+=-'; got {short(value)}")
    return check


def _check_config(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise ModelFormatError(f"config must be a dict of training settings; got {short(value)}")
    unknown = sorted(set(value) - set(RunConfig.__dataclass_fields__))
    if unknown:
        raise ModelFormatError(f"unknown training settings in config: "
                               f"{', '.join(short(k, 30) for k in unknown[:5])}")
    try:
        RunConfig.from_dict(value).validate()
    except (ConfigError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"bad config in the model file: {str(exc)[:200]}") from None


def _check_history(value: Any) -> None:
    try:
        check_history(value)
    except HistoryError as exc:
        raise ModelFormatError(str(exc)) from None


def _check_schema(value: Any) -> None:
    """A table model's columns, classes and standardisation (nn.data.tables checks every field)."""
    from nn.data.tables import schema_damage    # here: nn.data.tables imports pandas (slow to load)
    damage = schema_damage(value)
    if damage:
        raise ModelFormatError(damage)


OPTIONAL: dict[str, Callable[[Any], None]] = {
    "dataset": _text("dataset"),
    "preprocessing": _text("preprocessing"),
    "config": _check_config,
    "history": _check_history,
    "schema": _check_schema,
}
