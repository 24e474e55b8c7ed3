"""The dataset download as CSV (issue 17, row 9): names and text cells a spreadsheet would run as a
formula start with a single quote (OWASP, "CSV Injection"); numbers are left as they are."""
from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from nn.data.tables import dataset_from_table, dataset_to_csv
from nn.data.tables.export import defuse

RISKY = ["=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
         "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def exported_rows(frame: pd.DataFrame, label: str) -> list[list[str]]:
    data = dataset_from_table(frame, label, test_size=0.25, standardize=True)
    return list(csv.reader(io.StringIO(dataset_to_csv(data).decode(), newline="")))


@pytest.mark.parametrize("text", RISKY + ["=1", "+", "-", "@"])
def test_defuse_prefixes_formulas(text):
    assert defuse(text) == "'" + text


@pytest.mark.parametrize("text", ["-1.5", "+2", "-3e-7", ".5", "abc", "a=b", "", "'=x"])
def test_defuse_leaves_numbers_and_plain_text(text):
    assert defuse(text) == text


def test_risky_class_names_and_headers_are_exported_with_a_quote():
    rng = np.random.default_rng(0)
    n = 10 * len(RISKY)
    frame = pd.DataFrame({"=1+1": rng.normal(size=n) - 3.0,           # negative numbers
                          "@x": rng.normal(size=n), "plain": rng.normal(size=n),
                          "-label": np.repeat(RISKY, 10)})
    header, *rows = exported_rows(frame, "-label")
    assert header == ["'=1+1", "'@x", "plain", "'-label", "split"]
    assert sorted({row[3] for row in rows}) == sorted("'" + name for name in RISKY)
    assert all(float(row[0]) < 0 and not row[0].startswith("'") for row in rows)


def test_numeric_class_names_stay_numbers():
    frame = pd.DataFrame({"x": np.arange(20.0), "y": [-1, 1] * 10})
    header, *rows = exported_rows(frame, "y")
    assert {row[1] for row in rows} == {"-1", "1"}
