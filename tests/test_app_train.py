"""The Train page under Streamlit's AppTest: train a tiny configuration end to end, stop,
continue, reset, bad settings from the URL, a diverging run, model upload and the URL mirror."""
from __future__ import annotations

import pytest
from app_pages import open_app
from streamlit.testing.v1 import AppTest

import nn
from nn.files.io import model_to_bytes
from app.train.session import TrainSession
from app.train.state import config_from_query, config_to_query, history_csv
from nn.runs.experiment import build_trainer, config_from_preset, load_data

TINY = {"preset": "moons", "n_samples": "400", "epochs": "3", "hidden": "8-8"}


def _session(at: AppTest) -> TrainSession:
    return at.session_state["train_session"]


def _text(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "warning", "error", "info")
                    for e in getattr(at, kind))


def test_opens_ready_with_moons_default():
    at = open_app()
    assert not at.exception
    assert at.selectbox(key="tw.dataset").value == "moons"
    assert at.query_params["hidden"] == "32-32" and at.query_params["lr"] == "0.01"
    assert not at.button(key="train.go").disabled and at.button(key="train.stop").disabled


def test_the_time_to_accuracy_presets_show_their_measured_figures():
    at = open_app()
    captions = [c.value for c in at.sidebar.caption]
    assert any("mnist-fast: 99.14% in 5.2 s" in c and "mnist-best: 99.63% in 133 s" in c for c in captions)
    assert "lowest 99.06%" in at.button(key="preset.mnist-fast").help


def test_train_tiny_end_to_end_then_continue_and_reset():
    at = open_app(**TINY)
    at.button(key="train.go").click().run()
    assert not at.exception
    s = _session(at)
    assert s.model.layer_sizes == [2, 8, 8, 2] and s.epoch == 3 and not s.running
    assert len([r for r in s.history if r["end_of_epoch"]]) == 3
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == f"{s.model.n_params:,}" and metrics["Epochs trained"] == "3"
    assert metrics["Test accuracy"].endswith("%")
    assert len(at.get("plotly_chart")) == 3                    # loss, accuracy, decision boundary
    model = s.model
    at.button(key="train.continue").click().run()              # 3 more epochs, same model
    s = _session(at)
    assert s.model is model and s.epoch == 6 and s.target == 6
    at.button(key="train.reset").click().run()
    assert _session(at).model is None and not at.exception


def test_every_run_sends_the_settings_to_the_browser():
    """A browser that has not taken a run's widget values yet (a click on Train within a second of
    the page opening, under load) shows the widgets' minimums and sends them back on the next
    click (Stop): every setting at its minimum. So each run, not only the first, carries the
    settings' values to the browser."""
    at = open_app(**TINY)
    at.button(key="train.go").click().run()                     # a later run, settings unchanged
    assert not at.exception
    expected = {"tw.n_samples": 400, "tw.noise": 0.1, "tw.test_size": 0.25, "tw.layers": 2,
                "tw.h0": 8, "tw.h1": 8, "tw.lr": 0.01, "tw.batch_size": 32, "tw.epochs": 3,
                "tw.seed": 0, "tw.weight_decay": 0.0, "tw.activation": "relu", "tw.dataset": "moons"}
    widgets = {w.key: w for kind in ("number_input", "slider", "select_slider", "selectbox")
               for w in getattr(at, kind) if w.key in expected}
    assert set(widgets) == set(expected)
    for key, value in expected.items():
        assert widgets[key].proto.set_value, f"{key} was drawn without its value"
        assert widgets[key].value == value


