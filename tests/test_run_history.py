"""The Train page's history of runs without Streamlit (``app.train.run_history``): what one run is
across Stop, Continue, Reset and a restore, the bounds (runs and bytes), the CSV table, the
overlay's curves, a restored model, and the memory the kept runs really hold."""
from __future__ import annotations

import csv
import io
import tracemalloc

import numpy as np
import pytest

from app.train.run_history import MAX_RUNS, SUMMARY, KeptRun, RunHistory, rebuild
from app.train.session import TrainSession
from nn.core.config import RunConfig
from nn.runs.experiment import load_data

CFG = RunConfig(dataset="moons", n_samples=400, hidden=[8, 8], epochs=3, lr=0.01)
MB = 2**20


@pytest.fixture(scope="module")
def data():
    return load_data(CFG)


def _train(s: TrainSession, data, epochs: int = 3) -> None:
    """Train a new model to its end, as the page does, and keep the run as the page does."""
    s.new_model(CFG, data)
    s.start(epochs)
    list(s.steps())
    s.keep_run(data)


def _stop_after_one_record(s: TrainSession) -> None:
    next(iter(s.steps()))
    s.stop()


def _rows(s: TrainSession) -> list[tuple[int, str, float]]:
    return [(r.number, r.status, r.epochs) for r in s.runs.kept]


def test_train_keeps_a_run_once_and_train_again_adds_a_second(data):
    s = TrainSession()
    _train(s, data)
    assert not s.keep_run(data)                    # every later rerun of the page: nothing new
    _train(s, data)
    assert _rows(s) == [(1, "finished", 3), (2, "finished", 3)]
    assert s.runs.kept[0].figures["test_accuracy"] == s.runs.kept[0].row()["test_accuracy"]


def test_continue_after_stop_updates_its_row_and_reset_keeps_the_history(data):
    s = TrainSession()
    s.new_model(CFG, data)
    s.start(3)
    _stop_after_one_record(s)
    s.keep_run(data)
    assert _rows(s) == [(1, "stopped", 1)]
    stopped_weights = [w.copy() for w in s.runs.kept[0].weights]
    s.resume(CFG, data)                           # Continue finishes the stopped run
    list(s.steps())
    s.keep_run(data)
    assert _rows(s) == [(1, "finished", 3)]       # the same row, trained further
    assert not all(np.array_equal(a, b) for a, b in zip(stopped_weights, s.runs.kept[0].weights))
    s.reset()
    assert s.model is None and _rows(s) == [(1, "finished", 3)]


def test_reset_while_training_keeps_the_run_where_it_stopped(data):
    s = TrainSession()
    s.new_model(CFG, data)
    s.start(3)
    next(iter(s.steps()))                          # training runs: no Stop, no keep yet
    assert s.running and not s.runs.kept
    s.reset()
    assert _rows(s) == [(1, "stopped", 1)]
    s2 = TrainSession()                            # ... so does Train pressed mid-run
    s2.new_model(CFG, data)
    s2.start(3)
    next(iter(s2.steps()))
    s2.new_model(CFG, data)
    assert _rows(s2) == [(1, "stopped", 1)]


def test_restore_gives_the_same_model_and_training_it_further_is_a_new_run(data):
    s = TrainSession()
    _train(s, data)
    _train(s, data, epochs=2)
    first = s.runs.get(1)
    model = rebuild(first, data)
    assert all(np.array_equal(a, b) for a, b in zip(model.params, first.weights))
    assert model.meta["history"] == first.history()
    s.adopt(model, first.config(), data)
    s.run_mark.parent = 1
    assert not s.keep_run(data)                    # restored, not trained: no new row
    assert _rows(s) == [(1, "finished", 3), (2, "finished", 2)]
    np.testing.assert_allclose(s.model.predict_proba(data.X_test), model.predict_proba(data.X_test))
    s.resume(first.config(), data)                 # Continue on the restored run 1
    list(s.steps())
    s.keep_run(data)
    assert _rows(s) == [(1, "finished", 3), (2, "finished", 2), (3, "finished", 6)]
    assert s.runs.get(3).parent == 1 and s.runs.get(1).epochs == 3   # run 1 stays as it was


def test_figures_computed_after_the_run_was_kept_update_its_row(data):
    s = TrainSession()
    s.new_model(CFG, data)
    s.start(1)
    list(s.steps())
    s.keep_run(None)                                # the evaluation was interrupted
    assert s.runs.kept[0].figures["test_loss"] == s.history[-1]["val_loss"]   # the last record's
    assert s.runs.record(s, (0.5, 0.75), max_bytes=10**9)      # computed at a later rerun
    assert s.runs.kept[0].figures["test_loss"] == 0.5 and s.runs.kept[0].figures["test_accuracy"] == 0.75
    assert not s.runs.record(s, (0.5, 0.75), max_bytes=10**9) and len(s.runs.kept) == 1


def _fake(number: int, n_weights: int) -> KeptRun:
    """A kept run holding ``n_weights`` float32 weights."""
    return KeptRun(number, CFG.to_dict(), "2-8-8-2", "finished", 1.0, 0.1, 0.1, {}, {}, "[]",
                   [np.zeros(n_weights, np.float32)])


def test_at_most_max_runs_are_kept_oldest_dropped_first():
    h = RunHistory()
    for n in range(1, MAX_RUNS + 6):
        h.put(_fake(n, 10), max_bytes=10**9)
    assert [r.number for r in h.kept] == list(range(6, MAX_RUNS + 6))


