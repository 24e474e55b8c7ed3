"""The Train page's history of runs under Streamlit's AppTest: two runs make two rows, ticking
both overlays their curves, Restore brings a run's settings and model back; Stop, Continue and
Reset keep the list as a user expects. (Ticking in a real browser: tests/test_runs_browser.py.)"""
from __future__ import annotations

import numpy as np
import pytest
from app_pages import open_app
from streamlit.testing.v1 import AppTest

from app.train.session import TrainSession

TINY = {"preset": "moons", "n_samples": "400", "epochs": "3", "hidden": "8-8"}


def _session(at: AppTest) -> TrainSession:
    return at.session_state["train_session"]


def _table(at: AppTest):
    frames = [d.value for d in at.dataframe if "status" in d.value.columns]
    assert len(frames) == 1
    return frames[0]


def _charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_two_runs_two_rows_tick_both_overlay_and_restore():
    at = open_app(**TINY)
    at.button(key="train.go").click().run()
    at.select_slider(key="tw.lr").set_value(0.1).run()
    at.button(key="train.go").click().run()
    assert not at.exception
    table = _table(at)
    assert list(table["run"]) == [1, 2] and list(table["lr"]) == [0.01, 0.1]
    assert list(table["status"]) == ["finished", "finished"]
    shown = _charts(at)
    at.session_state["runs.ticked"] = [1, 2]          # what ticking both rows keeps
    at.run()
    assert not at.exception and _charts(at) == shown + 2   # loss and accuracy, both runs
    run1 = _session(at).runs.get(1)
    at.button(key="runs.restore.1").click().run()
    s = _session(at)
    assert not at.exception and s.cfg.lr == 0.01 and at.select_slider(key="tw.lr").value == 0.01
    assert all(np.array_equal(a, b) for a, b in zip(s.model.params, run1.weights))
    assert s.history == run1.history() and "Restored run 1" in " ".join(i.value for i in at.info)
    assert list(_table(at)["run"]) == [1, 2]           # restoring adds no row
    at.button(key="train.continue").click().run()      # trained further: a new row from run 1
    table = _table(at)
    assert list(table["run"]) == [1, 2, 3] and table["from_run"].iloc[2] == 1
    assert table["epochs_trained"].iloc[2] == 6 and table["epochs_trained"].iloc[0] == 3


def test_stop_continue_and_reset_keep_one_row_for_the_run():
    at = open_app(**{**TINY, "epochs": "100000"})
    with pytest.raises(RuntimeError, match="timed out"):      # a long run, cut off mid-way
        at.button(key="train.go").click().run(timeout=3)
    at.button(key="train.go").set_value(False)
    stop = at.button(key="train.stop")
    stop.proto.disabled = False
    stop.click().run()
    stopped = _session(at).epoch
    table = _table(at)
    assert list(table["run"]) == [1] and list(table["status"]) == ["stopped"]
    assert table["epochs_trained"].iloc[0] == round(stopped, 2)
    at.number_input(key="tw.epochs").set_value(2).run()
    at.button(key="train.continue").click().run()
    table = _table(at)
    assert list(table["run"]) == [1] and list(table["status"]) == ["finished"]   # updated, not added
    assert table["epochs_trained"].iloc[0] == int(stopped) + 2
    at.button(key="train.reset").click().run()
    assert not at.exception and _session(at).model is None
    assert list(_table(at)["run"]) == [1]                  # Reset keeps the session's list
    assert "1 of 20 runs kept" in " ".join(c.value for c in at.caption)
