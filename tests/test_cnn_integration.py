"""The CNN library (nn.core) wired into the configuration, trainer, presets, CLI, model files and
the Train page: a small CNN on the 8x8 digits trains end to end everywhere."""
from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from app_pages import open_app

import nn
from nn.core import Sequential, build_network
from app.train.state import config_from_query, config_to_query, model_changed, model_settings
from nn.core.config import RunConfig, TrainConfig
from nn.core.settings import ConfigError
from nn.runs.experiment import (build_model, build_trainer, check_config_limit, config_from_preset,
                                count_config_params, estimate_config_epoch_seconds, load_data)
from nn.core.optimizers import make_optimizer
from nn.files.io import model_to_bytes
from nn.runs.presets import get_preset

ROOT = Path(__file__).resolve().parents[1]
SMALL = "conv 3x3x4, pool 2, dense 16"
DIGITS_CNN = dict(dataset="digits", arch=SMALL, epochs=2, batch_size=64, lr=0.01, seed=0)


def digits_cnn(**changes) -> RunConfig:
    return RunConfig.from_dict({**DIGITS_CNN, **changes}).validate()


# --- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize("changes, param, words", [
    (dict(arch="conv 3x3x4, pool 9"), "arch", "pool size"),
    (dict(arch="banana 3"), "arch", "--arch"),
    (dict(arch=SMALL, dataset="moons"), "arch", "image dataset"),
    (dict(init="small"), "init", "he, xavier"),
    (dict(activation="leaky_relu"), "activation", "relu, tanh, sigmoid"),
    (dict(augment={"shift": 20, "rotate": 0, "scale": 0}), "augment", "shift"),
    (dict(augment={"shift": 1}), "augment", "rotate"),
    (dict(arch=None, augment={"shift": 1, "rotate": 0, "scale": 0}), "augment", "--arch"),
    (dict(lr_schedule="linear"), "lr_schedule", "constant, cosine"),
])
def test_bad_cnn_settings_name_the_parameter(changes, param, words):
    with pytest.raises(ConfigError, match=words) as err:
        RunConfig.from_dict({**DIGITS_CNN, **changes}).validate()
    assert err.value.param == param


def test_defaults_and_old_presets_are_unchanged():
    assert RunConfig().arch is None and RunConfig().lr_schedule == "constant" and RunConfig().augment is None
    assert get_preset("mnist")["hidden"] == [256] and "arch" not in get_preset("mnist")
    cfg = config_from_preset("mnist-cnn")
    assert cfg.arch.startswith("conv 5x5x16") and cfg.lr_schedule == "cosine" and cfg.augment["shift"] == 2.0
    get_preset("mnist-cnn")["augment"]["shift"] = 99           # a copy: the preset stays
    assert get_preset("mnist-cnn")["augment"]["shift"] == 2.0


def test_url_round_trip_of_a_cnn_config():
    cfg = config_from_preset("mnist-cnn")
    query = config_to_query(cfg)
    assert query["arch"] == cfg.arch and query["augment"] == "2-10-0.1"
    back, warnings = config_from_query(query)
    assert back == cfg and not warnings
    assert "arch" not in config_to_query(config_from_preset("mnist"))
    _, warnings = config_from_query({**query, "arch": "conv 99x99x1"})
    assert warnings and "arch" in warnings[0]


def test_model_changed_knows_cnns():
    mlp, cnn = config_from_preset("mnist"), config_from_preset("mnist-cnn")
    assert "arch" in model_changed(mlp, cnn)
    other = RunConfig.from_dict({**cnn.to_dict(), "hidden": [3]})
    assert model_changed(cnn, other) == []                   # hidden means nothing to a CNN