def test_the_byte_bound_drops_the_oldest_and_a_huge_run_keeps_no_weights():
    h = RunHistory()
    for n in range(1, 6):
        h.put(_fake(n, MB // 4), max_bytes=3 * MB)          # 1 MB of weights each
    assert [r.number for r in h.kept] == [4, 5] and h.nbytes <= 3 * MB
    h.put(_fake(6, 4 * MB // 4), max_bytes=3 * MB)        # 4 MB: alone above the bound
    assert [r.number for r in h.kept] == [6] and h.kept[0].weights is None and h.nbytes <= 3 * MB
    with pytest.raises(ValueError, match="not kept"):
        rebuild(h.kept[0], None)


def test_a_run_trained_further_keeps_its_place_and_the_oldest_other_run_goes():
    h = RunHistory()
    for n in range(1, 4):
        h.put(_fake(n, MB // 4), max_bytes=4 * MB)        # 1 MB each: all three fit
    h.put(_fake(1, 2 * MB // 4), max_bytes=4 * MB)       # run 1 continued: 2 MB now
    assert [r.number for r in h.kept] == [1, 3] and h.get(1).weights is not None


def test_csv_has_a_row_per_run_every_setting_and_no_formula(data):
    s = TrainSession()
    _train(s, data)
    _train(s, data, epochs=2)
    s.runs.kept[1].cfg["dataset"] = "=HYPERLINK(\"x\")"      # a hostile name, as a table's could be
    rows = list(csv.DictReader(io.StringIO(s.runs.csv())))
    assert [r["run"] for r in rows] == ["1", "2"] and list(rows[0])[:len(SUMMARY)] == list(SUMMARY)
    assert {"hidden", "seed", "weight_decay", "l1"} <= set(rows[0])
    assert rows[0]["hidden"] == "8-8" and rows[0]["epochs_trained"] == "3"
    assert float(rows[0]["test_accuracy"]) == s.runs.kept[0].figures["test_accuracy"]
    assert rows[1]["dataset"].startswith("'=")
    assert RunHistory().csv().startswith("run,status,")


def test_overlay_gives_the_ticked_runs_thinned_curves(data):
    s = TrainSession()
    _train(s, data)
    _train(s, data)
    _train(s, data)
    picked = s.runs.overlay([1, 3])
    assert [name for name, _ in picked] == ["run 1", "run 3"]
    curves = picked[1][1]
    x, y = curves["val_accuracy"]
    assert list(x) == [r["epoch"] for r in s.history if r.get("val_accuracy") is not None]
    assert list(y) == [r["val_accuracy"] for r in s.history if r.get("val_accuracy") is not None]


def test_counted_bytes_match_the_memory_the_runs_hold(data):
    """``nbytes`` (what the budget counts) against tracemalloc's measure of 20 kept runs of a
    network with 264,000 parameters: the count covers what is held (within 10%)."""
    cfg = RunConfig(dataset="moons", n_samples=400, hidden=[512, 512], epochs=1)
    s = TrainSession()
    s.new_model(cfg, data)
    s.start(1)
    list(s.steps())
    h = RunHistory()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(1, MAX_RUNS + 1):
        s.run_mark.number, s.run_mark.kept_at = None, None
        h.record(s, None, max_bytes=10**9)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(h.kept) == MAX_RUNS
    assert held <= h.nbytes <= 1.1 * held + MAX_RUNS * 8192


def test_a_diverged_run_is_kept_as_diverged(data):
    s = TrainSession()                 # momentum at lr 10 on this seed: 3 records, then it diverges
    cfg = RunConfig(dataset="moons", n_samples=400, hidden=[8, 8], epochs=20, lr=10.0, optimizer="momentum")
    s.new_model(cfg, data)
    s.start(20)
    list(s.steps())
    assert s.error and "diverged" in s.error and s.history
    s.keep_run(data)
    assert [(r.status, r.epochs) for r in s.runs.kept] == [("diverged", s.epoch)]


def test_the_visitors_share_of_memory_lets_the_oldest_runs_go(monkeypatch):
    """The page counts the kept runs against the client's share (``app.jobs.keep``): when it is
    full, the oldest runs go until the rest fits."""
    from app.train.runs_panel import _count
    from nn.runs.slots import JOBS
    h = RunHistory()
    for n in range(1, 4):
        h.put(_fake(n, MB // 4), max_bytes=10**9)                # 1 MB each
    others = JOBS.kept_bytes("local")
    monkeypatch.setenv("NN_CLIENT_MB", str(int(others / MB) + 3))   # room for 2 of the 3 runs
    monkeypatch.setenv("NN_BUDGET_MB", "100000")
    try:
        assert _count(h) == 1 and [r.number for r in h.kept] == [2, 3]
        assert JOBS.kept_bytes("local") - others == h.nbytes
    finally:
        JOBS.release(h)


def test_a_regression_run_is_kept_with_its_r2_not_an_accuracy():
    """A reg-plane run's row and curves hold R² (and no accuracy); the overlay reads its R² line."""
    cfg = RunConfig(dataset="reg-plane", n_samples=400, hidden=[8], epochs=3, lr=0.01).validate()
    reg = load_data(cfg)
    s = TrainSession()
    s.new_model(cfg, reg)
    s.start(3)
    list(s.steps())
    s.evaluate_test(reg, lambda: False)
    s.keep_run(reg)
    run = s.runs.kept[0]
    loss, r2 = s.test_figures(reg)
    assert run.row()["test_r2"] == pytest.approx(r2, abs=1e-6) and r2 > 0.5
    assert run.row()["test_loss"] == pytest.approx(loss, rel=1e-5)
    assert run.row()["test_accuracy"] is None and run.row()["train_r2"] is not None
    assert s.runs.task(run.number) == "regression"
    assert run.curves["val_r2"].shape[1] > 0 and run.curves["val_accuracy"].shape[1] == 0
