"""The user's own data: tables (CSV, TSV, Parquet) and points clicked onto the plane.

    from nn.data.tables import read_table, describe_table, dataset_from_table, schema_problem
    frame = read_table(uploaded_file)                 # bounded; TableError with row/column
    summary = describe_table(frame)                   # first rows, kinds, missing/infinite counts
    data = dataset_from_table(frame, label="species", test_size=0.25, standardize=True)
    model.meta["schema"] = data.schema                # JSON: columns, classes, standardisation
    schema_problem(model.meta["schema"], other_frame) # None, or why the model does not fit

Limits (bytes, rows, columns): ``table_limits()``, from NN_MAX_TABLE_MB, NN_MAX_TABLE_ROWS and
NN_MAX_TABLE_COLUMNS; once read, a table may take at most ``MEMORY_FACTOR`` x NN_MAX_TABLE_MB
(``decoded_bytes(frame)``, what a kept table costs the server). Nothing here writes to disk.
"""
from nn.data.tables.building import (BadRowsError, TableDataset, dataset_from_table, schema_damage,
                                     schema_problem, table_arrays)
from nn.data.tables.describe import ColumnInfo, TableSummary, column_kind, describe_table
from nn.data.tables import parse_job
from nn.data.tables.export import dataset_frame, dataset_to_csv
from nn.data.tables.points import Points
from nn.data.tables.limits import (MAX_TABLE_COLUMNS, MAX_TABLE_MB, MAX_TABLE_ROWS, MEMORY_FACTOR,
                                   TableError, TableLimits, table_limits)
from nn.data.tables.reading import decoded_bytes, read_table

__all__ = ["read_table", "decoded_bytes", "table_limits", "TableLimits", "TableError", "BadRowsError",
           "describe_table", "TableSummary", "ColumnInfo", "column_kind", "dataset_from_table",
           "TableDataset", "schema_problem", "schema_damage", "table_arrays", "dataset_to_csv", "dataset_frame",
           "Points", "MAX_TABLE_MB", "MAX_TABLE_ROWS", "MAX_TABLE_COLUMNS", "MEMORY_FACTOR"]
