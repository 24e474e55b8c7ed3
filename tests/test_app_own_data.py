"""Own data on the Train page under AppTest: upload a table, choose its columns, bad rows only
dropped when agreed, malformed files, the same result as the command line, model files that do
(not) fit the table, points on the plane, dataset CSV, links, and the session-only storage."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest
from app_pages import open_app
from sklearn.datasets import load_iris
from streamlit.testing.v1 import AppTest

import nn
from app.train.own_points import apply_click
from nn.cli import main as cli_main
from nn.data.tables import Points, read_table
from nn.files.io import model_to_bytes
from nn.runs.experiment import build_trainer, config_from_preset, load_data, table_dataset

TABLE = {"preset": "moons", "dataset": "table", "hidden": "16", "epochs": "20"}


@pytest.fixture(scope="module")
def iris_csv() -> bytes:
    d = load_iris(as_frame=True)
    frame = d.frame.drop(columns="target")
    frame["species"] = np.asarray(d.target_names)[d.target]
    return frame.to_csv(index=False).encode()


def _upload(at: AppTest, data: bytes, name: str = "iris.csv") -> AppTest:
    at.file_uploader(key="own.upload").set_value((name, data, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def _titles(at: AppTest) -> str:
    return " ".join(c.proto.spec for c in at.get("plotly_chart"))


def test_a_link_with_own_data_says_the_data_is_not_in_it():
    at = open_app(**TABLE)
    assert not at.exception
    assert at.selectbox(key="tw.dataset").value == "table"
    assert any("a link cannot carry the data" in t for t in _texts(at, "info"))
    assert at.button(key="train.go").disabled                   # nothing to train on yet
    assert not at.error                                          # not an error, a hint
    assert any("at most 50 MB, 200,000 rows and 200 columns" in c for c in _texts(at, "caption"))
    points = open_app(preset="moons", dataset="points")
    assert any("draw the points" in t for t in _texts(points, "info"))


def test_upload_pick_columns_train_and_see_projection_and_confusion(iris_csv):
    at = _upload(open_app(**TABLE), iris_csv)
    assert "150 rows, 5 columns" in " ".join(_texts(at, "markdown"))
    head = at.dataframe[0].value
    assert len(head) == 10 and list(head.columns)[-1] == "species"
    assert at.selectbox(key="own.w.label").value == "species"   # the likeliest label first
    assert len(at.multiselect(key="own.w.features").value) == 4
    assert any("112 training rows and 38 test rows" in t and "setosa" in t for t in _texts(at, "success"))
    assert any(c.startswith("131 parameters") for c in _texts(at, "caption"))   # 4-16-3, at once
    at.button(key="train.go").click().run()
    assert not at.exception
    s = at.session_state["train_session"]
    assert s.model.layer_sizes == [4, 16, 3] and s.epoch == 20
    schema = s.model.meta["schema"]
    assert schema["classes"] == ["setosa", "versicolor", "virginica"] and schema["standardize"]
    titles = _titles(at)
    assert "Confusion matrix" in titles and "principal components" in titles
    assert float(at.metric[0].value.rstrip("%")) > 80
    model = nn.load(model_to_bytes(s.model))                     # the schema survives the file
    assert model.meta["schema"]["features"] == schema["features"]


def test_page_and_command_line_give_the_same_test_accuracy(iris_csv, tmp_path):
    path = tmp_path / "iris.csv"
    path.write_bytes(iris_csv)
    at = _upload(open_app(**TABLE, seed="3", **{"test_size": "0.3"}), iris_csv)
    at.button(key="train.go").click().run()
    page_loss, page_acc = at.session_state["train_session"].test_figures(
        at.session_state["own.model_data"][2])
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli_main(["train", "--preset", "moons", "--hidden", "16", "--epochs", "20", "--seed", "3",
                         "--test-size", "0.3", "--data", str(path), "--label", "species", "--json"])
    assert code == 0, err.getvalue()
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["test_accuracy"] == pytest.approx(page_acc, abs=1e-12)
    assert summary["test_loss"] == pytest.approx(page_loss, rel=1e-5)


def test_features_and_standardise_choices_reach_the_dataset(iris_csv):
    at = _upload(open_app(**TABLE), iris_csv)
    at.multiselect(key="own.w.features").set_value(["petal length (cm)", "petal width (cm)"]).run()
    at.checkbox(key="own.w.standardize").uncheck().run()
    at.button(key="train.go").click().run()
    assert not at.exception
    s = at.session_state["train_session"]
    schema = s.model.meta["schema"]
    assert s.model.layer_sizes[0] == 2 and not schema["standardize"] and schema["mean"] is None
    assert "Decision regions" in _titles(at)                     # 2 features, 3 classes


def test_bad_rows_are_counted_and_dropped_only_when_agreed():
    csv = b"a,b,label\n1,2,x\n,3,y\n4,inf,x\n5,6,y\n7,8,x\n9,10,y\n11,12,x\n13,14,y\n15,16,x\n17,18,y\n"
    at = _upload(open_app(**TABLE), csv, "bad.csv")
    warning = " ".join(_texts(at, "warning"))
    assert "2 rows have missing values or infinities" in warning and "rows 2, 3" in warning
    assert "1 missing" in warning and "1 infinite" in warning
    assert at.button(key="train.go").disabled
    at.checkbox(key="own.w.drop").check().run()
    assert any("2 rows with missing values or infinities dropped" in t for t in _texts(at, "success"))
    assert not at.button(key="train.go").disabled
    at.button(key="train.go").click().run()
    assert not at.exception and at.session_state["train_session"].model is not None


def test_malformed_file_gets_the_row_and_column(iris_csv):
    at = _upload(open_app(**TABLE), b"a,b,label\n1,2,x\n3,4,5,6\n", "ragged.csv")
    error = " ".join(_texts(at, "error"))
    assert "Could not read **ragged\\.csv**" in error and "line 3" in error
    assert at.session_state["own.table"] is None
    at = _upload(at, b"a,b,label\n1,2,x\n3,oops,y\n5,6,x\n7,8,y\n", "text.csv")
    assert any("Left out (not numeric): b" in c for c in _texts(at, "caption"))
    assert at.multiselect(key="own.w.features").value == ["a"]


def test_table_limits_are_enforced_on_the_page(iris_csv, monkeypatch):
    monkeypatch.setenv("NN_MAX_TABLE_ROWS", "100")
    at = _upload(open_app(**TABLE), iris_csv)
    assert any("more than 100 rows" in e and "NN\\_MAX\\_TABLE\\_ROWS" in e for e in _texts(at, "error"))
    assert any("at most 50 MB, 100 rows" in c for c in _texts(at, "caption"))


def test_user_text_is_escaped(iris_csv):
    evil = iris_csv.replace(b"species", b"[click](https://evil.example)").replace(
        b"setosa", b"**bold**")
    at = _upload(open_app(**TABLE), evil, "[x](https://e.example).csv")
    shown = " ".join(_texts(at, "markdown") + _texts(at, "success"))
    assert "[x](https" not in shown and "\\*\\*bold\\*\\*" in shown
    assert "](https" not in shown


def test_a_model_that_does_not_fit_the_table_is_refused(iris_csv):
    at = _upload(open_app(**TABLE), iris_csv)
    moons = config_from_preset("moons", n_samples=200, hidden=[16], epochs=1)
    other = build_trainer(moons, load_data(moons)).model
    for key in ("config", "dataset"):  # a file that does not say its data (one that does switches)
        del other.meta[key]
    at.file_uploader(key="tw.upload").set_value(("moons.npz", model_to_bytes(other), "application/octet-stream")).run()
    assert any("not on a table" in e for e in _texts(at, "error"))
    frame = read_table(iris_csv)
    cfg = config_from_preset("moons", dataset="table", hidden=[16], epochs=1)
    two = table_dataset(frame, "species", ["sepal length (cm)", "petal width (cm)", "sepal width (cm)",
                                           "petal length (cm)"], cfg)
    shuffled = build_trainer(cfg, two).model                    # same sizes, other column order
    at.file_uploader(key="tw.upload").set_value(("other.npz", model_to_bytes(shuffled), "application/octet-stream")).run()
    assert any("reads the columns" in e for e in _texts(at, "error"))
    assert at.session_state["train_session"].model is None
    fits = build_trainer(cfg, table_dataset(frame, "species", None, cfg)).model
    at.file_uploader(key="tw.upload").set_value(("fits.npz", model_to_bytes(fits), "application/octet-stream")).run()
    assert not at.exception and at.session_state["train_session"].model.meta["schema"]["label"] == "species"


def test_changing_the_columns_asks_for_a_new_model(iris_csv):
    at = _upload(open_app(**TABLE), iris_csv)
    at.button(key="train.go").click().run()
    assert not at.button(key="train.continue").disabled
    at.checkbox(key="own.w.standardize").uncheck().run()
    assert any("You changed **data" in w for w in _texts(at, "warning"))
    assert at.button(key="train.continue").disabled
    at.checkbox(key="own.w.standardize").check().run()            # back: Continue again
    assert not at.button(key="train.continue").disabled
    at.button(key="train.continue").click().run()
    assert at.session_state["train_session"].epoch == 40


def test_the_table_stays_in_its_own_session(iris_csv):
    first = _upload(open_app(**TABLE), iris_csv)
    assert isinstance(first.session_state["own.table"]["frame"], pd.DataFrame)
    second = open_app(**TABLE)
    assert "own.table" not in second.session_state
    assert second.button(key="train.go").disabled


def test_points_start_from_moons_train_and_show_the_boundary():
    at = open_app(preset="moons", dataset="points", hidden="16", epochs="5")
    at.selectbox(key="own.start").set_value("moons").run()
    at.button(key="own.restart").click().run()
    assert len(at.session_state["own.points"]) == 200
    assert any("200 points" in c and "Ready" in c for c in _texts(at, "caption"))
    at.button(key="train.go").click().run()
    assert not at.exception
    s = at.session_state["train_session"]
    assert s.model.layer_sizes == [2, 16, 2] and "schema" not in s.model.meta
    assert "Decision boundary" in _titles(at) and "Click the plane" in _titles(at)


def test_points_of_three_classes_get_decision_regions():
    at = open_app(preset="moons", dataset="points", hidden="8", epochs="3")
    points = Points(4)
    rng = np.random.default_rng(0)
    for k, (cx, cy) in enumerate([(-1, -1), (1, -1), (0, 1)]):
        for x, y in rng.normal([cx, cy], 0.2, size=(8, 2)):
            assert apply_click(points, k, x, y) is None
    at.session_state["own.points"] = points
    at.session_state["own.version"] = 99
    at.run()
    at.button(key="train.go").click().run()
    assert not at.exception and at.session_state["train_session"].model.layer_sizes == [2, 8, 3]
    assert "Decision regions" in _titles(at)


def test_apply_click_adds_and_removes():
    points = Points(4)
    assert apply_click(points, 1, 0.5, 0.5) is None and points.counts().tolist() == [0, 1, 0, 0]
    assert apply_click(points, "remove", 2.0, 2.0) == "No point near there to remove."
    assert apply_click(points, "remove", 0.6, 0.45) is None and len(points) == 0
    assert "class must be" in apply_click(points, 7, 0, 0)


def test_too_few_points_say_what_is_missing():
    at = open_app(preset="moons", dataset="points")
    at.session_state["own.points"] = Points(4, [(0.0, 0.0, 0), (1.0, 1.0, 1)])
    at.session_state["own.version"] = 5
    at.run()
    assert any("Class 0 has 1 point" in c and "needs at least 5" in c for c in _texts(at, "caption"))
    assert at.button(key="train.go").disabled


def test_dataset_csv_download_for_moons_and_tables(iris_csv):
    at = open_app(preset="moons", n_samples="400")
    button = [b for b in at.get("download_button") if b.proto.id.endswith("own.dl_data") or
              "Download dataset" in b.proto.label]
    assert button and not button[0].proto.disabled
    at = _upload(open_app(**TABLE), iris_csv)
    button = [b for b in at.get("download_button") if "Download dataset" in b.proto.label]
    assert button and not button[0].proto.disabled


def test_a_kept_table_counts_against_the_visitors_share(monkeypatch):
    """Issue 17, row 4: a table the session keeps is admitted against the visitor's memory share
    (its decoded size) and refused in plain words when it does not fit; a small one still fits."""
    from nn.runs.slots import JOBS
    monkeypatch.setenv("NN_PUBLIC", "1")
    monkeypatch.setenv("NN_CLIENT_MB", "2")
    rng = np.random.default_rng(0)
    big = pd.DataFrame({"a": rng.random(100_000), "b": rng.random(100_000), "label": rng.integers(0, 2, 100_000)})
    at = _upload(open_app(**TABLE), big.to_csv(index=False).encode(), "big.csv")
    assert any("Keeping this table" in e and "share" in e for e in _texts(at, "error"))
    assert at.session_state["own.table"] is None
    small = big.head(1000).to_csv(index=False).encode()
    at = _upload(at, small, "small.csv")
    assert at.session_state["own.table"]["name"] == "small.csv"
    assert any(nbytes < 2 * 1024 * 1024 for _, nbytes in JOBS._kept.values())