def test_stop_keeps_model_and_history_and_continue_goes_on():
    at = open_app(**{**TINY, "epochs": "100000"})
    with pytest.raises(RuntimeError, match="timed out"):      # a long run, cut off mid-way
        at.button(key="train.go").click().run(timeout=3)
    s = _session(at)
    assert s.running and 0 < s.epoch < 100000
    at.button(key="train.go").set_value(False)       # AppTest kept the tree from before the run:
    stop = at.button(key="train.stop")               # un-click Train, enable Stop as it was live
    stop.proto.disabled = False
    stop.click().run()
    s = _session(at)
    stopped = s.epoch
    assert not s.running and s.model is not None and s.history[-1]["epoch"] == stopped
    assert "Stopped at epoch" in at.get("progress")[0].proto.text
    assert at.button(key="train.continue").label == "Continue to 100000"   # would finish the run
    at.number_input(key="tw.epochs").set_value(2).run()
    assert not _session(at).running                            # a rerun does not restart it
    assert at.button(key="train.continue").label == f"Continue to {int(stopped) + 2}"
    at.button(key="train.continue").click().run()
    s = _session(at)
    assert not at.exception and not s.running and s.epoch == int(stopped) + 2


def test_changing_the_architecture_asks_for_a_new_model():
    at = open_app(**TINY)
    at.button(key="train.go").click().run()
    at.slider(key="tw.layers").set_value(3).run()
    assert any("Press **Train** for a new model" in w.value for w in at.warning)
    assert at.button(key="train.continue").disabled
    at.button(key="train.go").click().run()
    assert _session(at).model.layer_sizes == [2, 8, 8, 8, 2]


def test_bad_url_values_warn_and_keep_defaults():
    at = open_app(preset="moons", lr="abc", hidden="0", epochs="-4", dataset="nope")
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    for name in ("lr", "hidden", "epochs", "dataset"):
        assert f"Ignored {name}=" in warnings
    cfg = config_from_preset("moons")
    assert at.select_slider(key="tw.lr").value == cfg.lr and at.number_input(key="tw.epochs").value == cfg.epochs


def test_url_mirrors_settings_and_round_trips():
    at = open_app(**TINY, lr="0.003", batch_size="full")
    assert at.query_params["lr"] == "0.003" and at.query_params["batch_size"] == "full"
    at.select_slider(key="tw.lr").set_value(0.1).run()
    assert at.query_params["lr"] == "0.1"
    cfg, warnings = config_from_query({k: v for k, v in at.query_params.items()})
    assert not warnings and cfg.lr == 0.1 and cfg.hidden == [8, 8] and cfg.batch_size == "full"
    assert config_from_query(config_to_query(cfg))[0] == cfg


def test_diverging_run_explains_instead_of_crashing():
    at = open_app(**{**TINY, "lr": "50", "epochs": "5"})
    at.button(key="train.go").click().run()
    assert not at.exception
    s = _session(at)
    assert s.error and "diverged" in s.error and "learning rate" in s.error
    assert any("diverged" in e.value for e in at.error)
    assert all(r["train_loss"] == r["train_loss"] for r in s.history)     # no NaN in the charts


def test_upload_a_saved_model_and_refuse_bad_files():
    cfg = config_from_preset("moons", n_samples=400, hidden=[6], epochs=2)
    data = load_data(cfg)
    trainer = build_trainer(cfg, data)
    list(trainer.run())
    at = open_app(**TINY)
    at.file_uploader(key="tw.upload").set_value(("m.npz", model_to_bytes(trainer.model), "application/octet-stream")).run()
    s = _session(at)
    assert not at.exception and s.model is not None and s.model.layer_sizes == [2, 6, 2]
    assert s.epoch == 2 and at.number_input(key="tw.h0").value == 6
    at.file_uploader(key="tw.upload").set_value(("junk.npz", b"not a model", "application/octet-stream")).run()
    assert any("Could not use **junk\\.npz**" in e.value for e in at.error)     # name escaped
    assert _session(at).model.layer_sizes == [2, 6, 2]          # nothing lost
    digits = config_from_preset("moons", dataset="digits", hidden=[4], epochs=1)
    wrong = build_trainer(digits, load_data(digits)).model
    for key in ("config", "dataset"):              # a file that does not say its dataset
        del wrong.meta[key]
    at.file_uploader(key="tw.upload").set_value(("digits.npz", model_to_bytes(wrong), "application/octet-stream")).run()
    assert any("64 inputs" in e.value for e in at.error)


