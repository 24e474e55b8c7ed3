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


def _copy_nn_weights(ours, twin, torch) -> None:
    """nn's parameters and batch-norm statistics into the twin: conv weights share PyTorch's
    (F, C, kh, kw) layout, a dense W (in, out) is PyTorch's weight transposed (nn's Flatten
    orders values as PyTorch's does)."""
    modules = [m for m in twin if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm1d,
                                                 torch.nn.BatchNorm2d))]
    layers = [layer for layer in ours.layers if layer.params]
    assert len(modules) == len(layers)
    for layer, module in zip(layers, modules):
        W, b = (torch.from_numpy(p.copy()) for p in layer.params)
        with torch.no_grad():
            module.weight.copy_(W.T if isinstance(module, torch.nn.Linear) else W)
            module.bias.copy_(b)
            if layer.buffers:
                module.running_mean.copy_(torch.from_numpy(layer.buffers[0].copy()))
                module.running_var.copy_(torch.from_numpy(layer.buffers[1].copy()))


def test_torch_twin_reads_like_nn_with_nn_weights(mnist_path, monkeypatch):
    """Same layers in the same order: with nn's weights (and made-up batch-norm statistics) the
    twin gives nn's log-probabilities, plain and with 3 shifted copies."""
    torch = pytest.importorskip("torch")
    import numpy as np
    from torch_twin import _tta_log_proba, torch_network
    from nn.core import CNN_PRESETS, build_network
    from nn.core.tta import tta_log_proba
    from nn.data import load_dataset
    monkeypatch.setenv("MNIST_PATH", mnist_path)
    preset = CNN_PRESETS["mnist-fast"]
    ours = build_network(preset["arch"], (1, 28, 28), 10, activation=preset["activation"], seed=3)
    rng = np.random.default_rng(0)
    for layer in ours.layers:
        for buf in layer.buffers:
            buf[:] = rng.uniform(0.5, 1.5, buf.shape)
    twin = torch_network(preset, (1, 28, 28), 10).eval()
    _copy_nn_weights(ours, twin, torch)
    X = load_dataset("mnist").X_test[:64]
    with torch.no_grad():
        plain = torch.log_softmax(twin(torch.from_numpy(X.reshape(-1, 1, 28, 28).copy())), 1).numpy()
        three = (_tta_log_proba(twin, X, 3, (1, 28, 28)) - np.log(3)).numpy()
    assert np.allclose(plain, ours.log_proba(X), atol=1e-4)
    assert np.allclose(three, tta_log_proba(ours, X, 3), atol=1e-4)