# --- building and training --------------------------------------------------------------------
def test_build_model_and_param_count_agree():
    cfg = digits_cnn()
    data = load_data(cfg)
    model = build_model(cfg, data)
    assert isinstance(model, Sequential) and model.meta["arch"] == SMALL
    assert count_config_params(cfg) == count_config_params(cfg, data) == model.n_params
    assert model.meta["dataset"] == "digits" and model.meta["config"]["arch"] == SMALL
    assert math.isfinite(estimate_config_epoch_seconds(cfg)) and estimate_config_epoch_seconds(cfg) > 0


def test_param_limit_names_arch(monkeypatch):
    monkeypatch.setenv("NN_MAX_PARAMS", "1000")
    with pytest.raises(ConfigError, match="NN_MAX_PARAMS") as err:
        check_config_limit(digits_cnn(arch="conv 3x3x64, dense 512"))
    assert err.value.param == "arch"


def test_cosine_schedule_per_epoch_and_warm_restart():
    cfg = digits_cnn(lr_schedule="cosine", epochs=4, lr=0.02)
    data = load_data(cfg)
    trainer = build_trainer(cfg, data)
    rates = []
    for _ in range(5):
        list(trainer.run(1))
        rates.append(trainer.optimizer.lr)
    expected = [0.02 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in (0, 1, 2, 3)] + [0.02]
    assert rates == pytest.approx(expected)
    constant = build_trainer(digits_cnn(lr=0.02), data)
    list(constant.run(2))
    assert constant.optimizer.lr == 0.02


def test_cnn_records_inside_an_epoch_skip_the_test_set():
    cfg = digits_cnn(epochs=1, batch_size=8)
    data = load_data(cfg)
    trainer = build_trainer(cfg, data, report_every=0.0)
    records = list(trainer.run())
    inside = [r for r in records if not r["end_of_epoch"]]
    assert inside and all(r["val_accuracy"] is None for r in inside)
    assert records[-1]["end_of_epoch"] and records[-1]["val_accuracy"] is not None
    mlp = build_trainer(RunConfig(dataset="digits", hidden=[8], epochs=1, batch_size=8), data,
                        report_every=0.0)
    assert all(r["val_accuracy"] is not None for r in mlp.run())


def test_augmentation_comes_from_the_config():
    data = load_data(digits_cnn())
    trainer = build_trainer(digits_cnn(augment={"shift": 1.0, "rotate": 5.0, "scale": 0.1}), data)
    assert trainer.model.augment is not None and trainer.model.augment.shift == 1.0
    assert build_trainer(digits_cnn(), data, trainer.model).model.augment is None


def test_weight_decay_applies_to_conv_kernels_not_biases():
    model = build_network(SMALL, (1, 8, 8), 10)
    opt = make_optimizer("sgd", model.params, lr=1.0, weight_decay=0.5)
    assert opt.is_weight == [p.ndim >= 2 for p in model.params] and opt.is_weight[0]
    before = [p.copy() for p in model.params]
    opt.step(model.params, [np.zeros_like(p) for p in model.params])
    np.testing.assert_allclose(model.params[0], 0.5 * before[0], rtol=1e-6)    # W -= lr wd W
    np.testing.assert_array_equal(model.params[1], before[1])


def test_train_config_validates_the_schedule():
    with pytest.raises(ConfigError, match="lr_schedule"):
        TrainConfig(lr_schedule="step").validate()


# --- model files ------------------------------------------------------------------------------
def test_trained_cnn_round_trips_and_continues(tmp_path):
    cfg = digits_cnn()
    data = load_data(cfg)
    trainer = build_trainer(cfg, data)
    list(trainer.run())
    model = trainer.model
    path = tmp_path / "cnn.npz"
    nn.save(model, path)
    loaded = nn.load(path)
    assert isinstance(loaded, Sequential) and loaded.spec() == model.spec()
    assert loaded.meta == json.loads(json.dumps(model.meta))
    np.testing.assert_array_equal(loaded.predict_proba(data.X_test), model.predict_proba(data.X_test))
    assert model_settings(loaded) == {"arch": SMALL, "activation": "relu", "init": "he"}
    again = build_trainer(cfg, data, loaded)                       # its history is accepted
    assert again.epochs_done == 2
    list(again.run(1))
    assert again.epochs_done == 3