def test_an_uploaded_model_brings_its_dataset_and_settings():
    """Issue 19, bug 1: a circles model uploaded on a fresh (moons) page is evaluated and
    continued on circles, with the settings it was trained with, not on moons."""
    cfg = config_from_preset("moons", dataset="circles", hidden=[8, 8], activation="tanh", lr=0.03,
                             epochs=40, n_samples=400, batch_size=16, optimizer="adam")
    trainer = build_trainer(cfg, load_data(cfg))
    list(trainer.run())
    at = open_app()
    at.file_uploader(key="tw.upload").set_value(("c.npz", model_to_bytes(trainer.model), "application/octet-stream")).run()
    s = _session(at)
    assert not at.exception and s.model is not None and s.cfg.dataset == "circles"
    assert at.selectbox(key="tw.dataset").value == "circles"
    query = {k: at.query_params[k] for k in ("dataset", "lr", "n_samples", "batch_size")}
    assert query == {"dataset": "circles", "lr": "0.03", "n_samples": "400", "batch_size": "16"}
    accuracy = float(at.metric[0].value.rstrip("%")) / 100
    assert accuracy == pytest.approx(trainer.history[-1]["val_accuracy"], abs=1e-6)
    assert any("Switched to **circles**" in i.value for i in at.info)
    at.button(key="train.continue").click().run()
    assert _session(at).cfg.dataset == "circles" and _session(at).epoch > 40


def test_an_own_table_model_asks_for_its_table_first():
    cfg = config_from_preset("moons", hidden=[4], epochs=1)
    model = build_trainer(cfg, load_data(cfg)).model
    model.meta["config"] = {**model.meta["config"], "dataset": "table"}
    at = open_app()
    at.file_uploader(key="tw.upload").set_value(("t.npz", model_to_bytes(model), "application/octet-stream")).run()
    assert any("your own table" in e.value for e in at.error) and _session(at).model is None


def test_digits_shows_image_grid_confusion_and_wrong_gallery():
    at = open_app(preset="moons", dataset="digits", hidden="16", epochs="2", lr="0.01")
    at.button(key="train.go").click().run()
    assert not at.exception and _session(at).epoch == 2
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Test images" in t for t in titles) and any("Confusion matrix" in t for t in titles)
    assert any("Most confidently wrong" in t for t in titles)


def test_history_csv_and_model_bytes_round_trip():
    cfg = config_from_preset("moons", n_samples=200, epochs=2)
    trainer = build_trainer(cfg, load_data(cfg))
    list(trainer.run())
    csv = history_csv(trainer.history).splitlines()
    assert csv[0].startswith("epoch,step,seconds,train_loss") and len(csv) == 1 + len(trainer.history)
    assert nn.load(model_to_bytes(trainer.model)).layer_sizes == trainer.model.layer_sizes


