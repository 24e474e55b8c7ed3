"""The Draw page under AppTest, with the canvas component stubbed (custom components do not
run there; the real board is driven in tests/test_draw_browser.py)."""
from __future__ import annotations

import base64
import io
import sys
import types

import numpy as np
import pytest
from app_pages import open_app, open_page
from PIL import Image
from streamlit.testing.v1 import AppTest

import nn
from app.draw.logic import model_choices, session_mnist_model
from nn.views.draw import (CNN_MODEL_PATH, DEFAULT_MODEL_PATH, describe_model, digit_drawing,
                           load_mnist_model, mnist_model_problem, predict_drawing, probability_figure)
from nn.files.io import model_to_bytes


def png_url(image: np.ndarray) -> str:
    """An image as the board sends it: a PNG data URL."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class FakeResult:
    """Like streamlit_drawable_canvas 0.13's CanvasResult: the PNG data URL in
    ``_image_data_url``; the page must check it before decoding, never read ``image_data``."""

    def __init__(self, url, json):
        self._image_data_url = url
        self.json_data = json

    @property
    def image_data(self):
        raise AssertionError("the page decoded the drawing without checking it")


@pytest.fixture()
def canvas(monkeypatch):
    """A stand-in for streamlit_drawable_canvas: returns ``canvas.image`` as the drawing (or
    ``canvas.url`` as sent, when set) and records the arguments of each call in ``canvas.calls``."""
    stub = types.ModuleType("streamlit_drawable_canvas")
    stub.image, stub.url, stub.json, stub.calls = None, None, {"objects": []}, []

    def st_canvas(**kwargs):
        stub.calls.append(kwargs)
        url = stub.url or (png_url(stub.image) if stub.image is not None else None)
        return FakeResult(url, stub.json)

    stub.st_canvas = st_canvas
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", stub)
    return stub


def draw_page() -> AppTest:
    return open_page("app/pages/draw.py")


def one(h: int = 280, w: int = 280) -> np.ndarray:
    """A canvas-like RGBA drawing of a '1': a white upright bar on opaque black."""
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[50:230, 130:150, :3] = 255
    return rgba


def mnist_model(**meta) -> nn.MLP:
    """A small network as the Train page leaves it after an epoch on MNIST."""
    model = nn.MLP([784, 16, 10], seed=1)
    model.meta = {"dataset": "mnist", "preprocessing": "mnist-28x28/255",
                  "history": [{"epoch": 1, "step": 469, "seconds": 2.5, "val_accuracy": 0.9,
                               "end_of_epoch": True}], **meta}
    return model


# --- the page --------------------------------------------------------------------------------
def test_first_visit_shows_an_empty_board_read_by_the_shipped_model(canvas):
    at = draw_page()
    call = canvas.calls[-1]
    assert (call["width"], call["height"]) == (280, 280)
    assert call["stroke_color"] == "#FFFFFF" and call["background_color"] == "#000000"
    assert call["return_image_data"] is True and call["drawing_mode"] == "freedraw"
    radio = at.radio(key="draw_model_choice")              # the shipped CNN, or the shipped MLP
    assert radio.options == ["Shipped default", "Shipped MLP"] and radio.value == "Shipped default"
    assert any("**Shipped default**" in c.value and "CNN" in c.value for c in at.caption)
    assert any("Draw a digit on the board" in i.value for i in at.info)
    assert len(at.metric) == 0


def test_a_drawing_is_read(canvas):
    canvas.image = one()
    at = draw_page()
    assert at.metric[0].value == "1"
    assert "confidence" in at.markdown[-1].value
    assert len(at.get("plotly_chart")) == 1
    assert len(at.get("image")) == 1                        # the 28x28 preview


def test_stroke_width_and_clear(canvas):
    at = draw_page()
    assert canvas.calls[-1]["stroke_width"] == 20
    at.slider(key="draw_stroke").set_value(30).run()
    at.run()
    assert canvas.calls[-1]["stroke_width"] == 30
    assert len(at.warning) == 0
    board = canvas.calls[-1]["key"]
    at.button(key="draw_clear").click().run()
    assert not at.exception
    assert canvas.calls[-1]["key"] != board                # a fresh, empty board
    assert canvas.calls[-1]["initial_drawing"] is None


def test_drawing_and_settings_survive_a_visit_to_another_page(canvas):
    canvas.image, canvas.json = one(), {"objects": [{"type": "Path", "id": "my-one"}]}
    at = draw_page()
    at.slider(key="draw_stroke").set_value(32).run()
    board = canvas.calls[-1]["key"]
    at.switch_page("app/pages/train.py").run()
    canvas.image = None                                    # a remounted board has sent nothing
    at.switch_page("app/pages/draw.py").run()
    assert not at.exception
    call = canvas.calls[-1]
    assert call["key"] != board                            # a new board, mounted ...
    assert call["initial_drawing"] == canvas.json          # ... with the drawing restored ...
    assert call["stroke_width"] == 32
    assert at.metric[0].value == "1"                       # ... and still read


def test_session_model_is_preferred_and_others_are_offered(canvas):
    at = open_app()
    at.session_state["train_session"] = types.SimpleNamespace(model=mnist_model())
    at.switch_page("app/pages/draw.py").run()
    radio = at.radio(key="draw_model_choice")
    assert radio.options == ["Trained in this session", "Shipped default", "Shipped MLP"]
    assert radio.value == "Trained in this session"


def test_a_model_for_another_dataset_in_the_session_is_ignored(canvas):
    at = open_app()
    at.session_state["model"] = nn.MLP([2, 8, 2])
    at.switch_page("app/pages/draw.py").run()
    assert not at.exception
    assert at.radio(key="draw_model_choice").options == ["Shipped default", "Shipped MLP"]


def test_uploading_a_model_selects_it_and_a_bad_file_is_reported(canvas):
    canvas.image = one()
    at = draw_page()
    at.file_uploader(key="draw_upload").upload("mine.npz", model_to_bytes(mnist_model())).run()
    assert not at.exception
    radio = at.radio(key="draw_model_choice")
    assert radio.options == ["Uploaded", "Shipped default", "Shipped MLP"] and radio.value == "Uploaded"
    reading = at.metric[0].value                           # what the uploaded model reads
    at.file_uploader(key="draw_upload").upload("junk.npz", b"not a model").run()
    assert not at.exception
    assert any("junk\\.npz was not loaded: not a readable" in e.value for e in at.error)
    radio = at.radio(key="draw_model_choice")              # the model in use is kept
    assert radio.options == ["Uploaded", "Shipped default", "Shipped MLP"] and radio.value == "Uploaded"
    assert any("Using mine\\.npz, uploaded earlier" in c.value for c in at.caption)
    assert at.metric[0].value == reading


def test_a_bad_first_upload_keeps_the_default_model(canvas):
    canvas.image = one()
    at = draw_page()
    at.file_uploader(key="draw_upload").upload("junk.npz", b"not a model").run()
    assert not at.exception
    assert any("junk\\.npz was not loaded" in e.value for e in at.error)
    assert at.radio(key="draw_model_choice").value == "Shipped default"
    assert at.metric[0].value == "1"                       # still reading with the default


def test_random_mnist_digit_is_put_on_the_board_and_read(canvas, mnist_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", mnist_path)
    at = draw_page()
    at.button(key="draw_random").click().run()
    assert not at.exception
    sample, digit = at.session_state["draw_sample"], at.session_state["draw_mounted"]["image"]
    drawing = canvas.calls[-1]["initial_drawing"]
    assert drawing["objects"][0]["type"] == "Image"        # the digit is on the board itself
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    expected = nn.load(CNN_MODEL_PATH).predict(digit.reshape(1, -1) / 255.0)[0]   # the default
    assert at.metric[0].value == str(expected)
    assert any(f"labelled **{sample['label']}**" in c.value for c in at.caption)


def test_without_mnist_the_random_digit_button_is_disabled(canvas, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "missing.npz"))
    at = draw_page()
    assert at.button(key="draw_random").disabled
    assert any("MNIST is not available" in c.value for c in at.caption)


# --- the logic below the page (nn.views.draw) ------------------------------------------------------
def test_model_checks():
    assert mnist_model_problem(mnist_model()) is None
    assert "784" in mnist_model_problem(nn.MLP([2, 4, 2]))
    fashion = mnist_model(dataset="fashion_mnist")
    assert "fashion_mnist" in mnist_model_problem(fashion)
    assert session_mnist_model({"model": fashion}) is None
    assert session_mnist_model({"model": "not a model"}) is None
    assert session_mnist_model({}) is None
    m = mnist_model()
    assert session_mnist_model({"model": m}) is m
    assert session_mnist_model({"train_session": types.SimpleNamespace(model=m)}) is m
    assert session_mnist_model({"train_session": types.SimpleNamespace(model=None)}) is None
    untrained = mnist_model(history=[])
    assert session_mnist_model({"model": untrained}) is None


def test_load_mnist_model_rejects_junk_and_other_datasets():
    with pytest.raises(nn.ModelFormatError):
        load_mnist_model(b"junk")
    with pytest.raises(ValueError, match="fashion_mnist"):
        load_mnist_model(model_to_bytes(mnist_model(dataset="fashion_mnist")))
    assert load_mnist_model(model_to_bytes(mnist_model())).layer_sizes == [784, 16, 10]


def test_model_choices_order():
    a, b, c = mnist_model(), mnist_model(), mnist_model()
    assert list(model_choices(a, b, c)) == ["Trained in this session", "Uploaded",
                                            "Shipped default"]
    assert list(model_choices(None, None, c)) == ["Shipped default"]


def test_predict_and_figure():
    model = nn.load(DEFAULT_MODEL_PATH)
    assert predict_drawing(model, np.zeros((280, 280, 4), np.uint8)) is None
    pred = predict_drawing(model, one())
    assert pred.digit == 1 and pred.image.shape == (28, 28)
    assert pred.proba.shape == (10,) and pred.proba.sum() == pytest.approx(1, abs=1e-5)
    fig = probability_figure(pred.proba)
    assert list(fig.data[0].x) == [str(k) for k in range(10)]
    assert "MNIST test set" in describe_model(model)


def test_digit_drawing_covers_the_board():
    obj = digit_drawing(np.zeros((28, 28), np.uint8))["objects"][0]
    assert obj["src"].startswith("data:image/png;base64,")
    assert obj["width"] * obj["scaleX"] == 280 and obj["height"] * obj["scaleY"] == 280
