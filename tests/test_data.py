"""Datasets: shapes, dtypes, splits, read-only sharing, and MNIST from MNIST_PATH or a clear error."""
import sys

import numpy as np
import pytest

from nn.data import datasets as nd
from nn.data import DatasetUnavailable, load_dataset


@pytest.fixture(autouse=True)
def fresh_cache():
    nd._keras_images.cache_clear()
    yield
    nd._keras_images.cache_clear()


def test_moons_defaults_follow_the_tutorial():
    d = load_dataset("moons")
    assert d.X_train.shape == (3750, 2) and d.X_test.shape == (1250, 2)
    assert d.X_train.dtype == np.float32 and np.issubdtype(d.y_train.dtype, np.integer)
    assert set(np.unique(d.y_train)) == {0, 1} and d.n_classes == 2 and d.image_shape is None


def test_toy_sets_are_cached_and_read_only():
    a, b = load_dataset("circles", n_samples=300), load_dataset("circles", n_samples=300)
    assert a.X_train is b.X_train
    with pytest.raises(ValueError):
        a.X_train[0, 0] = 1.0
    assert load_dataset("circles", n_samples=300, noise=0.2).X_train is not a.X_train


def test_digits_work_offline_scaled_to_unit_range():
    d = load_dataset("digits")
    assert d.X_train.shape[1] == 64 and d.image_shape == (8, 8) and d.n_classes == 10
    assert 0 <= d.X_train.min() and d.X_train.max() <= 1


@pytest.mark.parametrize("kwargs, word", [({"n_samples": 5}, "n_samples"), ({"noise": -1}, "noise"),
                                          ({"test_size": 0.99}, "test_size")])
def test_bad_toy_settings_are_refused(kwargs, word):
    with pytest.raises(ValueError, match=word):
        load_dataset("moons", **kwargs)


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(ValueError, match="moons, circles, xor, gaussian, spiral, reg-plane, reg-gauss, digits, mnist"):
        load_dataset("cifar")


def write_tiny_mnist(path, n=20):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, n).astype(np.uint8),
             x_test=rng.integers(0, 256, (n // 2, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, n // 2).astype(np.uint8))


def test_mnist_path_is_read_and_scaled(tmp_path, monkeypatch):
    write_tiny_mnist(tmp_path / "mnist.npz")
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "mnist.npz"))
    monkeypatch.setitem(sys.modules, "keras", None)        # proves nothing is downloaded
    d = load_dataset("mnist")
    assert d.X_train.shape == (20, 784) and d.X_test.shape == (10, 784)
    assert d.X_train.dtype == np.float32 and 0 <= d.X_train.min() and d.X_train.max() <= 1
    assert d.preprocessing == "mnist-28x28/255" and d.image_shape == (28, 28)
    assert nd.mnist_available()


def test_missing_mnist_path_file_says_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "nowhere.npz"))
    with pytest.raises(DatasetUnavailable, match="MNIST_PATH"):
        load_dataset("mnist")


def test_offline_without_mnist_path_names_the_fix(monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setitem(sys.modules, "keras", None)        # as if keras cannot fetch anything
    with pytest.raises(DatasetUnavailable, match="Set MNIST_PATH"):
        load_dataset("mnist")


def test_real_mnist(mnist_path):
    d = load_dataset("mnist")
    assert d.X_train.shape == (60000, 784) and d.X_test.shape == (10000, 784)
    assert d.y_test.max() == 9
