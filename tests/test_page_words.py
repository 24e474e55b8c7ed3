"""Issue 19, item 9: words that match what the page shows. The inside view's "Thicker, darker
lines are larger weights" only under the network's diagram (not under weight tiles nor for a
table's network, where no lines are drawn); messages next to the settings and the Step's errors
name the controls as labelled, never a CLI flag."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from app_pages import open_app
from streamlit.delta_generator import DeltaGenerator
from streamlit.testing.v1 import AppTest
from test_app_draw import canvas  # noqa: F401  (a fixture: the drawing board's stand-in)
from test_app_own_data import _upload, iris_csv  # noqa: F401  (iris_csv: a fixture)

from app.train import inside as inside_view
from app.train import step
from app.control_labels import page_text
from app.text import plain
from app.train.session import Throttle
from nn.core.settings import ConfigError

LINES = "Thicker, darker lines"
FLAG = re.compile(r"\\?-\\?-[a-z]")


@pytest.fixture
def sent_captions(monkeypatch) -> list[str]:
    """Every caption the page sends into a column or placeholder (the live pictures' captions
    are replaced by the still ones when training ends, so the final page does not show them)."""
    sent: list[str] = []
    caption = DeltaGenerator.caption
    monkeypatch.setattr(Throttle, "due", lambda self: True)      # a live redraw after every step

    def record(self, body, *args, **kwargs):
        sent.append(str(body))
        return caption(self, body, *args, **kwargs)
    monkeypatch.setattr(DeltaGenerator, "caption", record)
    return sent


def _words(at: AppTest) -> str:
    images = [img.caption for e in at.get("image") for img in e.proto.imgs]
    return " ".join([c.value for c in at.caption] + images)


def _train(at: AppTest) -> AppTest:
    at.button(key="train.go").click().run()
    assert not at.exception, at.exception
    assert at.session_state["train_session"].model is not None
    return at


@pytest.mark.parametrize("live", ["0", "1"])
def test_weight_tiles_get_no_words_about_lines(monkeypatch, sent_captions, live):
    monkeypatch.setenv("NN_INSIDE_LIVE", live)
    at = _train(open_app(preset="moons", dataset="digits", hidden="16", epochs="2"))
    words = _words(at)
    assert "Each tile is one first-layer unit's incoming weights" in words     # the tiles' own words
    assert "W ← W − lr·dW" in words
    assert LINES not in words and LINES not in " ".join(sent_captions)
    assert any(c.startswith("Health per layer") for c in sent_captions) == (live == "1")   # live drawn
    at.segmented_control(key="inside.view").set_value(inside_view.WEIGHTS).run()
    assert not at.exception and LINES not in _words(at)


def test_a_tables_network_gets_no_words_about_lines_or_colours(monkeypatch, sent_captions, iris_csv):  # noqa: F811
    monkeypatch.setenv("NN_INSIDE_LIVE", "1")
    at = _train(_upload(open_app(preset="moons", dataset="table", hidden="8", epochs="5"), iris_csv))
    words = _words(at)
    assert "W ← W − lr·dW" in words and "Health per layer" in words
    assert LINES not in words and "**Colours**" not in words
    assert LINES not in " ".join(sent_captions) and "Health per layer" in " ".join(sent_captions)


def test_the_network_diagram_keeps_its_words_about_lines():
    at = _train(open_app(preset="moons", n_samples="400", epochs="2", hidden="4"))
    assert LINES in _words(at) and "red is positive" in _words(at)
    at.segmented_control(key="inside.view").set_value(inside_view.NEURONS).run()
    assert not at.exception and LINES in _words(at)


def _set_hidden(at: AppTest, sizes: list[int]) -> AppTest:
    at.slider(key="tw.layers").set_value(len(sizes)).run()
    for i, n in enumerate(sizes):
        at.number_input(key=f"tw.h{i}").set_value(n)
    return at.run()


def test_the_parameter_limit_next_to_the_settings_names_the_control():
    at = _set_hidden(open_app(preset="moons"), [4000, 4000, 4000])
    assert not at.exception
    side = [e.value for e in at.sidebar.error]
    assert len(side) == 1 and "'Hidden layers'" in side[0] and "32,028,002 parameters" in side[0]
    assert not FLAG.search(side[0]), side
    shown = [w.value for w in at.warning]
    assert any(w.startswith("Invalid setting **'Hidden layers'**: a 2") for w in shown), shown
    assert not any(FLAG.search(w) or "**hidden**" in w for w in shown), shown


@pytest.mark.parametrize("arch, words", [("nonsense", "each item starts with conv, pool, dense, bn or dropout"),
                                         ("," * 5, "'Architecture' takes 1 to 20 comma")])
def test_an_architecture_that_cannot_be_read_names_the_control(arch, words):
    at = open_app(preset="moons", dataset="digits", arch="conv 3x3x4, dense 8")
    assert at.segmented_control(key="tw.kind").value == "CNN"
    at.text_input(key="tw.arch").set_value(arch).run()
    assert not at.exception
    side = [e.value.replace("\\", "") for e in at.sidebar.error]
    assert len(side) == 1 and words in side[0], side
    assert not FLAG.search(side[0]), side
    shown = [w.value for w in at.warning]
    assert any(w.startswith("Invalid setting **'Architecture'**: ") for w in shown), shown
    assert not any(FLAG.search(w) for w in shown), shown


def test_a_steps_error_names_the_control(monkeypatch):
    at = _train(open_app(preset="moons", n_samples="400", epochs="2", hidden="4"))
    at.segmented_control(key="inside.view").set_value(inside_view.STEP).run()

    def refuse(*args, **kwargs):
        raise ConfigError("batch_size", "batch_size (--batch-size) must be a whole number from 1 to "
                                        "300 or 'full'; got 0")
    monkeypatch.setattr(step, "_stepper", refuse)
    at.button(key="inside.step").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("'Batch size' must be a whole number") for e in errors), errors
    assert not any(FLAG.search(e) for e in errors), errors


@pytest.mark.parametrize("raw, want", [
    ("Invalid setting **arch**: arch (--arch): item 1 ('x'): each item starts with conv",
     "Invalid setting **'Architecture'**: item 1 ('x'): each item starts with conv"),
    ("Invalid setting **noise**: noise (--noise) must be in [0, 2]; got 5",
     "Invalid setting **'Noise'**: must be in [0, 2]; got 5"),
    ("Invalid setting **arch**: the architecture (--arch) takes 1 to 20 items",
     "Invalid setting **'Architecture'**: the 'Architecture' takes 1 to 20 items"),
    ("Invalid setting **save**: --save: a folder", "Invalid setting **save**: --save: a folder"),
])
def test_page_text_names_an_invalid_setting_once(raw, want):
    assert page_text(raw) == want
    head, _, rest = raw.partition(": ")
    escaped = page_text(f"{head}: {plain(rest, limit=400)}")
    assert escaped.replace("\\", "").replace("\u2060", "") == want


def test_the_servers_upload_limit_is_the_model_limit():
    """The Train page's model uploader states Streamlit's server.maxUploadSize ("64MB per
    file"): it must be the model file limit (NN_MAX_MODEL_MB's default) and let a table of the
    table limit through (the table uploader states its own, ``tests/test_own_data_words.py``)."""
    import tomllib
    from pathlib import Path

    from nn.data.tables import table_limits
    from nn.hosting import Limits
    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit/config.toml").read_text())
    assert config["server"]["maxUploadSize"] == Limits.max_model_mb
    assert config["server"]["maxUploadSize"] >= table_limits().max_mb


def test_the_model_uploader_states_the_model_file_limit(monkeypatch):
    """Issue 19, item 9: the Train page's model uploader says NN_MAX_MODEL_MB, not the server's
    general upload size."""
    monkeypatch.setenv("NN_MAX_MODEL_MB", "12")
    at = open_app()
    uploaders = {u.proto.label: u.proto.max_upload_size_mb for u in at.get("file_uploader")}
    assert uploaders["Upload a model saved earlier (.npz)"] == 12


def test_a_changed_setting_is_named_by_its_control():
    at = open_app(preset="moons", n_samples="400", epochs="2", hidden="4")
    at.button(key="train.go").click().run()
    at.number_input(key="tw.h0").set_value(6).run()
    text = " ".join(w.value for w in at.warning)
    assert "You changed **'Hidden layers'**" in text


def test_a_draw_page_upload_error_names_controls_not_flags(canvas):
    from test_app_draw import draw_page

    from nn.files.io import model_to_bytes
    from nn.runs.experiment import build_model, config_from_preset, load_data
    cfg = config_from_preset("moons", dataset="digits", hidden=[4])
    model = build_model(cfg, load_data(cfg))
    model.meta["config"] = {**model.meta["config"], "lr": -1.0}          # out of range
    at = draw_page()
    at.file_uploader(key="draw_upload").set_value(("m.npz", model_to_bytes(model), "application/octet-stream")).run()
    shown = " ".join(e.value for e in at.error) + " ".join(c.value for c in at.caption)
    assert "--lr" not in shown.replace("\\", "") and "Learning rate" in shown


def test_streamlit_runs_no_full_collection_after_each_page_run():
    """Issue 17 (health check under load): Streamlit's post-run gc.collect(2) held the GIL for 45%
    of the server's time after 23 clicks; the app's config turns it off, as Streamlit reads it."""
    code = "from streamlit import config; print(config.get_option('runner.postScriptGC'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_streamlit_watches_no_source_files():
    """`make run` keeps .venv in the app's folder, whose thousands of modules Streamlit's file
    watcher walked after every page run: the mnist preset trained 3x slower in the browser."""
    code = "from streamlit import config; print(config.get_option('server.fileWatcherType'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "none", out.stderr


def test_the_uploaders_say_what_a_refused_upload_means():
    """Issue 17: a PUT over the server's upload quota gets 429, which the uploader shows as a bare
    'Request failed with status code 429'; each uploader's help says what that means."""
    from app.uploads import BUSY_HELP
    at = open_app(preset="moons", dataset="table")
    helps = [u.proto.help for u in at.get("file_uploader")]
    assert len(helps) == 2 and all(BUSY_HELP in h for h in helps)
