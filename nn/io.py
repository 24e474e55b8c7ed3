"""Save and load models as plain ``.npz`` archives (no pickle).

Layout: ``W1, b1, W2, b2, ...`` as arrays, and ``meta`` as a JSON string holding the
architecture, activation, init, seed, dataset, preprocessing and training history.

``load`` trusts nothing in the file: it checks the file's size, the zip directory, the metadata
and every array's ``.npy`` header against ``nn.hosting.limits()`` before it reads or allocates
the data those imply (``nn.model_file``, ``nn.model_meta``), and builds the model last.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import hosting
from .model import MLP
from .model_file import (READ_ERRORS, Header, ModelFormatError, check_layout, open_archive,
                         open_source, read_array, read_bytes, read_header, readable_error)
from .model_meta import ARCHITECTURE, FORMAT, MAX_META_CHARS, check_meta, parse_meta

__all__ = ["FORMAT", "ModelFormatError", "load", "model_to_bytes", "save_model"]


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
    """Load a model saved by ``MLP.save`` from a path, bytes or a binary file; raise
    ``ModelFormatError`` (one line, the reason) for anything else. Nothing is built until the
    whole file has been checked, and no more memory is spent than its checked sizes imply."""
    limits = hosting.limits()
    f = open_source(source, limits.max_model_bytes)
    try:
        with open_archive(f, limits.max_model_bytes) as archive:
            return _load_archive(archive, limits.max_params)
    except ModelFormatError:
        raise
    except READ_ERRORS as exc:
        raise readable_error(exc) from None
    finally:
        if f is not source:
            f.close()


def _load_archive(archive: zipfile.ZipFile, max_params: int) -> MLP:
    names = {info.filename.removesuffix(".npy") for info in archive.infolist()}
    if "meta" not in names:
        raise ModelFormatError("the file has no 'meta' entry: it was not saved by this library")
    meta = check_meta(parse_meta(_meta_text(archive)), max_params)
    sizes = meta["layer_sizes"]
    expected = _param_names(len(sizes) - 1)
    extra = names - set(expected) - {"meta"}
    if extra:
        raise ModelFormatError(f"unexpected entries in the model file: {sorted(extra)}")
    missing = [name for name in expected if name not in names]
    if missing:
        raise ModelFormatError(f"the model file lacks {missing[0]}")
    dtype = np.dtype(meta["dtype"])
    headers = [_param_header(archive, name, shape, dtype)
               for name, shape in zip(expected, _param_shapes(sizes))]
    arrays = [read_array(archive, h) for h in headers]          # every size checked above
    for h, value in zip(headers, arrays):
        if not np.isfinite(value).all():
            raise ModelFormatError(f"{h.name} holds NaN or infinite values")
    return _build(meta, arrays)


def _meta_text(archive: zipfile.ZipFile) -> str:
    """The metadata JSON, stored as a 0-d NumPy unicode string (4 bytes a character)."""
    header = read_header(archive, "meta")
    if header.dtype.kind != "U" or header.shape != ():
        raise ModelFormatError(f"the 'meta' entry must be a text; it holds {header.dtype} "
                               f"of shape {header.shape}")
    if header.dtype.itemsize > 4 * MAX_META_CHARS:
        raise ModelFormatError(f"the 'meta' entry is {header.dtype.itemsize // 4} characters; "
                               f"at most {MAX_META_CHARS}")
    check_layout(header)
    encoding = "utf-32-be" if header.dtype.byteorder == ">" else "utf-32-le"
    try:
        return read_bytes(archive, header).decode(encoding).rstrip("\x00")
    except UnicodeDecodeError:
        raise ModelFormatError("the 'meta' entry is not valid text") from None


def _param_shapes(sizes: list[int]) -> list[tuple[int, ...]]:
    return [shape for a, b in zip(sizes, sizes[1:]) for shape in ((a, b), (b,))]


def _param_header(archive: zipfile.ZipFile, name: str, shape: tuple[int, ...],
                  dtype: np.dtype) -> Header:
    """The header of array ``name``, checked against what the architecture needs."""
    header = read_header(archive, name)
    if header.dtype.hasobject:
        raise ModelFormatError(f"not a readable .npz model file: {name} holds Python objects, "
                               "which a model file never does")
    if header.shape != shape:
        raise ModelFormatError(f"{name} has shape {header.shape}; the architecture needs {shape}")
    if header.dtype != dtype:
        raise ModelFormatError(f"{name} has dtype {header.dtype}; expected {dtype}")
    check_layout(header)
    return header


def _build(meta: dict[str, Any], arrays: list[np.ndarray]) -> MLP:
    """The model, from checked metadata and arrays: the last step, so a refusal builds nothing."""
    try:
        model = MLP(meta["layer_sizes"], activation=meta["activation"], init=meta.get("init", "he"),
                    seed=meta.get("seed", 0), dtype=meta["dtype"])
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"bad model settings in the file ({exc})") from None
    for target, value in zip(model.params, arrays):
        np.copyto(target, value)
    model.meta = {k: v for k, v in meta.items() if k not in ARCHITECTURE}
    return model
