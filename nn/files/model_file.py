"""Reading a model archive without trusting it.

A model file is a zip of ``.npy`` members. Everything a visitor's file claims is checked before
the memory it implies is spent: the file's size, then the zip directory (member count, names,
declared sizes, compression), then each member's ``.npy`` header (dtype, shape, and that the
member's declared size is exactly header + data). Data are then read in bounded chunks, never
more than the size already checked, so a member that inflates beyond what it declares cannot
make us allocate more (``zipfile`` stops at the declared size and checks the CRC).

Every refusal is a ``ModelFormatError`` with a one-line reason.
"""
from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from nn.core.history import short

# An MLP file: meta + W1..W11, b1..b11 (12 layer sizes at most). A Sequential's ("nn-seq/1"):
# meta + layerK_W, layerK_b for each layer with parameters (K up to 62, nn.core.arch's 3 x 20
# items + 2; at most 21 such layers: 20 items and the output layer), and layerK_gamma, _beta,
# _mean, _var for a batch norm (4 arrays for a 'bn' item: at most 20 such items).
MAX_MEMBERS = 1 + 4 * 20 + 2
MAX_DIRECTORY_BYTES = MAX_MEMBERS * 1024 # the zip's central directory, all entries together
MAX_NPY_HEADER = 10_000                  # numpy's own limit on a header it will parse
CHUNK = 1 << 20                          # bytes per bounded read
MEMBER_NAME = re.compile(r"(meta|[Wb](?:[1-9]|1[01])|layer(?:[1-9]|[1-5][0-9]|6[0-2])_(?:[Wb]|gamma|beta|mean|var))\.npy")
# Errors the standard library raises on damaged archives (zlib and struct are not wrapped by zipfile).
READ_ERRORS = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error, struct.error,
               NotImplementedError, RuntimeError, UnicodeError, OverflowError)


class ModelFormatError(ValueError):
    """The file is not a model this library saved, or it is damaged."""


def readable_error(exc: BaseException) -> ModelFormatError:
    """A damaged-archive exception as a one-line ``ModelFormatError``."""
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ModelFormatError(f"not a readable .npz model file ({detail[:160]})")


# --- the file as a whole -----------------------------------------------------------------------
def open_source(source: str | Path | bytes | bytearray | IO[bytes], max_bytes: int) -> IO[bytes]:
    """A seekable binary file for ``source``, after checking its size against ``max_bytes``."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        _check_size(len(source), max_bytes)
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            _check_size(path.stat().st_size, max_bytes)
            return open(path, "rb")
        except OSError as exc:
            raise ModelFormatError(f"cannot open the model file {short(str(path))} "
                                   f"({exc.strerror or exc})") from None
    if not hasattr(source, "read"):
        raise ModelFormatError(f"cannot read a model from {type(source).__name__}; "
                               "give a path, bytes or a binary file")
    if _seekable(source):
        start = source.tell()
        size = source.seek(0, io.SEEK_END) - start
        source.seek(start)
        _check_size(size, max_bytes)
        return source
    data = source.read(max_bytes + 1)                     # a stream: read at most one byte too many
    _check_size(len(data), max_bytes)
    return io.BytesIO(data)


def _seekable(f: IO[bytes]) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _check_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise ModelFormatError("not a readable .npz model file (the file is empty)")
    if size > max_bytes:
        raise ModelFormatError(f"the model file is {_mb(size)}; the limit is {_mb(max_bytes)} "
                               "(NN_MAX_MODEL_MB)")


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


# --- the zip directory -------------------------------------------------------------------------
def open_archive(f: IO[bytes], max_bytes: int) -> zipfile.ZipFile:
    """The archive, once its directory is small and every member is one we know, declared
    within ``max_bytes`` in all (inflated), stored or deflated, not encrypted, not repeated."""
    _check_end_record(f)
    archive = zipfile.ZipFile(f)
    try:
        check_members(archive.infolist(), max_bytes)
    except ModelFormatError:
        archive.close()
        raise
    return archive


def _check_end_record(f: IO[bytes]) -> None:
    """Bound the central directory before ``zipfile`` parses it (one object per entry)."""
    end = zipfile._EndRecData(f)      # the stdlib's reader of the end record, zip64 included
    if end is None:
        raise ModelFormatError("not a readable .npz model file (it is not a zip archive)")
    entries, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > MAX_MEMBERS or size > MAX_DIRECTORY_BYTES:
        raise ModelFormatError(f"the model file lists {entries} entries in {size} bytes; a model "
                               f"has at most {MAX_MEMBERS} entries")


def check_members(infos: list[zipfile.ZipInfo], max_bytes: int) -> None:
    names = [i.filename for i in infos]
    unknown = [n for n in names if not MEMBER_NAME.fullmatch(n)]
    if unknown:
        shown = ", ".join(short(n.removesuffix(".npy"), 40) for n in unknown[:5])
        raise ModelFormatError(f"unexpected entries in the model file: [{shown}]")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ModelFormatError(f"the model file holds {', '.join(repeated)} more than once")
    total = 0
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFormatError(f"{info.filename} uses an unsupported compression method")
        if info.flag_bits & 0x1:
            raise ModelFormatError(f"{info.filename} is encrypted")
        total += info.file_size
        if info.file_size > max_bytes or total > max_bytes:
            raise ModelFormatError(f"the model file's entries inflate to more than {_mb(max_bytes)} "
                                   f"({info.filename} alone declares {_mb(info.file_size)}); the "
                                   "limit is NN_MAX_MODEL_MB")


# --- members: .npy headers and bounded reads ---------------------------------------------------
@dataclass(frozen=True)
class Header:
    name: str                 # the member's name without ".npy"
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int               # where the data start in the member
    data_bytes: int           # what the member holds after its header (declared size - offset)

    @property
    def nbytes(self) -> int:
        """What the header's dtype and shape need."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def read_header(archive: zipfile.ZipFile, name: str) -> Header:
    """The ``.npy`` header of member ``name`` (without ".npy"), reading at most its header."""
    info = archive.getinfo(name + ".npy")
    with archive.open(info) as f:
        shape, fortran, dtype, offset = _parse_header(f, name)
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ModelFormatError(f"{name} has a negative size in its shape {shape}")
    return Header(name, shape, dtype, bool(fortran), offset, info.file_size - offset)


