"""What a hostile browser can send (issue 17): forged "Draw points" selection events (row 8) are
refused with a short message and change nothing."""
from __future__ import annotations

import json
import math
from typing import Any

import pytest
from app_pages import open_app
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from app.train.own_points import apply_click, clicked_point
from nn.data.tables import Points

START = [(0.5, 0.5, 0), (-0.5, -0.5, 1)]


def send_selection(at: AppTest, value: Any) -> AppTest:
    """Rerun ``at`` as if the browser had sent ``value`` (JSON text, or a dict to encode) as the
    drawing plane's selection: the message a forged client can put on the websocket."""
    plane = [c for c in at.get("plotly_chart") if "Click the plane" in c.proto.spec]
    assert len(plane) == 1
    states = at._tree.get_widget_states()
    text = value if isinstance(value, str) else json.dumps(value)
    states.widgets.append(WidgetState(id=plane[0].proto.id, string_value=text))
    return at._run(states)


def plane_app(mode: int | str = 0) -> AppTest:
    at = open_app(preset="moons", dataset="points")
    at.session_state["own.points"] = Points(4, START)
    at.session_state["own.version"] = 1
    at.run()
    at.radio(key="own.click").set_value(mode).run()
    return at


FORGED = [
    {"selection": {"points": [{"y": 1.0}]}},                         # no x
    {"selection": {"points": [{"x": [1.0], "y": 1.0}]}},             # a list for x
    {"selection": {"points": [{"x": "1.0", "y": 1.0}]}},             # text for x
    {"selection": {"points": [{"x": True, "y": 1.0}]}},
    {"selection": {"points": 5}},                                    # points not a list
    {"selection": {"points": {"x": 1.0, "y": 1.0}}},
    {"selection": {"points": ["x"]}},
    {"selection": {"points": [{"x": 1e300, "y": 0.0}]}},             # off the plane
    {"selection": {"points": [{"x": -3.0, "y": 0.0}]}},
    '{"selection": {"points": [{"x": NaN, "y": 0}]}}',              # Python's json reads these
    '{"selection": {"points": [{"x": Infinity, "y": 0}]}}',
    {"selection": {}},
]


@pytest.mark.parametrize("mode", [0, "remove"])
@pytest.mark.parametrize("event", FORGED)
def test_forged_selection_events_change_nothing_and_say_so(event, mode):
    at = send_selection(plane_app(mode), event)
    assert not at.exception, at.exception
    assert at.session_state["own.points"].to_records() == [list(p) for p in START]
    notes = [w.value for w in at.warning]
    assert any("could not be read" in n or "must lie on the plane" in n or "No point near" in n
               for n in notes), notes
    assert not any("Traceback" in n or ".py" in n for n in notes)


def test_a_real_click_still_adds_and_removes():
    at = send_selection(plane_app(2), {"selection": {"points": [{"x": 1.25, "y": -2.5}], "point_indices": [0],
                                                     "box": [], "lasso": []}})
    assert not at.exception and at.session_state["own.points"].to_records()[-1] == [1.25, -2.5, 2]
    at.radio(key="own.click").set_value("remove").run()
    at = send_selection(at, {"selection": {"points": [{"x": 0.5, "y": 0.45}]}})
    assert [1.25, -2.5, 2] in at.session_state["own.points"].to_records()
    assert [0.5, 0.5, 0] not in at.session_state["own.points"].to_records()


@pytest.mark.parametrize("x", [math.nan, math.inf, 1e300, "0.5", [0.5], None])
def test_apply_click_refuses_what_is_not_a_point_on_the_plane(x):
    points = Points(4, START)
    for mode in (0, "remove"):
        assert apply_click(points, mode, x, 0.5)
        assert points.to_records() == [list(p) for p in START]       # NaN never removes a point


def test_clicked_point_reads_only_the_charts_own_shape():
    assert clicked_point({"selection": {"points": [{"x": 1, "y": -0.5, "curve_number": 0}]}}) == (1.0, -0.5)
    for event in (None, 5, "x", [], {"selection": 3}, {"selection": {"points": []}},
                  {"selection": {"points": [{"x": math.nan, "y": 0}]}}):
        assert clicked_point(event) is None


# --- no traceback for a visitor (NN_PUBLIC=1) --------------------------------------------------
SECRET = "/srv/secret/path/module.py: boom 12345"


