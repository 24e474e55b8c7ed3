"""A Parquet file's page headers: how much pyarrow will decompress at once, read before it does.

pyarrow decompresses a whole page into a buffer of the size its header gives (a page that
inflates further is an error), and holds one page (and the dictionary) per column while reading
a row group. The footer's sizes may lie; the page headers bound what is allocated. pyarrow's own
``RowGroupMetaData.column`` aborts the whole process on some damaged footers instead of raising,
so the footer's column chunks are read here too, with just enough of Thrift's compact protocol.
"""
from __future__ import annotations

from nn.data.tables.limits import TableError, TableLimits

MAX_PAGES = 200_000          # page headers read at most (honest files have a few thousand)
MAX_CHUNKS = 50_000          # row groups x columns: pyarrow keeps ~1 KB for each
THRIFT_STEPS = 8_000_000     # Thrift bytes read at most, footer and page headers (~3 s)


class _Thrift:
    """Just enough of Thrift's compact protocol to read Parquet page headers, bounded."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.steps = data, 0, 0

    def byte(self) -> int:
        self.steps += 1
        if self.steps > THRIFT_STEPS:
            raise TableError(f"the Parquet file's footer and page headers hold more than "
                             f"{THRIFT_STEPS:,} values: too many row groups or pages")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        out = shift = 0
        while shift < 70:
            b = self.byte()
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                return out
            shift += 7
        raise ValueError("a Thrift number is too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def struct(self, depth: int = 0, want: tuple[int, ...] = (), read=None) -> dict[int, int]:
        """Read a struct: its integer fields whose ids are in ``want`` are returned; a field
        ``read(field, kind)`` takes (returning True) is left to it; the others are skipped."""
        found, field = {}, 0
        while (head := self.byte()) != 0:
            kind, delta = head & 0x0F, head >> 4
            field = field + delta if delta else self.zigzag()
            if field in want and kind in (5, 6):
                found[field] = self.zigzag()
            elif not (read and read(field, kind)):
                self.skip(kind, depth)
        return found

    def structs(self, kind: int) -> int:
        """The length of a list of structs (after checking it is one)."""
        if kind != 9:
            raise ValueError("a Thrift list was expected")
        head = self.byte()
        n = head >> 4 if head >> 4 != 15 else self.varint()
        if head & 0x0F != 12:
            raise ValueError("a Thrift list of structs was expected")
        return n

    def skip(self, kind: int, depth: int) -> None:
        if depth > 16:
            raise ValueError("Thrift structs nested too deep")
        if kind in (3, 7, 8):                             # byte, double, binary
            n = 1 if kind == 3 else 8 if kind == 7 else self.varint()
            self.pos += n
        elif kind in (4, 5, 6):                           # integers
            self.varint()
        elif kind in (9, 10):                             # list, set
            head = self.byte()
            n = head >> 4 if head >> 4 != 15 else self.varint()
            for _ in range(n):
                if head & 0x0F in (1, 2):                 # a boolean element: one byte
                    self.byte()
                else:
                    self.skip(head & 0x0F, depth + 1)
        elif kind == 11:                                  # map
            n = self.varint()
            types = self.byte() if n else 0
            for _ in range(n):
                self.skip(types >> 4, depth + 1)
                self.skip(types & 0x0F, depth + 1)
        elif kind == 12:
            self.struct(depth + 1)
        elif kind not in (1, 2):                          # booleans carry their value in the type
            raise ValueError(f"unknown Thrift type {kind}")


def _column_chunks(data: bytes, reader: _Thrift) -> tuple[list[list[tuple[int, int]]], int]:
    """(first page's offset, compressed size) of each column chunk, row group by row group, and
    the rows the footer declares, from the footer's Thrift (pyarrow's own
    ``RowGroupMetaData.column`` aborts the whole process on some damaged footers instead of
    raising)."""
    footer = int.from_bytes(data[-8:-4], "little")
    if len(data) < 12 or data[-4:] != b"PAR1" or not 0 < footer <= len(data) - 12:
        raise TableError("not a readable Parquet file (no footer: it must end with 'PAR1')")
    reader.pos = len(data) - 8 - footer
    groups: list[list[tuple[int, int]]] = []
    chunks: list[tuple[int, int]] = []
    n_chunks = 0

    def chunk() -> tuple[int, int]:
        found: dict[int, int] = {}

        def meta_data(field: int, kind: int) -> bool:          # ColumnChunk.meta_data
            if field == 3 and kind == 12:                     # its sizes and page offsets
                found.update(reader.struct(1, want=(7, 9, 11)))
            return field == 3 and kind == 12
        reader.struct(read=meta_data)
        starts = [at for at in (found.get(9, -1), found.get(11, -1)) if at >= 4]  # after 'PAR1'
        return min(starts, default=-1), found.get(7, -1)

    def columns(field: int, kind: int) -> bool:              # RowGroup.columns
        if field == 1:
            chunks.extend(chunk() for _ in range(reader.structs(kind)))
            nonlocal n_chunks
            n_chunks += len(chunks)
            if n_chunks > MAX_CHUNKS:
                raise TableError(f"the Parquet file has more than {MAX_CHUNKS:,} column chunks "
                                 f"(row groups x columns); write it with fewer, larger row groups")
        return field == 1

    def row_groups(field: int, kind: int) -> bool:           # FileMetaData.row_groups
        if field == 4:
            for _ in range(reader.structs(kind)):
                chunks.clear()
                rows = reader.struct(want=(3,), read=columns).get(3)
                groups.append(list(chunks) if rows else [])    # no rows: no page is read
        return field == 4

    rows = reader.struct(want=(3,), read=row_groups).get(3, 0)
    return groups, max(int(rows), 0)


def _row_group_pages(reader: _Thrift, chunks: list[tuple[int, int]],
                     n_pages: int) -> tuple[int, int, int, bool]:
    """(bytes inflated at once, bytes inflated in all, pages read so far, any dictionary) of one
    row group: the largest data page of each column and its dictionary, from the page headers."""
    at_once = total = 0
    dictionary = False
    for start, size in chunks:
        if start < 0 or size < 0:
            raise TableError("the Parquet file's footer is damaged (a column has no offset)")
        reader.pos, end, largest = start, start + size, 0
        while reader.pos < end:
            sizes = reader.struct(want=(1, 2, 3))             # page type, inflated, compressed
            inflated, compressed = sizes.get(2, -1), sizes.get(3, -1)
            if inflated < 0 or compressed < 0:
                raise TableError("the Parquet file has a damaged page header")
            if sizes.get(1) == 2:                     # a dictionary page: kept for the chunk
                at_once += inflated
                dictionary = True
            else:                                     # data pages: one at a time
                largest = max(largest, inflated)
            total += inflated
            reader.pos += compressed
            n_pages += 1
            if n_pages > MAX_PAGES:
                raise TableError(f"the Parquet file has more than {MAX_PAGES:,} pages")
        at_once += largest
    return at_once, total, n_pages, dictionary


def check_pages(data: bytes, limits: TableLimits) -> None:
    """Refuse a file whose largest pages, one per column of a row group, would inflate to more
    than a quarter of the memory limit at once (read from the page headers, not the footer)."""
    sizes(data, limits)


def sizes(data: bytes, limits: TableLimits) -> tuple[int, int, int, bool]:
    """(rows, columns, bytes all pages inflate to, any dictionary page) of a Parquet file, from
    its footer and page headers, refusing it as ``check_pages`` does. Dictionary-encoded text
    decodes to more than its pages: up to the reader's limit, which refuses it beyond."""
    cap, reader, n_pages, total, dictionary = limits.max_decoded_bytes // 4, _Thrift(data), 0, 0, False
    groups, rows = _column_chunks(data, reader)
    for i, chunks in enumerate(groups):
        at_once, inflated, n_pages, has_dictionary = _row_group_pages(reader, chunks, n_pages)
        total, dictionary = total + inflated, dictionary or has_dictionary
        if at_once > cap:
            raise TableError(f"the Parquet file's pages inflate to {at_once / 2**20:,.0f} MB at "
                             f"once (row group {i + 1}); the limit is {cap // 2**20} MB (a quarter "
                             f"of 4 x NN_MAX_TABLE_MB; pages of ordinary files are about 1 MB)")
    return rows, max((len(c) for c in groups), default=0), total, dictionary
