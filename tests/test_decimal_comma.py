"""Issue 19: CSVs written with a decimal comma (``5,1;3,5;setosa``, as spreadsheets in much of
Europe save them) are read as numbers, and the page says so; where the file's own commas make
that impossible, the page names the columns and how to fix the file."""
from __future__ import annotations

import numpy as np
import pytest
from app_pages import open_app
from sklearn.datasets import load_iris

from nn.data.tables import describe_table, read_table

TABLE = {"preset": "moons", "dataset": "table", "hidden": "16", "epochs": "20"}


@pytest.fixture(scope="module")
def iris():
    d = load_iris(as_frame=True)
    frame = d.frame.drop(columns="target")
    frame["species"] = np.asarray(d.target_names)[d.target]
    return frame


def test_semicolon_separated_decimal_commas_are_read_as_numbers(iris):
    data = iris.to_csv(index=False, sep=";", decimal=",").encode()
    assert b"5,1;3,5;1,4;0,2;setosa" in data
    frame = read_table(data, name="iris.csv")
    assert frame.attrs.get("decimal_comma") is True
    assert describe_table(frame).numeric_columns == list(iris.columns[:4])
    assert np.allclose(frame.iloc[:, :4].to_numpy(), iris.iloc[:, :4].to_numpy())


@pytest.mark.parametrize("text", [
    b"a;b\n1.5;2\n2.5;3\n",                 # decimal points with semicolons: as before
    b"a\tb\n1,5\t2.5\n",                    # both marks seen: nothing is guessed
    b"a,b\n1,2\n3,4\n",                     # commas separate the fields
])
def test_decimal_points_and_comma_separated_files_read_as_before(text):
    assert "decimal_comma" not in read_table(text).attrs


def test_tab_separated_decimal_commas_are_read_too():
    frame = read_table(b"x\ty\tlabel\n0,5\t-1,25\ta\n2\t3,0\tb\n", name="t.tsv")
    assert frame["x"].tolist() == [0.5, 2.0] and frame["y"].tolist() == [-1.25, 3.0]


def test_quoted_decimal_commas_in_a_comma_separated_file_are_named():
    frame = read_table(b'x,y,label\n"5,1","3,5",a\n"4,9","3,0",b\n')
    summary = describe_table(frame)
    assert summary.numeric_columns == [] and summary.decimal_comma_columns == ["x", "y"]
    assert "decimal comma" in summary.column("x").note


def _upload(data: bytes, name: str = "iris.csv"):
    at = open_app(**TABLE)
    at.file_uploader(key="own.upload").set_value((name, data, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def test_the_page_reads_decimal_commas_and_says_so(iris):
    at = _upload(iris.to_csv(index=False, sep=";", decimal=",").encode())
    assert at.multiselect(key="own.w.features").value == list(iris.columns[:4])
    captions = " ".join(str(c.value) for c in at.caption)
    assert "decimal comma (5,1) were read as 5.1" in captions and "not numeric" not in captions
    assert not at.button(key="train.go").disabled


def test_the_page_says_how_to_fix_decimal_commas_it_cannot_read(iris):
    data = iris.head(20).to_csv(index=False, decimal=",").encode()      # '"5,1","3,5",...'
    at = _upload(data)
    warnings = " ".join(str(w.value) for w in at.warning)
    assert "decimal comma" in warnings and "sepal length" in warnings
    assert "semicolon" in warnings and "decimal points (5.1)" in warnings
