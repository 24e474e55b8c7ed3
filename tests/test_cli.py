"""The command line: `python -m nn train`, its JSON contract, bad options, and the presets."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nn
from nn.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m nn ARGS` in a real subprocess."""
    return subprocess.run([sys.executable, "-m", "nn", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})


@pytest.fixture()
def cli(capsys, monkeypatch):
    """The same command in-process (much faster): returns (exit code, stdout, stderr)."""
    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)
    return run


def last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_python_dash_m_nn_train_json_contract_and_save(tmp_path):
    path = tmp_path / "m.npz"
    proc = run_cli("train", "--dataset", "moons", "--hidden", "16", "8", "--epochs", "3",
                   "--batch-size", "32", "--optimizer", "adam", "--lr", "0.01", "--save", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc)
    assert out["dataset"] == "moons" and out["layers"] == [2, 16, 8, 2] and out["epochs"] == 3
    for key in ("train_loss", "test_loss", "test_accuracy", "train_seconds"):
        assert isinstance(out[key], float)
    assert out["test_accuracy"] > 0.8
    model = nn.load(path)
    assert model.layer_sizes == [2, 16, 8, 2] and len(model.meta["history"]) >= 3


def test_train_prints_a_line_per_epoch(cli):
    proc = cli("train", "--preset", "moons", "--epochs", "4")
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("epoch")] == \
        ["1/4", "2/4", "3/4", "4/4"]


@pytest.mark.parametrize("args, words", [
    (["--lr", "0"], ["--lr", "(0, 100]"]),
    (["--epochs", "0"], ["--epochs", "1 to"]),
    (["--batch-size", "abc"], ["--batch-size", "full"]),
    (["--activation", "swish"], ["--activation", "relu"]),
    (["--optimizer", "rmsprop"], ["--optimizer", "adam"]),
    (["--dataset", "cifar"], ["--dataset", "moons"]),
    (["--hidden", "0"], ["--hidden", "1 to"]),
    (["--momentum", "1.5"], ["--momentum", "[0, 1)"]),
    (["--preset", "fast"], ["--preset", "seed-mnist"]),
    (["--noise", "9"], ["--noise"]),
])
def test_invalid_options_exit_nonzero_naming_the_option(cli, args, words):
    proc = cli("train", "--dataset", "moons", "--epochs", "1", *args)
    assert proc.returncode != 0
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_mnist_offline_without_path_fails_with_the_fix(cli, tmp_path):
    proc = cli("train", "--dataset", "mnist", "--epochs", "1",
                   env={"MNIST_PATH": str(tmp_path / "missing.npz")})
    assert proc.returncode != 0 and "MNIST_PATH" in proc.stderr


def test_divergence_exits_nonzero_with_an_explanation(cli):
    proc = cli("train", "--preset", "moons", "--lr", "50", "--json")
    assert proc.returncode == 3
    assert "diverged" in proc.stderr and "learning rate" in proc.stderr
    assert "diverged" in last_json(proc)["diverged"]


def test_seed_moons_preset_reproduces_the_tutorial(cli):
    accs = []
    for seed in range(3):
        proc = cli("train", "--preset", "seed-moons", "--seed", str(seed), "--json")
        assert proc.returncode == 0, proc.stderr
        accs.append(last_json(proc)["test_accuracy"])
    assert 0.90 <= sum(accs) / 3 <= 0.99       # the tutorial: about 94.5% (std about 2%)


def test_moons_preset_reaches_99_5_percent(cli):
    out = last_json(cli("train", "--preset", "moons", "--json"))
    assert out["test_accuracy"] >= 0.995


@pytest.mark.mnist
def test_mnist_preset_reaches_98_percent(cli, mnist_path):
    out = last_json(cli("train", "--preset", "mnist", "--json"))
    assert out["layers"] == [784, 256, 10]
    assert out["test_accuracy"] >= 0.98


@pytest.mark.mnist
def test_seed_mnist_preset_reproduces_the_tutorial(cli, mnist_path):
    out = last_json(cli("train", "--preset", "seed-mnist", "--json"))
    assert out["layers"] == [784, 5, 10] and out["epochs"] == 1000
    assert abs(out["test_accuracy"] - 0.8669) <= 0.01


def test_save_to_a_missing_folder_fails_before_training(cli, tmp_path):
    proc = cli("train", "--preset", "moons", "--epochs", "1", "--save", str(tmp_path / "no" / "m.npz"))
    assert proc.returncode == 2 and "--save" in proc.stderr and "does not exist" in proc.stderr
    assert "epoch 1/1" not in proc.stdout                      # refused before any training


def test_save_reports_the_file_it_writes(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    proc = cli("train", "--preset", "moons", "--epochs", "1", "--save", "x", "--json")
    assert proc.returncode == 0 and (tmp_path / "x.npz").is_file() and not (tmp_path / "x").exists()
    assert "saved to x.npz" in proc.stderr and last_json(proc)["saved"] == "x.npz"


def test_save_to_a_folder_is_refused(cli, tmp_path):
    proc = cli("train", "--preset", "moons", "--epochs", "1", "--save", str(tmp_path))
    assert proc.returncode == 2 and "is a folder" in proc.stderr


@pytest.mark.parametrize("value", ["0", "-3", "x"])
def test_log_every_must_be_positive(cli, value):
    proc = cli("train", "--preset", "moons", "--epochs", "1", "--log-every", value)
    assert proc.returncode == 2 and "--log-every" in proc.stderr and ">= 1" in proc.stderr


def test_too_many_parameters_exit_2_naming_hidden_before_building(cli, monkeypatch):
    import nn.core.mlp
    built = []
    monkeypatch.setattr(nn.core.mlp.MLP, "__init__", lambda self, *a, **k: built.append(a))
    proc = cli("train", "--preset", "moons", "--hidden", "4096", "4096")
    assert proc.returncode == 2 and "--hidden" in proc.stderr
    assert "16,801,794 parameters" in proc.stderr and "5,000,000" in proc.stderr and not built
    proc = cli("train", "--preset", "moons", "--hidden", "64", "--epochs", "1",
               env={"NN_MAX_PARAMS": "100"})
    assert proc.returncode == 2 and "NN_MAX_PARAMS" in proc.stderr


def test_health_prints_per_layer_figures_and_json_has_one_entry_per_epoch(cli):
    proc = cli("train", "--preset", "moons", "--epochs", "3", "--hidden", "8", "8", "--health", "--json")
    assert proc.returncode == 0, proc.stderr
    health = last_json(proc)["health"]
    assert [h["epoch"] for h in health] == [1, 2, 3]
    assert all(len(h["layers"]) == 3 and h["layers"][0]["grad_norm"] > 0 for h in health)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("health  L1 grad")]
    assert len(lines) == 3 and "L3 grad" in lines[0]           # --json: the log goes to stderr
    plain = cli("train", "--preset", "moons", "--epochs", "1", "--hidden", "8", "--json")
    assert last_json(plain)["health"] is None and "health  L1" not in plain.stderr + plain.stdout
