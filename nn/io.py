"""Save and load models as plain ``.npz`` archives (no pickle).

Layout: ``W1, b1, W2, b2, ...`` as arrays, and ``meta`` as a JSON string holding the
architecture, activation, init, seed, dataset, preprocessing and training history.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from .activations import ACTIVATIONS
from .model import DTYPES, MLP, validate_layer_sizes

FORMAT = "nn-mlp/1"
MAX_FILE_BYTES = 200 * 1024 * 1024


class ModelFormatError(ValueError):
    """The file is not a model this library saved, or it is damaged."""


def _param_names(n_layers: int) -> list[str]:
    return [f"{kind}{i}" for i in range(1, n_layers + 1) for kind in ("W", "b")]


def save_model(model: MLP, path_or_file: str | Path | IO[bytes]) -> None:
    meta = {"format": FORMAT, "layer_sizes": model.layer_sizes, "activation": model.activation,
            "init": model.init, "seed": model.seed, "dtype": model.dtype.name, **model.meta}
    arrays = dict(zip(_param_names(len(model.params) // 2), model.params))
    target = str(path_or_file) if isinstance(path_or_file, Path) else path_or_file
    np.savez_compressed(target, meta=np.array(json.dumps(meta, default=_json_default)), **arrays)


def model_to_bytes(model: MLP) -> bytes:
    buf = io.BytesIO()
    save_model(model, buf)
    return buf.getvalue()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in model metadata")


def load(source: str | Path | bytes | IO[bytes]) -> MLP:
    """Load a model saved by ``MLP.save``; raise ``ModelFormatError`` for anything else."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        with np.load(source, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ModelFormatError(f"not a readable .npz model file ({exc})") from None
    return _model_from_arrays(arrays)


def _read_meta(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if "meta" not in arrays:
        raise ModelFormatError("the file has no 'meta' entry: it was not saved by this library")
    try:
        meta = json.loads(str(arrays["meta"][()]))
    except (ValueError, TypeError, IndexError) as exc:
        raise ModelFormatError(f"the 'meta' entry is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFormatError(f"unknown model format; expected {FORMAT!r}")
    return meta


def _model_from_arrays(arrays: dict[str, np.ndarray]) -> MLP:
    meta = _read_meta(arrays)
    try:
        sizes = validate_layer_sizes(meta["layer_sizes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"bad layer_sizes in the model file ({exc})") from None
    if meta.get("activation") not in ACTIVATIONS:
        raise ModelFormatError(f"unknown activation {meta.get('activation')!r}")
    if meta.get("dtype") not in DTYPES:
        raise ModelFormatError(f"unsupported dtype {meta.get('dtype')!r}; expected one of {DTYPES}")
    names = _param_names(len(sizes) - 1)
    extra = set(arrays) - set(names) - {"meta"}
    if extra:
        raise ModelFormatError(f"unexpected entries in the model file: {sorted(extra)}")
    try:
        model = MLP(sizes, activation=meta["activation"], init=str(meta.get("init", "he")),
                    seed=int(meta.get("seed", 0)), dtype=meta["dtype"])
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"bad model settings in the file ({exc})") from None
    for name, target in zip(names, model.params):
        _check_param(name, arrays.get(name), target)
        np.copyto(target, arrays[name])
    model.meta = {k: v for k, v in meta.items()
                  if k not in ("format", "layer_sizes", "activation", "init", "seed", "dtype")}
    return model


def _check_param(name: str, value: np.ndarray | None, like: np.ndarray) -> None:
    if value is None:
        raise ModelFormatError(f"the model file lacks {name}")
    if value.shape != like.shape:
        raise ModelFormatError(f"{name} has shape {value.shape}; the architecture needs {like.shape}")
    if value.dtype != like.dtype:
        raise ModelFormatError(f"{name} has dtype {value.dtype}; expected {like.dtype}")
    if not np.isfinite(value).all():
        raise ModelFormatError(f"{name} holds NaN or infinite values")
