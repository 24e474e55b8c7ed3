"""Hostile model files (issue 9, item 3): each is refused with a one-line reason, before the memory
it claims is spent. The files are built here, small on disk; the ones that attacked memory are
refused in a child process whose peak RSS must stay under 200 MB above its baseline."""
from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import nn
from nn import MLP, ModelFormatError
from nn.files.io import model_to_bytes
from nn.views.draw import DEFAULT_MODEL_PATH

ROOT = Path(__file__).resolve().parents[1]
RSS_LIMIT_MB = 200
GB = 1 << 30


# --- building attack files ---------------------------------------------------------------------
def small_model() -> MLP:
    model = MLP([2, 8, 2], seed=3)
    model.meta.update(dataset="moons", preprocessing="none", history=[
        {"epoch": 1, "step": 10, "seconds": 0.1, "train_loss": 0.5, "train_accuracy": 0.8,
         "val_loss": 0.4, "val_accuracy": 0.85, "end_of_epoch": True}])
    return model


def meta_of(model: MLP) -> dict:
    with np.load(io.BytesIO(model_to_bytes(model)), allow_pickle=False) as f:
        return json.loads(str(f["meta"][()]))


def npz(meta: dict | str, **arrays: np.ndarray) -> bytes:
    """A model-like archive: ``meta`` (a dict as JSON, or raw text) and the given arrays."""
    text = meta if isinstance(meta, str) else json.dumps(meta)
    buf = io.BytesIO()
    np.savez_compressed(buf, meta=np.array(text), **arrays)
    return buf.getvalue()


def with_meta(**changes) -> bytes:
    """The small model's file with some metadata changed (its weights kept)."""
    model = small_model()
    meta = {**meta_of(model), **changes}
    return npz(meta, **_arrays(model))


