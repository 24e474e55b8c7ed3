"""From a table to a Dataset: the description, the user's choices, bad rows, the schema a model
carries and its check, CSV export, and points clicked onto the plane."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import nn
from nn.data import load_dataset
from nn.runs.experiment import check_model_fits
from nn.data.tables import (BadRowsError, Points, TableDataset, TableError, dataset_from_table,
                            dataset_to_csv, describe_table, read_table, schema_problem, table_arrays)


def frame_of(csv: str) -> pd.DataFrame:
    return read_table(csv.encode(), name="t.csv")


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 120
    y = rng.integers(0, 3, n)
    return pd.DataFrame({"f1": rng.normal(y * 3.0, 1.0), "f2": rng.normal(10 + y, 2.0) * 100,
                         "flag": y == 1, "note": rng.choice(["p", "q"], n),
                         "kind": np.array(["cat", "dog", "emu"])[y]})


# --- description ------------------------------------------------------------------------------
def test_describe_kinds_missing_and_infinite():
    frame = frame_of("a,b,c,d,label\n1,x,True,1.5,u\n,y,False,inf,v\n3,z,True,2,u\n4,w,False,-inf,v\n")
    s = describe_table(frame, n_head=2)
    kinds = {c.name: c.kind for c in s.columns}
    assert kinds == {"a": "numeric", "b": "text", "c": "boolean", "d": "numeric", "label": "text"}
    assert s.non_numeric_columns == ["b", "label"] and s.numeric_columns == ["a", "c", "d"]
    a, d = s.column("a"), s.column("d")
    assert (a.n_missing, a.n_infinite, a.bad_rows) == (1, 0, (2,))
    assert (d.n_missing, d.n_infinite, d.bad_rows) == (0, 2, (2, 4))
    assert s.n_bad_rows == 2 and s.n_rows == 4 and len(s.head) == 2
    assert s.problems() == ["column 'a': 1 missing (row 2)", "column 'd': 2 infinite (rows 2, 4)"]
    assert list(s.columns_frame()["column"]) == ["a", "b", "c", "d", "label"]


def test_describe_explains_a_column_that_is_almost_numeric():
    s = describe_table(frame_of("a,b\n1,x\n2,y\n3?,z\n4,w\n"))
    assert s.column("a").kind == "text" and s.column("a").note == "not numeric: row 3 has '3?'"
    assert s.column("b").note == ""


def test_label_candidates(table):
    s = describe_table(table)
    assert s.label_candidates[:3] == ["note", "kind", "flag"]        # text first, fewest classes
    assert "f1" not in s.label_candidates                           # measurements are not classes


# --- building ---------------------------------------------------------------------------------
def test_dataset_from_table(table):
    d = dataset_from_table(table, "kind", test_size=0.25, seed=3, name="pets.csv")
    assert isinstance(d, TableDataset) and d.name == "pets.csv"
    assert d.class_names == ("cat", "dog", "emu") and d.n_classes == 3
    assert d.feature_names == ["f1", "f2", "flag"]                 # text 'note' left out
    assert d.X_train.dtype == np.float32 and d.y_train.dtype == np.intp
    assert len(d.X_train) + len(d.X_test) == 120 and len(d.X_test) == 30
    # stratified: each class's share in the test split matches the whole table's
    whole = np.bincount(np.concatenate([d.y_train, d.y_test])) / 120
    assert np.allclose(np.bincount(d.y_test) / 30, whole, atol=0.04)
    # standardised on the training split only
    assert np.allclose(d.X_train.mean(0), 0, atol=1e-5) and np.allclose(d.X_train.std(0), 1, atol=1e-4)
    assert not np.allclose(d.X_test.mean(0), 0, atol=1e-3)
    raw = table.loc[:, ["f1", "f2"]].to_numpy()
    assert d.schema["mean"][1] != pytest.approx(raw[:, 1].mean())   # not the whole table's
    assert d.preprocessing.startswith("table/standardised/")
    json.dumps(d.schema)                                            # JSON-able for model meta
    again = dataset_from_table(table, "kind", test_size=0.25, seed=3, name="pets.csv")
    assert np.array_equal(again.X_test, d.X_test)                   # seeded


def test_labels_integer_and_boolean_classes_keep_their_order():
    frame = frame_of("x,cls,ok\n" + "".join(f"{i},{[10, 2, 7][i % 3]},{i % 2 == 0}\n" for i in range(30)))
    d = dataset_from_table(frame, "cls", features=["x"], standardize=False)
    assert d.class_names == ("2", "7", "10")                        # by value, not as text
    y = np.concatenate([d.y_train, d.y_test])
    x = np.concatenate([d.X_train[:, 0], d.X_test[:, 0]]).astype(int)
    assert np.array_equal(np.array([10, 2, 7])[x % 3], np.array([2, 7, 10])[y])
    assert d.preprocessing.startswith("table/raw") and d.schema["mean"] is None
    d = dataset_from_table(frame, "ok", features=["x", "cls"])
    assert d.class_names == ("False", "True")


def test_choices_are_checked(table):
    with pytest.raises(TableError, match="no column named 'species'"):
        dataset_from_table(table, "species")
    with pytest.raises(TableError, match="'note' is text"):
        dataset_from_table(table, "kind", features=["f1", "note"])
    with pytest.raises(TableError, match="'kind' is the label column"):
        dataset_from_table(table, "kind", features=["f1", "kind"])
    with pytest.raises(TableError, match="listed twice"):
        dataset_from_table(table, "kind", features=["f1", "f1"])
    with pytest.raises(TableError, match=r"test_size must be a number in \[0.05, 0.9\]"):
        dataset_from_table(table, "kind", test_size=0.95)
    with pytest.raises(TableError, match="seed must be a whole number from 0"):
        dataset_from_table(table, "kind", seed=-1)
    with pytest.raises(TableError, match="measurements, not classes"):
        dataset_from_table(table, "f1", features=["f2"])
    with pytest.raises(TableError, match="1 distinct value"):
        dataset_from_table(table.assign(one="a"), "one")


def test_too_many_classes_and_too_few_rows():
    frame = pd.DataFrame({"x": np.arange(120.0), "id": np.arange(120)})
    with pytest.raises(TableError, match="120 distinct values.*2 to 50 classes"):
        dataset_from_table(frame, "id")
    frame = pd.DataFrame({"x": np.arange(7.0), "c": list("aaabbbc")})
    with pytest.raises(TableError, match="class 'c' has 1 row; every class needs at least 2"):
        dataset_from_table(frame, "c")


def test_tiny_table_keeps_a_row_of_each_class_on_both_sides():
    frame = pd.DataFrame({"x": np.arange(6.0), "c": list("aabbcc")})
    d = dataset_from_table(frame, "c", test_size=0.05)
    assert sorted(d.y_test) == [0, 1, 2] and sorted(d.y_train) == [0, 1, 2]


def test_bad_rows_are_refused_with_counts_then_dropped_on_request(table):
    table = table.copy()
    table.loc[[4, 9], "f1"] = np.nan
    table.loc[9, "f2"] = np.inf
    table.loc[20, "kind"] = None
    with pytest.raises(BadRowsError) as info:
        dataset_from_table(table, "kind")
    err = info.value
    assert err.n_rows == 3 and err.rows == [5, 10, 21]
    assert err.counts == {"kind": (1, 0), "f1": (2, 0), "f2": (0, 1)}
    assert "3 rows (rows 5, 10, 21)" in str(err) and "column 'f2': 1 infinite" in str(err)
    d = dataset_from_table(table, "kind", drop_bad_rows=True)
    assert d.n_dropped == 3 and len(d.y_train) + len(d.y_test) == 117
    assert np.isfinite(d.X_train).all() and np.isfinite(d.X_test).all()
    # a bad value in a column the user left out does not count
    assert dataset_from_table(table, "note", features=["flag"], drop_bad_rows=False).n_dropped == 0


def test_values_beyond_float32_are_refused_without_standardising():
    frame = pd.DataFrame({"x": [1.0, 2.0, 1e39, 4.0], "c": list("abab")})
    with pytest.raises(TableError, match="'x' has a value too large.*row 3"):
        dataset_from_table(frame, "c", standardize=False)
    assert np.isfinite(dataset_from_table(frame, "c").X_train).all()


# --- the schema -------------------------------------------------------------------------------
@pytest.fixture
def trained(table):
    """A model trained on ``table``, its meta through JSON as a model file stores it."""
    d = dataset_from_table(table, "kind", seed=1)
    model = nn.MLP([d.n_features, 8, d.n_classes], seed=0)
    model.meta.update(dataset=d.name, preprocessing=d.preprocessing,
                      schema=json.loads(json.dumps(d.schema)))
    return d, model


def test_model_fits_only_tables_with_its_columns(trained, table):
    d, model = trained
    check_model_fits(model, d)
    renamed = dataset_from_table(table.rename(columns={"f2": "g2"}), "kind", seed=1)
    with pytest.raises(ValueError, match="reads the columns"):
        check_model_fits(model, renamed)            # same shape, other columns: refused
    with pytest.raises(ValueError):
        check_model_fits(model, dataset_from_table(table, "kind", standardize=False))


def test_names_fit_the_model_files_rules(table):
    from nn.files.model_meta import TEXT
    long = table.rename(columns={"f1": "sepal length (cm) \u00e9" * 3})
    d = dataset_from_table(long, "kind", name="my data (1) \u00e9t\u00e9.csv")
    assert TEXT.fullmatch(d.preprocessing) and TEXT.fullmatch(d.name)
    assert d.name == "my data _1_ _t_.csv"
    assert d.schema["features"][0] == "sepal length (cm) \u00e9" * 3    # the schema keeps names as they are
    with pytest.raises(TableError, match="1 to 200 characters"):
        dataset_from_table(table.rename(columns={"f1": "x" * 201}), "kind")


def test_schema_damage():
    from nn.data.tables import schema_damage
    good = dataset_from_table(pd.DataFrame({"x": np.arange(8.0), "c": list("abababab")}), "c").schema
    assert schema_damage(good) is None
    assert schema_damage(dict(good, standardize=False, mean=None, scale=None)) is None
    bad = {"extra": dict(good, extra=1), "version": dict(good, version=2),
           "features": dict(good, features=[]), "dupes": dict(good, features=["x", "x"]),
           "label": dict(good, label="x"), "classes": dict(good, classes=["a"]),
           "scale": dict(good, scale=[0.0]), "mean": dict(good, mean=[float("nan")]),
           "kind": dict(good, kind="image"), "standardize": dict(good, standardize="yes"),
           "not a dict": ["x"]}
    for what, schema in bad.items():
        assert schema_damage(schema), what


@pytest.mark.skipif("schema" not in __import__("nn.files.model_meta").files.model_meta.OPTIONAL,
                    reason="nn.files.model_meta does not accept a 'schema' entry yet")
def test_schema_survives_save_and_load(trained, tmp_path):
    d, model = trained
    nn.save(model, tmp_path / "m.npz")
    assert nn.load(tmp_path / "m.npz").meta["schema"] == d.schema


def test_schema_problem(trained, table):
    _, model = trained
    schema = model.meta["schema"]
    assert schema_problem(schema, table) is None
    assert schema_problem(schema, table.drop(columns="kind")) is None          # predicting only
    assert schema_problem(schema, table.assign(extra=1.0)) is None
    assert schema_problem(schema, table.drop(columns=["f2", "flag"])) == (
        "the model was trained on columns f1, f2, flag; this table lacks f2, flag")
    text = table.assign(f2=table["f2"].astype(str))
    text.loc[3, "f2"] = "n/a?"
    assert schema_problem(schema, text) == ("column 'f2' is text in this table (not numeric: row 4 "
                                            "has 'n/a?'); the model needs numbers there")
    other = table.copy()
    other.loc[0, "kind"] = "yak"
    assert "classes the model does not know: 'yak'" in schema_problem(schema, other)
    assert "not trained on a table" in schema_problem({"features": ["f1"]}, table)
    damaged = dict(schema, mean=[0.0])
    assert "damaged" in schema_problem(damaged, table)


def test_table_arrays_reproduce_the_training_inputs(trained, table):
    d, model = trained
    X, y = table_arrays(model.meta["schema"], table)
    both = np.concatenate([d.X_train, d.X_test])
    assert X.shape == both.shape and X.dtype == np.float32
    # same rows up to order: compare sorted by the first feature
    assert np.allclose(np.sort(X, axis=0), np.sort(both, axis=0), atol=1e-6)
    assert (model.predict(X) == model.predict(X)).all() and set(y) <= {0, 1, 2}
    X2, y2 = table_arrays(model.meta["schema"], table.drop(columns="kind"))
    assert np.array_equal(X2, X) and y2 is None
    with pytest.raises(TableError, match="lacks f2"):
        table_arrays(model.meta["schema"], table.drop(columns="f2"))


# --- export -----------------------------------------------------------------------------------
def test_moons_to_csv_and_back():
    moons = load_dataset("moons", n_samples=200)
    frame = read_table(dataset_to_csv(moons), name="moons.csv")
    assert list(frame.columns) == ["x1", "x2", "label", "split"]
    assert (frame["split"] == "train").sum() == len(moons.y_train)
    train = frame[frame["split"] == "train"]
    assert np.allclose(train[["x1", "x2"]].to_numpy(), moons.X_train, atol=1e-6)
    assert np.array_equal(train["label"].to_numpy(), moons.y_train)
    d = dataset_from_table(frame, "label")
    assert d.feature_names == ["x1", "x2"] and d.class_names == ("0", "1")   # 'split' left out


def test_table_dataset_exports_in_the_users_units(table):
    d = dataset_from_table(table, "kind", features=["f1", "f2"])
    frame = read_table(dataset_to_csv(d))
    assert list(frame.columns) == ["f1", "f2", "kind", "split"]
    original = table.sort_values("f1")[["f1", "f2"]].to_numpy()
    back = frame.sort_values("f1")[["f1", "f2"]].to_numpy()
    assert np.allclose(back, original, rtol=1e-5)
    assert sorted(frame["kind"]) == sorted(table["kind"])


# --- points on the plane ----------------------------------------------------------------------
def test_points_add_remove_and_export():
    p = Points()
    assert len(p) == 0 and "at least 2 classes" in p.problem()
    for i in range(5):
        p.add(i, 0.0, 0)
    assert "at least 2 classes" in p.problem()
    for i in range(4):
        p.add(i, 5.0, 1)
    assert p.problem().startswith("class 1 has 4 points; every class up to 1 needs at least 5")
    with pytest.raises(TableError, match="class 1 has 4 points"):
        p.to_dataset()
    p.add(4.0, 5.0, 1)
    assert p.remove_nearest(0.1, 4.9) == (0.0, 5.0, 1) and len(p) == 9
    assert p.remove_nearest(100, 100, max_distance=1.0) is None
    p.add(0.0, 5.0, 1)
    d = p.to_dataset(test_size=0.25, seed=0)
    assert d.n_classes == 2 and d.n_features == 2 and len(d.y_test) == 3
    assert set(d.y_test) == {0, 1}
    assert p.to_csv().splitlines()[:2] == [b"x1,x2,label", b"0,0,0"]
    back = dataset_from_table(read_table(p.to_csv()), "label", standardize=False)
    assert back.n_classes == 2 and len(back.y_train) + len(back.y_test) == 10
    assert Points.from_records(p.to_records()).to_records() == p.to_records()


def test_points_refuse_bad_input():
    p = Points(n_classes=3)
    with pytest.raises(ValueError, match="class must be a whole number from 0 to 2"):
        p.add(0, 0, 3)
    with pytest.raises(ValueError, match="finite"):
        p.add(float("nan"), 0, 0)
    with pytest.raises(ValueError, match="n_classes must be"):
        Points(n_classes=1)
    assert p.remove_nearest(0, 0) is None
    for c in (0, 2):
        for i in range(5):
            p.add(i, c, c)
    assert p.problem().startswith("class 1 has 0 points")


def test_points_from_moons_train_like_moons():
    p = Points.from_toy("moons", n_points=200, seed=0)
    assert len(p) == 200 and p.counts().tolist() == [100, 100]
    d = p.to_dataset()
    model = nn.MLP([2, 16, 2], seed=0)
    trainer = nn.Trainer(model, d.X_train, d.y_train,
                         config=nn.TrainConfig(optimizer="adam", lr=0.02, epochs=60))
    for _ in trainer.run():
        pass
    assert model.score(d.X_test, d.y_test) >= 0.9
    check_model_fits(model, load_dataset("moons"))   # a points model fits the 2-D sets