def _parse_header(f: IO[bytes], name: str) -> tuple[tuple, bool, np.dtype, int]:
    prefix = f.read(8)
    try:
        major, _ = np.lib.format.read_magic(io.BytesIO(prefix))
    except ValueError:
        raise ModelFormatError(f"{name} is not a NumPy array (.npy)") from None
    if major not in (1, 2):
        raise ModelFormatError(f"{name} uses .npy format version {major}; expected 1 or 2")
    length_format = "<H" if major == 1 else "<I"
    length_bytes = f.read(struct.calcsize(length_format))
    if len(length_bytes) != struct.calcsize(length_format):
        raise ModelFormatError(f"{name} is truncated in its header")
    (length,) = struct.unpack(length_format, length_bytes)
    if length > MAX_NPY_HEADER:
        raise ModelFormatError(f"{name} has a {length}-byte .npy header; at most {MAX_NPY_HEADER}")
    header = f.read(length)
    reader = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    try:
        shape, fortran, dtype = reader(io.BytesIO(length_bytes + header))
    except (ValueError, TypeError, SyntaxError) as exc:
        raise ModelFormatError(f"{name} has an unreadable .npy header "
                               f"({str(exc).splitlines()[0][:100]})") from None
    return shape, fortran, dtype, len(prefix) + len(length_bytes) + length


def check_layout(header: Header) -> None:
    """The member holds exactly what its header declares: no more, no less."""
    if header.data_bytes != header.nbytes:
        raise ModelFormatError(f"{header.name}'s header declares shape {header.shape} "
                               f"({header.nbytes} bytes of {header.dtype}) but the entry holds "
                               f"{header.data_bytes} bytes after it")


def read_array(archive: zipfile.ZipFile, header: Header) -> np.ndarray:
    """The member's data as an array of its (already checked) shape and dtype: allocates exactly
    ``header.nbytes`` and reads at most that many bytes."""
    out = np.empty(header.shape, dtype=header.dtype, order="F" if header.fortran_order else "C")
    target = memoryview(out.reshape(-1, order="A").view(np.uint8))
    with archive.open(header.name + ".npy") as f:
        _skip(f, header.offset)
        filled = 0
        for chunk in _chunks(f, header.nbytes):
            target[filled:filled + len(chunk)] = chunk
            filled += len(chunk)
    if filled != header.nbytes:
        raise ModelFormatError(f"{header.name} is truncated: {filled} of {header.nbytes} bytes")
    return out


def read_bytes(archive: zipfile.ZipFile, header: Header) -> bytearray:
    """The member's data (after its header), at most ``header.nbytes`` bytes."""
    data = bytearray()
    with archive.open(header.name + ".npy") as f:
        _skip(f, header.offset)
        for chunk in _chunks(f, header.nbytes):
            data += chunk
    if len(data) != header.nbytes:
        raise ModelFormatError(f"{header.name} is truncated: {len(data)} of {header.nbytes} bytes")
    return data


def _skip(f: IO[bytes], n: int) -> None:
    if len(f.read(n)) != n:
        raise ModelFormatError("an entry of the model file is truncated in its header")


def _chunks(f: IO[bytes], n: int) -> Iterator[bytes]:
    """Up to ``n`` bytes of ``f`` in bounded pieces; stops early at the end of the member."""
    left = n
    while left > 0:
        chunk = f.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk
