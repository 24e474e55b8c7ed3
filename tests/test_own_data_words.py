"""Issue 19, "Your own data": text that matches what is shown (the plane's title and the radio,
the table uploader's size limit, controls' labels instead of CLI flags) and a legend for the
projection's shapes."""
from __future__ import annotations

import numpy as np
import pytest
from app_pages import open_app

from app.control_labels import page_text
from nn.views.table_figures import projection_figure
from app.text import plain


def _plane_title(at) -> str:
    import json
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "Click the plane" in c.proto.spec]
    assert len(specs) == 1
    return specs[0]["layout"]["title"]["text"]


def test_the_planes_title_uses_the_radios_words():
    at = open_app(preset="moons", dataset="points")
    options = at.radio(key="own.click").options
    title = _plane_title(at)
    assert "removes a point" in options and "adds class 0" in options
    assert title == "Click the plane to add or remove a point"       # as the radio says
    assert "'Remove'" not in title


def test_the_table_uploader_states_the_table_limit(monkeypatch):
    at = open_app(preset="moons", dataset="table")
    assert at.get("file_uploader")[0].proto.max_upload_size_mb == 50       # not the server's 64
    monkeypatch.setenv("NN_MAX_TABLE_MB", "7")
    at = open_app(preset="moons", dataset="table")
    uploader = [u for u in at.get("file_uploader") if u.proto.id.endswith("own.upload")]
    assert uploader and uploader[0].proto.max_upload_size_mb == 7


@pytest.mark.parametrize("query, label", [({"noise": "5"}, "'Noise'"),
                                          ({"n_samples": "3"}, "'Number of samples'"),
                                          ({"test_size": "0.99"}, "'Test share'"),
                                          ({"epochs": "0"}, "'Epochs'"),
                                          ({"hidden": "4000-4000-4000"}, "'Hidden layers'")])
def test_link_and_setting_messages_name_the_control_not_the_flag(query, label):
    at = open_app(preset="moons", **query)
    shown = [w.value for w in at.warning]
    assert any(label in w for w in shown), shown
    assert not any("--" in w.replace("\\", "") for w in shown), shown


def test_page_text_maps_flags_in_plain_and_escaped_text():
    raw = "n_samples (--n-samples) must be a whole number; use --lr or --batch-size"
    want = "'Number of samples' must be a whole number; use 'Learning rate' or 'Batch size'"
    assert page_text(raw) == want
    assert page_text(plain(raw)).replace("\\", "") == want.replace("\\", "")
    assert page_text("--data FILE --label COLUMN") == "--data FILE --label COLUMN"   # no control


def test_the_projection_has_a_legend_entry_per_class_shape():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(90, 4)), rng.integers(0, 3, 90)
    pred = y.copy()
    pred[:9] = (pred[:9] + 1) % 3
    fig = projection_figure(X, X, y, pred, ["setosa", "versicolor", "virginica"])
    entries = [t for t in fig.data if t.showlegend is not False]
    colours = [t.name for t in entries if t.name.startswith(("right", "wrong"))]
    assert colours == ["right (81)", "wrong (9)"]
    shapes = {t.name: t.marker.symbol for t in entries if t.name not in colours}
    assert shapes == {"setosa": "circle", "versicolor": "diamond", "virginica": "square"}
    assert all(isinstance(t.marker.symbol, str) for t in entries)      # one shape per entry
    assert len({t.marker.color for t in entries if t.name in shapes}) == 1   # shape, not colour
    many = projection_figure(np.c_[X, X], np.c_[X, X], np.arange(90) % 12, np.arange(90) % 12)
    keys = [t.name for t in many.data if t.showlegend is not False and not t.name.startswith("right")]
    assert len(keys) == 8 and keys[0] == "0 / 8"                        # 8 shapes for 12 classes
