"""benchmarks/bench_time_to_accuracy.py in its smoke mode (a 2,000-row MNIST slice, one seed),
and its PyTorch twin's architecture and initialisation against nn's."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_time_to_accuracy as bench  # noqa: E402

FIGURES = {"train_seconds", "test_accuracy", "mean_train_seconds", "max_train_seconds", "mean_accuracy",
           "worst_accuracy", "gflop_equivalents", "gflop_equivalents_max", "bounds_held"}


def test_smoke_run_gives_every_figure(mnist_path, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_PATH", mnist_path)
    out = tmp_path / "tta.json"
    bench.main(["--preset", "mnist-fast", "--seeds", "1", "--limit-train", "2000", "--limit-test", "300",
                "--json", str(out)])
    report = json.loads(out.read_text())
    probes = report["matmul_gflops"]
    assert probes["start"] > 0 and probes["end"] > 0 and probes["used"] == max(probes["start"], probes["end"])
    assert report["limit_train"] == 2000 and report["threads"] >= 1
    fast = report["presets"]["mnist-fast"]
    assert fast["seeds"] == [0] and fast["bounds"] == bench.BOUNDS["mnist-fast"]
    assert fast["recipe"]["arch"].startswith("conv") and fast["recipe"]["tta"] == 3
    frameworks = ["nn"] + (["torch"] if "torch_skipped" not in fast else [])
    for name in frameworks:
        f = fast[name]
        assert set(f) == FIGURES
        assert len(f["train_seconds"]) == len(f["test_accuracy"]) == 1
        assert f["test_accuracy"][0] > 0.3                    # learned something (chance: 0.1)
        assert f["gflop_equivalents"] == pytest.approx(f["mean_train_seconds"] * probes["used"], abs=1)
        assert set(f["bounds_held"]) == set(bench.BOUNDS["mnist-fast"])
        assert f["bounds_held"]["mean_accuracy"] is False      # 2,000 rows cannot reach 99%


def test_torch_twin_matches_nn_layers_and_init():
    torch = pytest.importorskip("torch")
    from torch_twin import torch_network
    from nn.core import CNN_PRESETS, build_network
    preset = CNN_PRESETS["mnist-fast"]
    ours = build_network(preset["arch"], (1, 28, 28), 10, activation=preset["activation"])
    twin = torch_network(preset, (1, 28, 28), 10)
    assert sum(p.numel() for p in twin.parameters()) == ours.n_params
    norms = sum(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in twin.modules())
    assert norms == preset["arch"].count("bn")
    first = next(m for m in twin.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.weight.std().item() == pytest.approx(math.sqrt(2 / 25), rel=0.15)   # He: N(0, 2 / fan_in)
    assert first.bias.abs().max().item() == 0


def test_bounds_are_checked_both_ways():
    figures = {"mean_accuracy": 0.991, "worst_accuracy": 0.988, "gflop_equivalents": 1700}
    assert bench.check_bounds("mnist-fast", figures) == {"mean_accuracy": True, "worst_accuracy": False,
                                                         "gflop_equivalents": False}


def test_torch_is_skipped_where_its_twin_would_differ():
    assert bench.torch_recipe_gap({"val_share": 0.0, "weight_decay": 0.0, "l1": 0.0}) is None
    assert "early stopping" in bench.torch_recipe_gap({"val_share": 0.1})
    assert "weight decay" in bench.torch_recipe_gap({"weight_decay": 1e-4})