@pytest.fixture
def error_details():
    """The process-wide ``client.showErrorDetails`` put back after the test (the dashboard sets
    it in hosting mode)."""
    from streamlit import config
    before = config.get_option("client.showErrorDetails")
    yield
    config.set_option("client.showErrorDetails", before)


def _fail(*args, **kwargs):
    raise RuntimeError(SECRET)


def page_text(at: AppTest) -> str:
    """Everything the page shows, exceptions included (message, type and trace)."""
    parts = [str(getattr(e, "value", "")) for kind in ("error", "warning", "info", "markdown", "caption")
             for e in getattr(at, kind)]
    parts += [f"{e.proto.message} {e.proto.type} {' '.join(e.proto.stack_trace)}" for e in at.exception]
    return "\n".join(parts)


def test_a_failing_page_shows_a_plain_message_to_a_visitor(monkeypatch, error_details):
    monkeypatch.setenv("NN_PUBLIC", "1")
    monkeypatch.setattr("app.train.own_data.start_run", _fail)         # the Train page calls it first
    at = open_app(preset="moons")
    text = page_text(at)
    assert not at.exception
    assert any("Something went wrong" in e.value for e in at.error)
    for leak in ("boom", "secret", "Traceback", "RuntimeError", ".py", "/work/"):
        assert leak not in text, (leak, text)


def test_a_failing_widget_callback_shows_no_details_to_a_visitor(monkeypatch, error_details):
    monkeypatch.setenv("NN_PUBLIC", "1")
    monkeypatch.setattr("app.train.own_data._start_over", _fail)       # the "Start over" button's callback
    at = open_app(preset="moons", dataset="points")
    at.button(key="own.restart").click().run()
    assert at.exception                                          # Streamlit's generic notice
    text = page_text(at)
    for leak in ("boom", "secret", "Traceback", "RuntimeError", ".py", "/work/"):
        assert leak not in text, (leak, text)


def test_on_ones_own_machine_the_details_are_shown(monkeypatch, error_details):
    monkeypatch.delenv("NN_PUBLIC", raising=False)
    monkeypatch.setattr("app.train.own_data.start_run", _fail)
    at = open_app(preset="moons")
    assert at.exception and "boom" in at.exception[0].value


# --- uploaded files are let go once read (row 3) -----------------------------------------------
@pytest.fixture
def file_managers(monkeypatch) -> list:
    """Every ``MemoryUploadedFileManager`` made while the test runs (AppTest makes one a run)."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    made = []
    init = MemoryUploadedFileManager.__init__

    def record(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)
    monkeypatch.setattr(MemoryUploadedFileManager, "__init__", record)
    return made


def held(manager) -> tuple[int, int]:
    """(files, bytes) Streamlit holds for the test's session."""
    files = manager.file_storage.get("test session id", {})
    return len(files), sum(len(f.data) for f in files.values())


def test_an_uploaded_table_is_let_go_once_read(file_managers):
    csv = ("a,b,label\n" + "".join(f"{i},{i % 7},{'xy'[i % 2]}\n" for i in range(2000))).encode()
    at = open_app(preset="moons", dataset="table")
    at.file_uploader(key="own.upload").set_value(("t.csv", csv, "text/csv")).run()
    assert not at.exception, at.exception
    assert at.session_state["own.table"]["summary"].n_rows == 2000
    assert held(file_managers[-1]) == (0, 0)          # today: (1, len(csv)) for the session's life
    at.run()                                          # the page goes on without the bytes
    assert not at.exception and at.session_state["own.table"]["summary"].n_rows == 2000


def test_a_refused_table_is_let_go_too(file_managers):
    at = open_app(preset="moons", dataset="table")
    at.file_uploader(key="own.upload").set_value(("t.csv", b"\x00\xff" * 5000, "text/csv")).run()
    assert not at.exception and "own.table_error" in at.session_state
    assert held(file_managers[-1]) == (0, 0)


def test_an_uploaded_model_is_let_go_once_read(file_managers):
    from nn import MLP
    from nn.files.io import model_to_bytes
    at = open_app(preset="moons", hidden="8")
    blob = model_to_bytes(MLP([2, 8, 2], seed=1))
    at.file_uploader(key="tw.upload").set_value(("m.npz", blob, "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert at.session_state["train_session"].model.layer_sizes == [2, 8, 2]
    assert held(file_managers[-1]) == (0, 0)