def _arrays(model: MLP) -> dict[str, np.ndarray]:
    names = [f"{kind}{i}" for i in range(1, len(model.params) // 2 + 1) for kind in "Wb"]
    return dict(zip(names, model.params))


def with_history(history) -> bytes:
    return with_meta(history=history)


class _RepeatCompressor:
    """Stands in for zipfile's compressor: each 16 MB block of zeros is the same deflate block
    (full flush: byte-aligned, no back-references), so gigabytes are written in no time."""
    BLOCK = bytes(16 << 20)

    def __init__(self) -> None:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.block = c.compress(self.BLOCK) + c.flush(zlib.Z_FULL_FLUSH)
        assert c.compress(self.BLOCK) + c.flush(zlib.Z_FULL_FLUSH) == self.block
        self.tail = c.flush()

    def compress(self, data: bytes) -> bytes:
        assert data is self.BLOCK
        return self.block

    def flush(self) -> bytes:
        return self.tail


def add_bomb(archive: bytes, name: str, inflated: int = 4 * GB) -> bytes:
    """``archive`` with one more deflated member, ``name``, that inflates to ``inflated`` bytes of
    zeros (declared honestly in the zip directory, as zipfile writes it)."""
    buf = io.BytesIO(archive)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open(name, "w", force_zip64=True) as w:
            w._compressor = _RepeatCompressor()
            for _ in range(inflated // len(_RepeatCompressor.BLOCK)):
                w.write(_RepeatCompressor.BLOCK)
    return buf.getvalue()


def refused_in_child(path: Path) -> dict:
    """Load ``path`` in a fresh interpreter; its refusal message and peak RSS above baseline."""
    code = textwrap.dedent(f"""
        import json, resource
        import nn
        from pathlib import Path
        data = Path({str(path)!r}).read_bytes()
        base = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
        try:
            nn.load(data)
            message = None
        except nn.ModelFormatError as exc:
            message = str(exc)
        peak = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
        print(json.dumps({{"message": message, "mb": (peak - base) / 1024}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_one_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message
    assert "pickle" not in message.lower()


# --- the attacks of the issue ------------------------------------------------------------------
@pytest.mark.parametrize("member", ["evil.npy", "W3.npy"])
def test_member_inflating_to_4_gb_is_refused_from_the_directory(tmp_path, member):
    path = tmp_path / "bomb.npz"
    path.write_bytes(add_bomb(model_to_bytes(small_model()), member))
    assert path.stat().st_size < 8 * 2**20                         # a few MB on disk
    with zipfile.ZipFile(path) as z:
        assert z.getinfo(member).file_size == 4 * GB               # and 4 GB once inflated
    result = refused_in_child(path)
    assert_one_line(result["message"])
    expected = "unexpected entries" if member == "evil.npy" else "inflate to more than 64.0 MB"
    assert expected in result["message"]
    assert result["mb"] < RSS_LIMIT_MB


@pytest.mark.parametrize("sizes", [[784, 20000, 20000, 10], [784, 100000, 100000, 10]])
def test_huge_architecture_without_weights_is_refused_before_building(tmp_path, sizes):
    meta = {**meta_of(small_model()), "layer_sizes": sizes}
    path = tmp_path / "claims.npz"
    path.write_bytes(npz(meta))
    assert path.stat().st_size < 1024
    result = refused_in_child(path)
    assert_one_line(result["message"])
    assert "parameters; the limit is 5,000,000 (NN_MAX_PARAMS)" in result["message"]
    assert result["mb"] < RSS_LIMIT_MB


def test_metadata_nested_100000_deep_is_refused_without_recursion(tmp_path):
    text = json.dumps(meta_of(small_model()))[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = tmp_path / "deep.npz"
    path.write_bytes(npz(text, **_arrays(small_model())))
    result = refused_in_child(path)
    assert_one_line(result["message"])
    assert "nested more than 8 levels" in result["message"]
    assert result["mb"] < RSS_LIMIT_MB


def test_a_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    arrays = _arrays(small_model())
    buf = io.BytesIO(npz(meta_of(small_model()), **{k: v for k, v in arrays.items() if k != "W1"}))
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as z:
        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False,
                                                    "shape": (100_000, 100_000)})
        z.writestr("W1.npy", head.getvalue() + bytes(64))          # 40 GB claimed, 64 bytes held
    path = tmp_path / "liar.npz"
    path.write_bytes(buf.getvalue())
    result = refused_in_child(path)
    assert_one_line(result["message"])
    assert "W1 has shape (100000, 100000); the architecture needs (2, 8)" in result["message"]
    assert result["mb"] < RSS_LIMIT_MB


def test_a_header_whose_data_do_not_match_its_shape_is_refused():
    arrays = _arrays(small_model())
    buf = io.BytesIO(npz(meta_of(small_model()), **{k: v for k, v in arrays.items() if k != "W1"}))
    with zipfile.ZipFile(buf, "a") as z:
        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False,
                                                    "shape": (2, 8)})
        z.writestr("W1.npy", head.getvalue() + bytes(16))          # 64 bytes needed
    with pytest.raises(ModelFormatError, match=r"declares shape \(2, 8\) .* holds 16 bytes"):
        nn.load(buf.getvalue())


@pytest.mark.parametrize("history, message", [
    ("notalist", "history must be a list"),
    ([{"epoch": "x"}], "history record 0: epoch must be a number"),
    ([{"epoch": 1}], "history record 0 lacks step"),
    ([1, 2], "history record 0 is not a record"),
    ([{"epoch": 1, "step": 2, "seconds": 1.0, "val_accuracy": 5.0}],
     "val_accuracy must be an accuracy in [0, 1] or null; got 5.0"),
    ([{"epoch": 1e308, "step": 2, "seconds": 1.0}], "epoch must be a number from 0 to 1000000"),
    ([{"epoch": 1, "step": -2, "seconds": 1.0}], "step must be a whole number >= 0"),
    ([{"epoch": 1, "step": 2, "seconds": 1.0, "train_loss": -1}], "train_loss must be a loss >= 0"),
    ([{"epoch": 1, "step": 2, "seconds": 1.0, "end_of_epoch": "yes"}], "end_of_epoch must be true or false"),
    ([{"epoch": 1, "step": 2, "seconds": 1.0, "script": "x"}], "unknown fields: 'script'"),
])
def test_bad_histories_and_spoofed_figures_are_refused(history, message):
    with pytest.raises(ModelFormatError) as info:
        nn.load(with_history(history))
    assert message in str(info.value)
    assert_one_line(str(info.value))


@pytest.mark.parametrize("changes, message", [
    ({"activation": "swish"}, "unknown activation 'swish'"),
    ({"dtype": "object"}, "unsupported dtype 'object'"),
    ({"init": 3}, "unknown init 3"),
    ({"seed": -1}, "seed must be a whole number"),
    ({"layer_sizes": "2,8,2"}, "bad layer_sizes"),
    ({"layer_sizes": [2] * 13}, "bad layer_sizes"),
    ({"dataset": "[Click here](https://evil.example)"}, "dataset must be a name"),
    ({"preprocessing": "x" * 5000}, "preprocessing must be a name"),
    ({"config": {"lr": -1}}, "bad config in the model file: lr (--lr)"),
    ({"config": {"evil": 1}}, "unknown training settings in config: 'evil'"),
    ({"config": [1]}, "config must be a dict"),
    ({"owner": "me"}, "unknown entries in the model's metadata: 'owner'"),
    ({"format": "other/2"}, "unknown model format"),
])
def test_bad_metadata_fields_are_refused(changes, message):
    with pytest.raises(ModelFormatError) as info:
        nn.load(with_meta(**changes))
    assert message in str(info.value)
    assert_one_line(str(info.value))


@pytest.mark.parametrize("text", ['{"format": "nn-mlp/1", "seed": NaN}', "[" * 50, '"' + "\\\"" * 5000])
def test_metadata_that_is_not_plain_json_is_refused(text):
    with pytest.raises(ModelFormatError) as info:
        nn.load(npz(text, **_arrays(small_model())))
    assert_one_line(str(info.value))


def test_garbage_is_refused_without_suggesting_pickle():
    for junk in (b"\x00" * 100, b"PK\x03\x04" + b"\xff" * 200, np.random.default_rng(0).bytes(5000)):
        with pytest.raises(ModelFormatError) as info:
            nn.load(junk)
        assert str(info.value).startswith("not a readable .npz model file")
        assert_one_line(str(info.value))


def test_pickled_arrays_are_refused_from_their_header():
    arrays = {**_arrays(small_model()), "W1": np.array([{"a": 1}] * 16, dtype=object).reshape(2, 8)}
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta_of(small_model()))), **arrays)
    with pytest.raises(ModelFormatError, match="W1 holds Python objects") as info:
        nn.load(buf.getvalue())
    assert_one_line(str(info.value))


# --- the limits themselves ---------------------------------------------------------------------
def test_file_size_limit_is_checked_first_for_bytes_paths_and_files(tmp_path, monkeypatch):
    monkeypatch.setenv("NN_MAX_MODEL_MB", "1")
    data = b"PK" + bytes(2 * 2**20)                                 # 2 MB, never parsed
    path = tmp_path / "big.npz"
    path.write_bytes(data)
    for source in (data, path, str(path), io.BytesIO(data)):
        with pytest.raises(ModelFormatError, match=r"is 2\.0 MB; the limit is 1\.0 MB \(NN_MAX_MODEL_MB\)"):
            nn.load(source)


def test_parameter_limit_follows_the_environment(monkeypatch):
    data = model_to_bytes(small_model())                           # 2-8-2: 42 parameters
    monkeypatch.setenv("NN_MAX_PARAMS", "41")
    with pytest.raises(ModelFormatError, match="42 parameters; the limit is 41"):
        nn.load(data)
    monkeypatch.setenv("NN_MAX_PARAMS", "42")
    assert nn.load(data).n_params == 42


def test_a_directory_with_many_entries_is_refused_before_parsing():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(5000):
            z.writestr(f"m{i}", b"")
    with pytest.raises(ModelFormatError, match="lists 5000 entries"):
        nn.load(buf.getvalue())


def test_duplicate_members_are_refused():
    data = model_to_bytes(small_model())
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr("W1.npy", b"x")
    with pytest.raises(ModelFormatError, match="holds W1.npy more than once"):
        nn.load(buf.getvalue())


def test_a_member_whose_data_are_damaged_is_refused():
    data = bytearray(model_to_bytes(small_model()))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("W1.npy")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len          # the member's deflated data
    data[start + 4:start + 12] = b"\xff" * 8
    with pytest.raises(ModelFormatError) as exc:
        nn.load(bytes(data))
    assert_one_line(str(exc.value))


# --- what must keep working --------------------------------------------------------------------
def test_valid_files_still_load_from_every_kind_of_source(tmp_path):
    model = small_model()
    data = model_to_bytes(model)

    class Stream(io.RawIOBase):                                    # not seekable, like a pipe
        def __init__(self) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            chunk = self.inner.read(len(b))
            b[:len(chunk)] = chunk
            return len(chunk)

    path = tmp_path / "m.npz"
    path.write_bytes(data)
    for source in (data, bytearray(data), io.BytesIO(data), path, str(path), Stream()):
        loaded = nn.load(source)
        assert loaded.meta == model.meta
        for p, q in zip(model.params, loaded.params):
            np.testing.assert_array_equal(p, q)


def test_the_shipped_model_and_a_float64_model_load():
    assert nn.load(DEFAULT_MODEL_PATH).layer_sizes == [784, 256, 10]
    model = MLP([3, 4, 5, 2], dtype="float64", activation="tanh", init="xavier", seed=9)
    model.meta["config"] = {"dataset": "moons", "hidden": [4, 5], "lr": 0.01}
    loaded = nn.load(model_to_bytes(model))
    assert loaded.dtype == np.float64 and loaded.meta == model.meta
    np.testing.assert_array_equal(loaded.params[2], model.params[2])


def test_a_refused_file_leaves_nothing_half_built(monkeypatch):
    built = []
    monkeypatch.setattr("nn.files.io.MLP", lambda *a, **k: built.append(a) or MLP(*a, **k))
    with pytest.raises(ModelFormatError):
        nn.load(with_history([{"epoch": 1, "step": 1, "seconds": 0, "val_accuracy": 2}]))
    assert built == []


# --- a lying architecture text (issue 17, row 10) ----------------------------------------------
def _cnn_file(arch_text: str | None, activation: str = "relu") -> tuple[bytes, "nn.core.Sequential"]:
    """A small CNN's file whose metadata says ``arch_text`` (None: no arch entry)."""
    from nn.core import build_network
    net = build_network("conv 3x3x4, pool 2, dense 16", (1, 8, 8), 3, activation=activation)
    with np.load(io.BytesIO(model_to_bytes(net)), allow_pickle=False) as f:
        meta = json.loads(str(f["meta"][()]))
        arrays = {k: f[k] for k in f.files if k != "meta"}
    if arch_text is None:
        meta.pop("arch", None)
    else:
        meta["arch"] = arch_text
    return npz(meta, **arrays), net


@pytest.mark.parametrize("lie", ["dense 4096, dense 4096", "conv 11x11x512, pool 8", None])
def test_a_lying_arch_text_is_replaced_by_the_layers_own(lie):
    from app.train.state import describe_network, model_settings
    data, net = _cnn_file(lie)
    loaded = nn.load(data)
    assert loaded.meta["arch"] == "conv 3x3x4, pool 2, dense 16" == net.meta["arch"]
    assert describe_network(loaded).startswith("CNN conv 3x3x4, pool 2, dense 16 (")
    assert model_settings(loaded)["arch"] == "conv 3x3x4, pool 2, dense 16"


def test_layers_no_arch_text_can_build_keep_no_arch_text():
    """Mixed activations: no architecture text makes these layers, so none is claimed."""
    data, net = _cnn_file("conv 3x3x4, pool 2, dense 16")
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        meta = json.loads(str(f["meta"][()]))
        arrays = {k: f[k] for k in f.files if k != "meta"}
    kinds = [layer["type"] for layer in meta["spec"]["layers"]]
    meta["spec"]["layers"][kinds.index("relu")] = {"type": "tanh"}    # one relu becomes tanh
    loaded = nn.load(npz(meta, **arrays))
    assert "arch" not in loaded.meta and loaded.activation == "mixed"
