"""Playground's 2-D sets beside moons and circles: XOR, two Gaussians and the two-armed spiral
(issue 20, item 1), each sized by n_samples and noise on the page, the URL, the CLI and the sweep."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from app.train.own_data import START_LABELS
from app.train.sidebar import DATASET_LABELS
from app.train.state import config_from_query
from nn.core.settings import BUILT_IN_DATASETS, REGRESSION_DATASETS, ConfigError, TOY_DATASETS
from nn.data import load_dataset
from nn.runs.experiment import build_trainer, config_from_preset, load_data

NEW = ("xor", "gaussian", "spiral")


@pytest.mark.parametrize("name", NEW)
def test_each_set_is_two_balanced_classes_in_the_plane_drawn_from_its_seed(name):
    d = load_dataset(name, n_samples=1000, noise=0.1, seed=3)
    assert d.X_train.shape == (750, 2) and d.X_test.shape == (250, 2) and d.X_train.dtype == np.float32
    y = np.concatenate([d.y_train, d.y_test])
    assert set(np.unique(y)) == {0, 1} and 0.4 < y.mean() < 0.6
    assert np.abs(d.X_train).max() < 5
    again, other = load_dataset(name, 1000, 0.1, seed=3), load_dataset(name, 1000, 0.1, seed=4)
    np.testing.assert_array_equal(again.X_train, d.X_train)
    assert not np.array_equal(other.X_train, d.X_train)


def test_xor_labels_are_the_sign_of_x1_x2_without_noise():
    d = load_dataset("xor", n_samples=2000, noise=0.0)
    np.testing.assert_array_equal(d.y_train, (d.X_train[:, 0] * d.X_train[:, 1] > 0).astype(np.int64))


@pytest.mark.parametrize("value", [-0.1, 2.5])
def test_bad_noise_is_refused_naming_the_setting_and_its_range(value):
    with pytest.raises(ConfigError, match=r"noise \(--noise\) must be a number in \[0, 2\]"):
        load_dataset("spiral", n_samples=500, noise=value)


def _accuracy(hidden: list[int]) -> float:
    cfg = config_from_preset("moons", dataset="spiral", noise=0.0, n_samples=1000, hidden=hidden,
                             epochs=150, lr=0.01, batch_size=32)
    data = load_data(cfg)
    trainer = build_trainer(cfg, data)
    for _ in trainer.run():
        pass
    return trainer.model.score(data.X_test, data.y_test)


def test_the_spiral_is_hard_for_a_small_network_and_easy_with_depth():
    assert _accuracy([8]) < 0.8
    assert _accuracy([64, 64, 64]) > 0.95


def test_every_set_is_offered_on_the_page_in_the_url_and_the_cli():
    assert set(TOY_DATASETS) >= set(NEW) and set(BUILT_IN_DATASETS) <= set(DATASET_LABELS)
    # the drawing plane starts from any set of classes (not from the regression sets)
    assert set(START_LABELS) == {"empty", *TOY_DATASETS} - set(REGRESSION_DATASETS)
    cfg, warnings = config_from_query({"dataset": ["spiral"], "noise": ["0.05"], "n_samples": ["800"]})
    assert (cfg.dataset, cfg.noise, cfg.n_samples, warnings) == ("spiral", 0.05, 800, [])
    out = subprocess.run([sys.executable, "-m", "nn", "train", "--dataset", "xor", "--n-samples", "400",
                          "--noise", "0.05", "--epochs", "3", "--json"], capture_output=True, text=True,
                         timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["config"]["dataset"] == "xor" and 0.0 <= result["test_accuracy"] <= 1.0


def test_a_sweep_runs_on_the_spiral_and_depth_pays():
    out = subprocess.run([sys.executable, "-m", "nn", "sweep", "--dataset", "spiral", "--noise", "0",
                          "--n-samples", "1000", "--param", "depth", "--values", "1", "3", "--hidden", "32",
                          "--epochs", "60", "--optimizer", "adam", "--lr", "0.01", "--batch-size", "32",
                          "--trials", "2", "--workers", "1", "--json"],
                         capture_output=True, text=True, timeout=300, check=True)
    shallow, deep = json.loads(out.stdout.strip().splitlines()[-1])["results"]
    assert deep["mean_accuracy"] > shallow["mean_accuracy"] and deep["mean_accuracy"] > 0.95