@pytest.mark.mnist
def test_mnist_trains_one_short_epoch(mnist_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", mnist_path)
    at = open_app(preset="mnist", hidden="16", epochs="1", batch_size="full", lr="0.5", optimizer="sgd")
    at.button(key="train.go").click().run(timeout=120)
    assert not at.exception and _session(at).epoch == 1
    assert any("Test images" in c.proto.spec for c in at.get("plotly_chart"))


def test_throttle_paces_redraws_by_their_cost():
    from app.train.session import Throttle
    t = Throttle(min_gap=0.5, max_gap=1.0, budget=0.05)
    assert t.due(0.0)                                  # never drawn nor begun: draw at once
    t.begin(now=0.0)                                   # a run starts: first redraw after min_gap
    assert not t.due(0.4) and t.due(0.5)
    t.drew(started=0.5, now=0.51)                      # a cheap draw: 10 ms -> wait min_gap
    assert not t.due(0.9) and t.due(1.01)
    t.drew(started=0.0, now=0.01)
    assert not t.due(0.4) and t.due(0.52)
    t.drew(started=1.0, now=1.2)                       # an expensive one: never over max_gap
    assert not t.due(1.9) and t.due(2.21)


def test_session_steps_can_be_abandoned_and_resumed_exactly():
    cfg = config_from_preset("moons", n_samples=400, epochs=4, hidden=[8])
    data = load_data(cfg)
    s = TrainSession()
    s.new_model(cfg, data)
    s.start(cfg.epochs)
    for rec in s.steps():                              # a page run cut off after one record
        break
    assert s.running and s.epoch == 1
    s.stop()
    assert list(s.steps()) == [] and s.epoch == 1      # stopped: nothing more happens
    assert s.continue_target(cfg.epochs) == 4          # Continue finishes the stopped run...
    s.resume(cfg, data)
    list(s.steps())
    assert not s.running and s.epoch == 4 and s.target == 4
    assert s.continue_target(cfg.epochs) == 8          # ... and after a finished one, Epochs more
    s.resume(cfg, data)
    list(s.steps())
    assert s.epoch == 8


def test_continue_after_stop_at_5_of_15_finishes_at_15_unless_epochs_changed():
    cfg = config_from_preset("moons", n_samples=200, epochs=15, hidden=[4])
    data = load_data(cfg)
    s = TrainSession()
    s.new_model(cfg, data)
    s.start(cfg.epochs)
    for rec in s.steps():
        if rec["end_of_epoch"] and rec["epoch"] == 5:
            s.stop()
    assert s.epoch == 5 and s.interrupted and s.continue_target(15) == 15
    assert s.continue_target(3) == 8                   # Epochs changed to 3: 3 more (the button says so)
    s.resume(cfg, data)
    list(s.steps())
    assert s.epoch == 15 and not s.running and not s.interrupted


def test_two_moons_settings_survive_a_visit_to_mnist(monkeypatch, tmp_path):
    import numpy as np
    path = tmp_path / "mnist.npz"                          # a tiny keras-format MNIST
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 255, (60, 28, 28), dtype=np.uint8), y_train=np.arange(60) % 10,
             x_test=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8), y_test=np.arange(20) % 10)
    monkeypatch.setenv("MNIST_PATH", str(path))
    at = open_app(preset="moons", n_samples="3000", noise="0.2", test_size="0.3")
    at.selectbox(key="tw.dataset").set_value("mnist").run()
    at.number_input(key="tw.epochs").set_value(7).run()
    at.selectbox(key="tw.dataset").set_value("moons").run()
    # the reappearing widgets carry their values to the browser (else it shows their minimums
    # and sends those back on the next click)
    for key, value in (("tw.n_samples", 3000), ("tw.noise", 0.2), ("tw.test_size", 0.3)):
        widget = at.session_state[key]
        proto = (at.number_input(key=key) if key == "tw.n_samples" else at.slider(key=key)).proto
        assert widget == value and proto.set_value, key
        assert (proto.value if key == "tw.n_samples" else proto.value[0]) == pytest.approx(value)
    at.number_input(key="tw.seed").set_value(3).run()
    assert at.query_params["n_samples"] == "3000" and at.query_params["noise"] == "0.2"
    assert at.query_params["test_size"] == "0.3" and at.query_params["epochs"] == "7"