def _rewrite(data: bytes, meta_change=None, drop=(), add=None) -> bytes:
    """The model file with its meta changed, members dropped or added."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            name = info.filename.removesuffix(".npy")
            if name in drop:
                continue
            body = src.read(info)
            if name == "meta" and meta_change:
                meta = json.loads(str(np.load(io.BytesIO(body))))
                meta_change(meta)
                buf = io.BytesIO()
                np.save(buf, np.array(json.dumps(meta)))
                body = buf.getvalue()
            dst.writestr(info.filename, body)
        for name, array in (add or {}).items():
            buf = io.BytesIO()
            np.save(buf, array)
            dst.writestr(name + ".npy", buf.getvalue())
    return out.getvalue()


def _set(path: list, value):
    def change(meta):
        target = meta
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


@pytest.mark.parametrize("kwargs, words", [
    (dict(meta_change=_set(["spec", "layers", 0, "type"], "lstm")), "type must be one of"),
    (dict(meta_change=_set(["spec", "layers", 0, "filters"], 10**6)), "filters"),
    (dict(meta_change=_set(["spec", "layers", 0, "extra"], 1)), "fields must be exactly"),
    (dict(meta_change=_set(["spec", "input_shape"], [1, 12, 12])), "layer5_W has shape"),
    (dict(meta_change=_set(["spec", "dtype"], "float64")), "dtype"),
    (dict(meta_change=_set(["spec", "layers"], [{"type": "relu"}] * 500)), "1 to 62 layers"),
    (dict(meta_change=_set(["arch"], "conv 0x0x0")), "bad arch"),
    (dict(meta_change=_set(["spying"], 1)), "unknown entries"),
    (dict(drop=("layer1_b",)), "lacks layer1_b"),
    (dict(add={"layer2_W": np.zeros(3, np.float32)}), "unexpected entries"),
    (dict(add={"evil": np.zeros(3, np.float32)}), "unexpected entries"),
])
def test_damaged_cnn_files_are_refused_with_a_reason(kwargs, words):
    model = build_network(SMALL, (1, 8, 8), 10)
    model.meta["dataset"] = "digits"
    with pytest.raises(nn.ModelFormatError, match=words):
        nn.load(_rewrite(model_to_bytes(model), **kwargs))


def test_non_finite_cnn_weights_are_refused():
    model = build_network(SMALL, (1, 8, 8), 10)
    model.params[0][0, 0, 0, 0] = np.nan
    with pytest.raises(nn.ModelFormatError, match="NaN"):
        nn.load(model_to_bytes(model))


HUGE_SPEC = textwrap.dedent("""
    import io, json, resource, zipfile
    import numpy as np
    import nn
    before = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
    spec = {"input_shape": [16, 512, 512], "layers": [
        {"type": "conv2d", "filters": 512, "kernel": [11, 11], "stride": 1, "padding": 10},
        {"type": "conv2d", "filters": 512, "kernel": [11, 11], "stride": 1, "padding": 10},
        {"type": "flatten"}, {"type": "dense", "units": 4096}, {"type": "dense", "units": 1000}],
        "seed": 0, "init": "he", "dtype": "float32"}
    meta = {"format": "nn-seq/1", "spec": spec}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        b = io.BytesIO(); np.save(b, np.array(json.dumps(meta))); z.writestr("meta.npy", b.getvalue())
        # a header claiming the huge kernel, no data behind it
        h = io.BytesIO(); np.lib.format.write_array_header_1_0(h, {"descr": "<f4", "fortran_order": False,
            "shape": (512, 16, 11, 11)}); z.writestr("layer1_W.npy", b"\\x93NUMPY\\x01\\x00" + h.getvalue()[8:])
    try:
        nn.load(buf.getvalue())
        print("LOADED")
    except nn.ModelFormatError as exc:
        print("REFUSED", exc)
    print("GROWTH_MB", (int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) - before) / 1024)
