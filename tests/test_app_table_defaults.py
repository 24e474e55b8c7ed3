"""The Train page chooses a table's training settings from its size unless told otherwise, and
says what it chose and why (app.train.own_settings; issue 20, item 5)."""
from __future__ import annotations

import numpy as np
from app_pages import open_app
from streamlit.testing.v1 import AppTest
from test_app_own_data import iris_csv  # noqa: F401  (the fixture: scikit-learn's iris as a CSV)

from nn.runs.table_defaults import choose


def _upload(at: AppTest, data: bytes) -> AppTest:
    at.file_uploader(key="own.upload").set_value(("iris.csv", data, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def _chosen_notes(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.info if "Training settings chosen for this table" in str(e.value)]


def test_the_page_shows_and_trains_with_the_chosen_settings(iris_csv):
    at = _upload(open_app(preset="moons", dataset="table"), iris_csv)
    expected = choose(112, 4, 3)
    notes = _chosen_notes(at)
    assert len(notes) == 1
    assert expected.summary() in notes[0] and "held out" in notes[0] and "never used" in notes[0]
    assert at.toggle(key="own.w.auto").value is True
    assert not [w for w in at.select_slider if w.key == "tw.lr"]     # the chosen ones apply
    at.button(key="train.go").click().run()
    assert not at.exception, at.exception
    s = at.session_state["train_session"]
    assert not s.running and s.cfg.lr == expected.settings["lr"]
    assert s.cfg.val_share == expected.settings["val_share"] and s.trainer.early is not None
    assert s.trainer.early.best_epoch is not None
    assert s.model.evaluate(*_test_rows(at))[1] > 0.85
    assert s.trainer.stopped_early                  # the page says so, and the run is done
    assert any("Stopped early at epoch" in str(e.value) for e in at.info)
    assert s.target == s.trainer.epochs_done < expected.settings["epochs"]
    assert f"Done: epoch {s.target} of {s.target}" in at.get("progress")[0].proto.text


def _test_rows(at: AppTest) -> tuple[np.ndarray, np.ndarray]:
    data = at.session_state["own.model_data"][2]
    return data.X_test, data.y_test


def test_turned_off_the_widgets_apply(iris_csv):
    at = _upload(open_app(preset="moons", dataset="table"), iris_csv)
    at.toggle(key="own.w.auto").set_value(False).run()
    assert not _chosen_notes(at)
    lr = [w for w in at.select_slider if w.key == "tw.lr"]
    assert lr and lr[0].value == 0.01, "the slider is back, starting from the chosen rate"
    assert at.number_input(key="tw.val_share").value == choose(112, 4, 3).settings["val_share"]
    at.number_input(key="tw.val_share").set_value(0.0).run()
    at.number_input(key="tw.epochs").set_value(3).run()
    at.button(key="train.go").click().run()
    s = at.session_state["train_session"]
    assert s.cfg.val_share == 0 and s.epoch == 3 and s.trainer.early is None


def test_a_link_that_says_how_to_train_is_followed(iris_csv):
    at = _upload(open_app(preset="moons", dataset="table", epochs="4"), iris_csv)
    assert at.toggle(key="own.w.auto").value is False and not _chosen_notes(at)
    at.button(key="train.go").click().run()
    assert at.session_state["train_session"].epoch == 4


def test_the_url_keeps_the_choosing_on_across_a_reload(iris_csv):
    at = _upload(open_app(preset="moons", dataset="table"), iris_csv)
    query = {k: at.query_params[k] for k in at.query_params}
    assert query["train_settings"] == "chosen" and query["lr"] == "0.01"    # every setting
    again = open_app(**query)
    assert again.toggle(key="own.w.auto").value is True
    again.toggle(key="own.w.auto").set_value(False).run()
    assert "train_settings" not in again.query_params


def test_a_table_answered_a_quantity_gets_settings_chosen_for_a_regression():
    """Diabetes's whole-number 'target' (214 values): a quantity; its chosen settings (a stronger
    weight decay than a class label's) are shown and trained with."""
    from sklearn import datasets
    csv = datasets.load_diabetes(as_frame=True).frame.to_csv(index=False).encode()
    at = _upload(open_app(preset="moons", dataset="table"), csv)
    at.selectbox(key="own.w.label").set_value("target").run()
    assert not at.exception, at.exception
    expected = choose(331, 10, 1, task="regression")
    notes = _chosen_notes(at)
    assert len(notes) == 1 and expected.summary() in notes[0] and "50 / 331" in notes[0]
    assert at.toggle(key="own.w.auto").value is True
    at.button(key="train.go").click().run()
    assert not at.exception, at.exception
    s = at.session_state["train_session"]
    assert s.model.task == "regression" and s.cfg.weight_decay == expected.settings["weight_decay"]
    assert s.trainer.early is not None and s.trainer.early.best_epoch is not None


def test_the_answer_class_or_quantity_picks_the_chosen_settings():
    from test_app_regression import _ratings      # whole numbers 1-5: the page asks
    at = _upload(open_app(preset="moons", dataset="table"), _ratings())
    at.selectbox(key="own.w.label").set_value("rating").run()
    assert _chosen_notes(at) and choose(180, 2, 5).summary() in _chosen_notes(at)[0]
    at.radio(key="own.w.task").set_value("regression").run()
    assert not at.exception, at.exception
    notes = _chosen_notes(at)
    assert len(notes) == 1 and choose(180, 2, 1, task="regression").summary() in notes[0]
    assert at.toggle(key="own.w.auto").value is True
    at.button(key="train.go").click().run()
    s = at.session_state["train_session"]
    assert not at.exception, at.exception
    assert s.model.task == "regression" and s.cfg.weight_decay == 0.2      # 50 / 180, at its cap


def test_the_features_scaling_is_chosen_with_the_settings_and_shown(iris_csv):
    """Iris's four lengths in cm share a scale of order one: kept as they are while the settings
    are chosen (the box greyed, unticked, the reason in the note); turned off, the visitor's box
    is back, ticked as before, and the model standardises."""
    at = _upload(open_app(preset="moons", dataset="table"), iris_csv)
    box = [c for c in at.checkbox if c.label == "Standardise features"]
    assert len(box) == 1 and box[0].disabled and box[0].value is False
    note = _chosen_notes(at)[0]
    assert "Features kept as they are" in note and "features kept as they are (not standardised)" in note
    at.button(key="train.go").click().run()
    assert not at.exception, at.exception
    assert at.session_state["train_session"].model.meta["schema"]["standardize"] is False
    at.toggle(key="own.w.auto").set_value(False).run()
    box = at.checkbox(key="own.w.standardize")
    assert not box.disabled and box.value is True
    assert any("You changed **data" in str(w.value) for w in at.warning)     # raw -> standardised
    at.button(key="train.go").click().run()
    assert at.session_state["train_session"].model.meta["schema"]["standardize"] is True