def test_upload_with_a_broken_history_keeps_the_trained_model():
    import io
    import json
    import zipfile
    at = open_app(**TINY)
    at.button(key="train.go").click().run()
    s = _session(at)
    model, history = s.model, list(s.history)
    good = model_to_bytes(model)
    for bad in ("notalist", [{"epoch": "x"}]):
        buf = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(buf, "w") as dst:
            for item in src.namelist():
                data = src.read(item)
                if item == "meta.npy":
                    import numpy as np
                    meta = json.loads(str(np.load(io.BytesIO(data))[()]))
                    meta["history"] = bad
                    out = io.BytesIO()
                    np.save(out, np.array(json.dumps(meta)))
                    data = out.getvalue()
                dst.writestr(item, data)
        at.file_uploader(key="tw.upload").set_value(("bad.npz", buf.getvalue(), "application/octet-stream")).run()
        assert not at.exception and any("Could not use" in e.value for e in at.error)
        s = _session(at)
        assert s.model is model and s.history == history
    at.select_slider(key="tw.lr").set_value(0.1).run()           # later reruns are fine too
    assert not at.exception and _session(at).model is model


def test_an_uploaded_model_reads_loaded_not_done_of_zero():
    cfg = config_from_preset("moons", n_samples=400, hidden=[6], epochs=2)
    trainer = build_trainer(cfg, load_data(cfg))
    list(trainer.run())
    at = open_app(**TINY)
    at.file_uploader(key="tw.upload").set_value(("m.npz", model_to_bytes(trainer.model), "application/octet-stream")).run()
    text = at.get("progress")[0].proto.text
    assert "Loaded a model trained for 2 epochs" in text and "of 0" not in text
    assert at.button(key="train.continue").label == "Continue to 4"     # the file's Epochs, 2: 2 + 2
    at.button(key="train.continue").click().run()
    assert _session(at).epoch == 4 and "Done: epoch 4 of 4" in at.get("progress")[0].proto.text


def test_too_many_parameters_are_shown_next_to_the_network_settings(monkeypatch):
    monkeypatch.setenv("NN_MAX_PARAMS", "1000")
    at = open_app(**{**TINY, "hidden": "64-64"})
    assert not at.exception and at.button(key="train.go").disabled
    note = " ".join(e.value for e in at.sidebar.error)
    assert "4,482 parameters" in note and "1,000" in note and "NN\\_MAX\\_PARAMS" in note
    at.number_input(key="tw.h0").set_value(8).run()
    at.number_input(key="tw.h1").set_value(8).run()
    assert not at.button(key="train.go").disabled
    assert any("parameters (this server's limit: 1,000)" in c.value for c in at.sidebar.caption)


def test_long_epochs_show_an_estimate_before_training(monkeypatch):
    import nn.runs.experiment
    monkeypatch.setattr(nn.runs.experiment, "matmul_flops_per_second", lambda: 1e8)   # a slow machine
    at = open_app(preset="moons", hidden="1024-1024", n_samples="100000")
    assert any("Estimated time per epoch" in c.value for c in at.caption)
    at = open_app(**TINY)
    assert not any("Estimated time per epoch" in c.value for c in at.caption)


def test_a_visitor_beyond_the_limit_waits_in_a_visible_queue_then_trains(monkeypatch):
    import threading
    import time
    from nn.runs.slots import TRAINING_SLOTS
    monkeypatch.setenv("NN_MAX_TRAINING_RUNS", "1")
    holder = TRAINING_SLOTS.slot()                 # another visitor trains
    assert holder.acquire()
    at = open_app(**TINY)
    s, seen = _session(at), []

    def watch() -> None:                           # while the page waits: look, then free the slot
        deadline = time.time() + 30
        while s.queue_ahead is None and time.time() < deadline:
            time.sleep(0.02)
        seen.append((s.queue_ahead, s.epoch, s.running))
        holder.release()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        at.button(key="train.go").click().run(timeout=60)
    finally:
        holder.release()
        watcher.join(30)
    assert seen == [(0, 0, True)]                  # waiting first in line, not training
    assert not at.exception and s.epoch == 3 and s.queue_ahead is None
    assert TRAINING_SLOTS.running == 0 and TRAINING_SLOTS.waiting == 0    # the slot was given back