""")


def test_a_spec_claiming_a_huge_network_is_refused_before_allocating():
    out = subprocess.run([sys.executable, "-c", HUGE_SPEC], capture_output=True, text=True, timeout=120,
                         cwd=ROOT).stdout
    assert "REFUSED" in out and "NN_MAX_PARAMS" in out, out
    growth = float(out.split("GROWTH_MB")[1])
    assert growth < 200, out


# --- command line -----------------------------------------------------------------------------
def test_cli_trains_a_cnn_and_reports_its_arch(tmp_path):
    from nn.cli import main
    path = tmp_path / "cnn.npz"
    code = main(["train", "--dataset", "digits", "--arch", SMALL, "--epochs", "2", "--lr-schedule", "cosine",
                 "--batch-size", "64", "--lr", "0.01", "--save", str(path), "--json"])
    assert code == 0
    assert isinstance(nn.load(path), Sequential)


def test_cli_json_line_has_arch(capsys):
    from nn.cli import main
    assert main(["train", "--dataset", "digits", "--arch", SMALL, "--epochs", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["arch"] == SMALL and summary["config"]["arch"] == SMALL
    assert 0 <= summary["test_accuracy"] <= 1 and summary["train_seconds"] > 0


def test_cli_refuses_a_bad_arch_naming_the_option(capsys):
    from nn.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "digits", "--arch", "conv 3x3x4, pool 99"])
    assert exc.value.code == 2 and "--arch" in capsys.readouterr().err


def test_cli_help_documents_arch(capsys):
    from nn.cli import main
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--arch" in out and "conv 5x5x16" in out and "dropout" in out


# --- the Train page -----------------------------------------------------------------------------
def test_train_page_trains_a_cnn_and_shows_its_filters():
    at = open_app(dataset="digits", arch=SMALL, epochs="2", batch_size="64", lr="0.01")
    assert not at.exception
    assert at.text_input(key="tw.arch").value == SMALL
    at.button(key="train.go").click().run()
    assert not at.exception, at.exception
    s = at.session_state["train_session"]
    assert isinstance(s.model, Sequential) and s.epoch == 2
    assert at.query_params["arch"] == SMALL
    text = " ".join(str(e.value) for e in at.markdown) + " ".join(str(c.value) for c in at.caption)
    assert "Inside the CNN" in " ".join(str(h.value) for h in at.subheader)
    assert "MLPs" in text                                      # the inside view says it is MLP-only
    captions = [img.caption for e in at.get("image") for img in e.proto.imgs]
    assert len(captions) >= 2                                  # filters and feature maps
    assert any(c.startswith("Test image 0, labelled") for c in captions)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == f"{s.model.n_params:,}"


def test_train_page_refuses_a_bad_architecture_with_a_message():
    at = open_app(dataset="digits", arch=SMALL)
    at.text_input(key="tw.arch").set_value("conv 3x3x4, pool 99").run()
    assert not at.exception
    assert at.button(key="train.go").disabled
    assert any("pool size" in str(w.value) for w in at.warning)


def test_train_page_takes_an_uploaded_cnn_and_continues_it():
    cfg = digits_cnn()
    data = load_data(cfg)
    trainer = build_trainer(cfg, data)
    list(trainer.run())
    at = open_app(dataset="digits", epochs="1")
    at.file_uploader(key="tw.upload").set_value(
        ("cnn.npz", model_to_bytes(trainer.model), "application/octet-stream")).run()
    assert not at.exception, at.exception
    s = at.session_state["train_session"]
    assert isinstance(s.model, Sequential) and s.epoch == 2 and s.cfg.arch == SMALL
    assert at.query_params["arch"] == SMALL and at.text_input(key="tw.arch").value == SMALL
    assert any("CNN" in i.value for i in at.info)
    at.button(key="train.continue").click().run()       # the file's own Epochs (2) more: to 4
    assert not at.exception and at.session_state["train_session"].epoch == 4
