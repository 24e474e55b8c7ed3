"""A CNN on the Train page shows only what works for it (issue 19, item 5): its filters and
feature maps (app/cnn_view.py), and none of the "Inside the network" section's toggle, views or
Step button, which cover fully connected networks only."""
from __future__ import annotations

from app_pages import open_app
from streamlit.testing.v1 import AppTest

SMALL_CNN = {"preset": "mnist-cnn", "dataset": "digits", "arch": "conv 3x3x4, pool 2, dense 16",
             "epochs": "1", "batch_size": "64"}
INSIDE_KEYS = ("inside.live", "inside.view", "inside.step")


def _text(at: AppTest) -> str:
    parts = [str(e.value) for kind in ("markdown", "caption", "subheader", "info", "warning")
             for e in getattr(at, kind)]
    return " ".join(parts + [img.caption for e in at.get("image") for img in e.proto.imgs])


def _widget_keys(at: AppTest) -> set[str]:
    keys = set()
    for kind in ("toggle", "segmented_control", "button", "number_input"):
        keys |= {w.key for w in at.get(kind)}
    return keys


def test_a_cnn_gets_no_inside_widgets_before_or_after_training_only_its_own_view():
    at = open_app(**SMALL_CNN)
    assert not at.exception
    assert not set(INSIDE_KEYS) & _widget_keys(at)            # nothing to press that does nothing
    assert "Inside the network" not in _text(at)
    at.button(key="train.go").click().run()
    assert not at.exception, at.exception
    s = at.session_state["train_session"]
    assert type(s.model).__name__ == "Sequential" and s.epoch == 1
    assert not set(INSIDE_KEYS) & _widget_keys(at)
    text = _text(at)
    assert "Inside the network" not in text and "covers fully connected networks (MLPs) only" not in text
    assert "Inside the CNN" in text and "choose Kind MLP" in text
    captions = [img.caption for e in at.get("image") for img in e.proto.imgs]
    assert any(c.startswith("Test image 0, labelled") for c in captions)    # the feature maps
    assert "inside_state" not in at.session_state


def test_the_same_page_with_an_mlp_has_the_inside_section_and_its_step_works():
    at = open_app(**{**SMALL_CNN, "arch": ""})
    at.segmented_control(key="tw.kind").set_value("MLP").run()
    assert not at.exception
    assert {"inside.live", "inside.view"} <= _widget_keys(at)
    at.segmented_control(key="inside.view").set_value("Step through backprop").run()
    assert "inside.step" in _widget_keys(at)
    at.button(key="inside.step").click().run()
    assert not at.exception, at.exception
    assert at.session_state["inside_state"].last_step is not None


def test_a_cnn_with_an_unreadable_architecture_gets_no_mlp_widgets():
    from app_pages import open_app
    at = open_app(preset="mnist-cnn", dataset="digits", arch="conv 3x3x4, pool 2, dense 16")
    at.text_input(key="tw.arch").set_value("nonsense").run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "inside.step"]
    assert "Inside the network" not in [h.value for h in at.subheader]
