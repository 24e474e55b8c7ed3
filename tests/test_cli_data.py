"""``python -m nn train --data FILE --label COLUMN [--features ...]``: a user's table on the command
line, with the library's checks and messages, and a model file that remembers the table."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_wine

import nn
from nn.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory) -> Path:
    d = load_wine(as_frame=True)
    frame = d.frame.drop(columns="target")
    frame["cultivar"] = np.asarray(["barolo", "grignolino", "barbera"])[d.target]
    path = tmp_path_factory.mktemp("tables") / "wine.csv"
    frame.to_csv(path, index=False)
    return path


def _run(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["train", *args])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    summary = json.loads(lines[-1]) if "--json" in args and code in (0, 3) else None
    return code, summary, err


def test_trains_on_a_table_and_saves_its_schema(wine_csv, tmp_path, capsys):
    save = tmp_path / "wine.npz"
    code, summary, _ = _run(capsys, "--data", str(wine_csv), "--label", "cultivar", "--hidden", "32",
                            "--optimizer", "adam", "--lr", "0.01", "--epochs", "40", "--json",
                            "--save", str(save))
    assert code == 0
    assert summary["layers"] == [13, 32, 3] and summary["dataset"] == "wine.csv"
    assert summary["test_accuracy"] >= 0.9 and summary["config"]["dataset"] == "table"
    model = nn.load(save)
    schema = model.meta["schema"]
    assert schema["label"] == "cultivar" and schema["classes"] == ["barbera", "barolo", "grignolino"]
    assert len(schema["features"]) == 13 and schema["standardize"] and len(schema["mean"]) == 13


def test_features_and_no_standardize(wine_csv, capsys):
    code, summary, _ = _run(capsys, "--data", str(wine_csv), "--label", "cultivar", "--features",
                            "alcohol", "proline", "--no-standardize", "--epochs", "2", "--json")
    assert code == 0 and summary["layers"][0] == 2


def test_same_file_and_seed_give_the_same_result(wine_csv, capsys):
    args = ("--data", str(wine_csv), "--label", "cultivar", "--epochs", "5", "--seed", "7", "--json")
    first, second = _run(capsys, *args)[1], _run(capsys, *args)[1]
    assert first["test_accuracy"] == second["test_accuracy"] and first["test_loss"] == second["test_loss"]


@pytest.mark.parametrize("args, message", [
    (("--label", "x"), "--label goes with --data"),
    (("--data", "{wine}"), "--label COLUMN is required with --data"),
    (("--data", "{wine}", "--label", "cultivar", "--dataset", "moons"), "--dataset and --data exclude"),
    (("--drop-bad-rows",), "go with --data"),
])
def test_option_mistakes_exit_2_naming_the_option(wine_csv, capsys, args, message):
    args = [a.format(wine=wine_csv) for a in args]
    with pytest.raises(SystemExit) as exc:
        main(["train", *args])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_table_problems_exit_2_with_the_row_and_column(tmp_path, capsys):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,label\n1,2,x\n3,4,5,6\n")
    code, _, err = _run(capsys, "--data", str(ragged), "--label", "label")
    assert code == 2 and "line 3" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(20))
                   + "1,,x\n2,inf,y\n")
    code, _, err = _run(capsys, "--data", str(bad), "--label", "label", "--epochs", "1")
    assert code == 2 and "2 rows (rows 21, 22)" in err and "column 'b': 1 missing and 1 infinite" in err
    code, summary, _ = _run(capsys, "--data", str(bad), "--label", "label", "--epochs", "1",
                            "--drop-bad-rows", "--json")
    assert code == 0 and summary["layers"][0] == 2
    code, _, err = _run(capsys, "--data", str(bad), "--label", "nope")
    assert code == 2 and "no column named 'nope'" in err
    code, _, err = _run(capsys, "--data", str(tmp_path / "missing.csv"), "--label", "x")
    assert code == 2 and "cannot read" in err


def test_row_limit_from_the_environment(wine_csv):
    result = subprocess.run([sys.executable, "-m", "nn", "train", "--data", str(wine_csv), "--label",
                             "cultivar"], capture_output=True, text=True, cwd=ROOT,
                            env={"NN_MAX_TABLE_ROWS": "100", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
                            timeout=120)
    assert result.returncode == 2 and "limit is 100 (NN_MAX_TABLE_ROWS)" in result.stderr
