"""What every table reader shares: the limits (``TableLimits``, from NN_MAX_TABLE_MB,
NN_MAX_TABLE_ROWS and NN_MAX_TABLE_COLUMNS), the error (``TableError``) and the short texts its
messages are made of. The readers (``reading`` for text, ``parquet``) import this; it imports
neither."""
from __future__ import annotations

from dataclasses import dataclass

from nn.hosting import env_int

# Defaults of the limits; each is overridden by its environment variable (read at every call).
MAX_TABLE_MB = 50            # NN_MAX_TABLE_MB: the file's size
MAX_TABLE_ROWS = 200_000     # NN_MAX_TABLE_ROWS: data rows (the header not counted)
MAX_TABLE_COLUMNS = 200      # NN_MAX_TABLE_COLUMNS: columns
MEMORY_FACTOR = 4            # a table may take this many times the byte limit once read

def q(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message never echoes a whole hostile cell."""
    text = repr(value if isinstance(value, (int, float)) else str(value))
    return text if len(text) <= limit else text[:limit - 4] + "...'"


class TableError(ValueError):
    """The table cannot be used; the message says where and why (no traceback for users)."""

    def __init__(self, message: str, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.row, self.column = row, column


@dataclass(frozen=True)
class TableLimits:
    max_mb: int = MAX_TABLE_MB
    max_rows: int = MAX_TABLE_ROWS
    max_columns: int = MAX_TABLE_COLUMNS

    @property
    def max_bytes(self) -> int:
        return self.max_mb * 1024 * 1024

    @property
    def max_decoded_bytes(self) -> int:
        """The memory a table may take once read (decoded): MEMORY_FACTOR x the file limit."""
        return MEMORY_FACTOR * self.max_bytes

    def describe(self) -> str:
        """One line for the page: the limits in force."""
        return (f"at most {self.max_mb} MB, {self.max_rows:,} rows and {self.max_columns} columns "
                f"(CSV, TSV or Parquet), and {self.max_decoded_bytes // 2**20} MB once read")


def table_limits() -> TableLimits:
    """The table limits in force now, from NN_MAX_TABLE_MB, NN_MAX_TABLE_ROWS, NN_MAX_TABLE_COLUMNS."""
    return TableLimits(max_mb=env_int("NN_MAX_TABLE_MB", MAX_TABLE_MB),
                       max_rows=env_int("NN_MAX_TABLE_ROWS", MAX_TABLE_ROWS),
                       max_columns=env_int("NN_MAX_TABLE_COLUMNS", MAX_TABLE_COLUMNS))


def names_text(cols, most: int = 8) -> str:
    cols = [str(c) if len(str(c)) <= 60 else str(c)[:56] + "..." for c in cols]
    shown = ", ".join(cols[:most])
    return shown + (f" and {len(cols) - most} more" if len(cols) > most else "")


def too_big(total: int, rows: int, n_rows: int, n_cols: int, limits: TableLimits,
             column: str | None = None) -> TableError:
    """Refusal of a table whose values take more memory than the limit (counted, not declared)."""
    part = f"its first {rows:,} of {n_rows:,} rows" if rows < n_rows else f"its {n_rows:,} rows"
    largest = f", the largest {q(column)}" if column is not None else ""
    cols = f"{n_cols} column{'s' * (n_cols != 1)}{largest}"
    return TableError(f"the table takes more than {limits.max_decoded_bytes // 2**20} MB of memory "
                      f"once read: {part} ({cols}) take at least "
                      f"{total / 2**20:,.0f} MB. The limit is {MEMORY_FACTOR} x NN_MAX_TABLE_MB; "
                      f"a table with fewer rows or columns fits (NN_MAX_TABLE_ROWS, "
                      f"NN_MAX_TABLE_COLUMNS)",
                      column=column)


def first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
