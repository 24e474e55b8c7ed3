"""Links (URL query) on the Train page: every value reaches its widget or is named in a warning,
no widget error, and text from the URL is shown as plain text (no link, no image)."""
from __future__ import annotations

import pytest
from app_pages import open_app
from markdown_it import MarkdownIt

from app.text import plain
from app.train.state import config_from_query


def _warnings(at) -> str:
    return " ".join(w.value for w in at.warning)


@pytest.mark.parametrize("query, key, value", [
    ({"noise": "1.5"}, "tw.noise", 1.5),
    ({"n_samples": "500000"}, "tw.n_samples", 500000),
    ({"weight_decay": "0.7"}, "tw.weight_decay", 0.7),
    ({"preset": "mnist", "momentum": "0.995"}, "tw.momentum", 0.995),
    ({"n_samples": "20"}, "tw.n_samples", 20),
])
def test_link_values_the_library_accepts_reach_the_widgets(query, key, value):
    at = open_app(**query)
    assert not at.exception, at.exception
    assert at.session_state[key] == value and not at.warning
    name = key.removeprefix("tw.")
    assert at.session_state["train_cfg"][name] == value


def test_eight_hidden_layers_reach_the_widgets():
    at = open_app(hidden="8-8-8-8-8-8-8-8")
    assert not at.exception and at.slider(key="tw.layers").value == 8
    assert at.session_state["train_cfg"]["hidden"] == [8] * 8 and at.query_params["hidden"] == "8-8-8-8-8-8-8-8"


def test_values_beyond_the_widgets_are_clamped_with_a_named_warning():
    at = open_app(preset="mnist", momentum="0.9999", weight_decay="0.99999")
    assert not at.exception
    text = _warnings(at)
    assert "momentum=0.9999" in text and "using 0.999" in text and "weight_decay=0.99999" in text
    assert at.slider(key="tw.momentum").value == 0.999


def test_values_the_library_refuses_are_named():
    at = open_app(noise="3", momentum="1.5", n_samples="5", hidden="1-2-3-4-5-6-7-8-9-10-11")
    assert not at.exception
    text = _warnings(at)
    for name in ("noise", "momentum", "n_samples", "hidden"):
        assert f"Ignored {name}=" in text


def _rendered(markdown: str) -> str:
    """Markdown as a browser would get it, with GFM-style autolinks of bare URLs on."""
    return MarkdownIt("commonmark", {"linkify": False}).enable("table").render(markdown)


@pytest.mark.parametrize("field", ["preset", "activation", "lr", "hidden"])
def test_text_from_the_link_never_renders_a_link_or_an_image(field):
    evil = "[Click here](https://evil.example) ![x](https://evil.example/i.png) <img src=x>"
    at = open_app(**{field: evil})
    assert not at.exception and at.warning
    for w in at.warning:
        html = _rendered(w.value)
        assert "<a " not in html and "<img" not in html and "[Click here]" in html


def test_plain_escapes_markdown_and_bounds_length():
    text = plain("**bold** `code` $x$ # h\n:red[x] " + "y" * 500, limit=60)
    html = _rendered(text)
    assert "<strong>" not in html and "<code>" not in html and "<h1>" not in html
    assert len(text.replace("\\", "").replace("\u2060", "")) <= 60 and "\n" not in text


def test_url_round_trip_keeps_widget_range_values():
    cfg, warnings = config_from_query({"noise": "1.5", "momentum": "0.995", "optimizer": "momentum"})
    assert not warnings and cfg.noise == 1.5 and cfg.momentum == 0.995
