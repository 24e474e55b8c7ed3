"""Save and load: round trip without pickle, and clear refusals of anything malformed."""
import io
import json
import zipfile

import numpy as np
import pytest

import nn
from nn import MLP, ModelFormatError, Trainer, TrainConfig
from nn.data import load_dataset
from nn.files.io import model_to_bytes


@pytest.fixture()
def trained(tmp_path):
    data = load_dataset("moons", n_samples=200)
    model = MLP([2, 8, 8, 2], activation="tanh", init="xavier", seed=5)
    model.meta.update(dataset="moons", preprocessing=data.preprocessing)
    list(Trainer(model, data.X_train, data.y_train, data.X_test, data.y_test,
                 TrainConfig(epochs=2)).run())
    path = tmp_path / "model.npz"
    nn.save(model, path)
    return model, path, data


def test_round_trip_keeps_everything(trained):
    model, path, data = trained
    loaded = nn.load(path)
    assert loaded.layer_sizes == [2, 8, 8, 2] and loaded.activation == "tanh"
    for p, q in zip(model.params, loaded.params):
        np.testing.assert_array_equal(p, q)
        assert q.dtype == p.dtype
    np.testing.assert_array_equal(model.predict_proba(data.X_test), loaded.predict_proba(data.X_test))
    assert loaded.meta["dataset"] == "moons" and loaded.meta["preprocessing"] == "none"
    assert [r["epoch"] for r in loaded.meta["history"] if r["end_of_epoch"]] == [1, 2]
    with np.load(path, allow_pickle=False) as f:     # readable with pickle off
        assert sorted(f.files) == ["W1", "W2", "W3", "b1", "b2", "b3", "meta"]


def test_loads_from_bytes_and_file_objects(trained):
    model, path, _ = trained
    data = model_to_bytes(model)
    for source in (data, io.BytesIO(data), str(path)):
        assert nn.load(source).layer_sizes == model.layer_sizes


def test_training_continues_after_loading(trained):
    _, path, data = trained
    loaded = nn.load(path)
    trainer = Trainer(loaded, data.X_train, data.y_train, config=TrainConfig(epochs=1))
    assert trainer.epochs_done == 2
    list(trainer.run())
    assert trainer.history[-1]["epoch"] == 3


def rewrite(path, tmp_path, **changes):
    """Copy the archive at `path` with some entries replaced (None removes one)."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    out = tmp_path / "bad.npz"
    np.savez(out, **arrays)
    return out


def meta_with(path, **changes):
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"][()]))
    meta.update(changes)
    return np.array(json.dumps(meta))


@pytest.mark.parametrize("case, message", [
    ("not a zip", "not a readable"),
    ("empty", "not a readable"),
    ("no meta", "no 'meta'"),
    ("bad json", "JSON"),
    ("wrong shape", "shape"),
    ("wrong dtype", "dtype"),
    ("nan weight", "NaN"),
    ("missing array", "lacks W2"),
    ("bad activation", "activation"),
    ("bad sizes", "layer_sizes"),
    ("pickled object", "not a readable"),
    ("extra entry", "unexpected"),
])
def test_malformed_files_are_refused_with_a_reason(trained, tmp_path, case, message):
    _, path, _ = trained
    W1 = np.load(path)["W1"]
    bad = {
        "not a zip": lambda: _write(tmp_path, b"hello, I am not a model"),
        "empty": lambda: _write(tmp_path, b""),
        "no meta": lambda: rewrite(path, tmp_path, meta=None),
        "bad json": lambda: rewrite(path, tmp_path, meta=np.array("{oops")),
        "wrong shape": lambda: rewrite(path, tmp_path, W1=np.zeros((3, 8), np.float32)),
        "wrong dtype": lambda: rewrite(path, tmp_path, W1=W1.astype(np.float16)),
        "nan weight": lambda: rewrite(path, tmp_path, W1=np.full_like(W1, np.nan)),
        "missing array": lambda: rewrite(path, tmp_path, W2=None),
        "bad activation": lambda: rewrite(path, tmp_path, meta=meta_with(path, activation="swish")),
        "bad sizes": lambda: rewrite(path, tmp_path, meta=meta_with(path, layer_sizes=[2, -1, 2])),
        "pickled object": lambda: rewrite(path, tmp_path, W1=np.array([{"a": 1}], dtype=object)),
        "extra entry": lambda: rewrite(path, tmp_path, evil=np.zeros(3)),
    }[case]()
    with pytest.raises(ModelFormatError, match=message):
        nn.load(bad)


def _write(tmp_path, content: bytes):
    p = tmp_path / "junk.npz"
    p.write_bytes(content)
    return p


def test_truncated_archive_is_refused(trained, tmp_path):
    _, path, _ = trained
    data = path.read_bytes()
    with pytest.raises(ModelFormatError):
        nn.load(data[: len(data) // 2])
    assert zipfile.is_zipfile(path)
