"""Save and load models as plain ``.npz`` archives (no pickle).

Layout of an ``nn.MLP`` (format "nn-mlp/1"): ``W1, b1, W2, b2, ...`` as arrays, and ``meta`` as a
JSON string holding the architecture, activation, init, seed, dataset, preprocessing and training
history. A ``Sequential`` (format "nn-seq/1", ``nn.core``): ``meta`` holds its spec (the layers,
input shape, dtype) instead of the layer sizes, and the arrays are named by layer
(``layer1_W, layer1_b, layer4_W, ...``, ``nn.core.param_arrays``).

``load`` trusts nothing in the file: it checks the file's size, the zip directory, the metadata
and every array's ``.npy`` header against ``nn.hosting.limits()`` before it reads or allocates
the data those imply (``nn.files.model_file``, ``nn.files.model_meta``), and builds the model last.
A network's ``arch`` text is rebuilt from its layers (``arch_from_layers``), never taken from the file.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from nn.hosting import limits as server_limits
from nn.core import Sequential, network_from_arrays, param_arrays
from nn.core.mlp import MLP
from nn.files.model_file import (READ_ERRORS, Header, ModelFormatError, check_layout, open_archive,
                                 open_source, read_array, read_bytes, read_header, readable_error)
from nn.files.model_meta import (ARCHITECTURE, FORMAT, MAX_META_CHARS, SEQ_ARCHITECTURE, SEQ_FORMAT,
                                 arch_from_layers, check_meta, check_seq_meta, parse_meta)

__all__ = ["FORMAT", "SEQ_FORMAT", "ModelFormatError", "load", "model_to_bytes", "save"]
Model = MLP | Sequential


def _param_names(n_layers: int) -> list[str]:
    return [f"{kind}{i}" for i in range(1, n_layers + 1) for kind in ("W", "b")]


def save(model: Model, path_or_file: str | Path | IO[bytes]) -> None:
    """Write ``model`` as a pickle-free ``.npz``: its arrays and, in ``meta``, its spec (the layer
    sizes, or a Sequential's ``spec()``) and metadata; ``load`` reads it back, checking everything."""
    if isinstance(model, Sequential):
        meta = {"format": SEQ_FORMAT, "spec": model.spec(), **model.meta}
        arrays = param_arrays(model)
    else:
        meta = {"format": FORMAT, "layer_sizes": model.layer_sizes, "activation": model.activation,
                "init": model.init, "seed": model.seed, "dtype": model.dtype.name, "task": model.task,
                **model.meta}
        arrays = dict(zip(_param_names(len(model.params) // 2), model.params))
    target = str(path_or_file) if isinstance(path_or_file, Path) else path_or_file
    np.savez_compressed(target, meta=np.array(json.dumps(meta, default=_json_default)), **arrays)


def model_to_bytes(model: Model) -> bytes:
    buf = io.BytesIO()
    save(model, buf)
    return buf.getvalue()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in model metadata")


def load(source: str | Path | bytes | IO[bytes]) -> Model:
    """Load a model written by ``save`` from a path, bytes or a binary file; raise
    ``ModelFormatError`` (one line, the reason) for anything else. Nothing is built until the
    whole file has been checked, and no more memory is spent than its checked sizes imply."""
    limits = server_limits()
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


def _load_archive(archive: zipfile.ZipFile, max_params: int) -> Model:
    names = {info.filename.removesuffix(".npy") for info in archive.infolist()}
    if "meta" not in names:
        raise ModelFormatError("the file has no 'meta' entry: it was not saved by this library")
    meta = parse_meta(_meta_text(archive))
    if meta["format"] == SEQ_FORMAT:
        meta, shapes, dtype_name = check_seq_meta(meta, max_params)   # nothing allocated yet
        arrays = _read_params(archive, names, shapes, np.dtype(dtype_name))
        return _build_sequential(meta, dict(zip(shapes, arrays)))
    meta = check_meta(meta, max_params)
    sizes = meta["layer_sizes"]
    shapes = dict(zip(_param_names(len(sizes) - 1), _param_shapes(sizes)))
    return _build(meta, _read_params(archive, names, shapes, np.dtype(meta["dtype"])))


def _read_params(archive: zipfile.ZipFile, names: set[str], shapes: dict[str, tuple[int, ...]],
                 dtype: np.dtype) -> list[np.ndarray]:
    """The arrays ``shapes`` names, in its order: the names, then every header checked before
    any data is read; each array finite."""
    extra = names - set(shapes) - {"meta"}
    if extra:
        raise ModelFormatError(f"unexpected entries in the model file: {sorted(extra)}")
    missing = [name for name in shapes if name not in names]
    if missing:
        raise ModelFormatError(f"the model file lacks {missing[0]}")
    headers = [_param_header(archive, name, shape, dtype) for name, shape in shapes.items()]
    arrays = [read_array(archive, h) for h in headers]          # every size checked above
    for h, value in zip(headers, arrays):
        if not np.isfinite(value).all():
            raise ModelFormatError(f"{h.name} holds NaN or infinite values")
    return arrays


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
                    seed=meta.get("seed", 0), dtype=meta["dtype"], task=meta.get("task", "classification"))
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"bad model settings in the file ({exc})") from None
    for target, value in zip(model.params, arrays):
        np.copyto(target, value)
    model.meta = {k: v for k, v in meta.items() if k not in ARCHITECTURE}
    return model


def _build_sequential(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Sequential:
    """A Sequential from its checked spec and arrays (``network_from_arrays`` checks them again)."""
    try:
        model = network_from_arrays(meta["spec"], arrays, server_limits().max_params)
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"bad network in the file ({str(exc)[:200]})") from None
    model.meta = {k: v for k, v in meta.items() if k not in (*SEQ_ARCHITECTURE, "arch")}
    arch = arch_from_layers(model.spec()["layers"])      # the layers' own text, not the file's
    if arch is not None:
        model.meta["arch"] = arch
    return model
