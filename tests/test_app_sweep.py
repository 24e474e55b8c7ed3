"""The Sweep page under AppTest: a tiny sweep runs, its results stay in the session, bad input
gets a message naming the setting."""
from __future__ import annotations

from app_pages import open_page
from processes import sweep_workers
from streamlit.testing.v1 import AppTest


def sweep_page() -> AppTest:
    return open_page("app/pages/sweep.py")


def tiny(at: AppTest, values: str = "2:4") -> AppTest:
    at.number_input(key="sw_n_samples").set_value(200)
    at.number_input(key="sw_trials").set_value(2)
    at.number_input(key="sw_epochs").set_value(2)
    at.number_input(key="sw_workers").set_value(1)
    at.text_input(key="sw_values").set_value(values)
    return at


def test_defaults_are_the_tutorial_sweep():
    at = sweep_page()
    assert at.text_input(key="sw_values").value == "3:40"
    assert at.selectbox(key="sw_param").value == "hidden"
    assert at.number_input(key="sw_epochs").value == 100
    assert at.text_input(key="sw_batch_size").value == "10"
    assert at.selectbox(key="sw_init").value == "normal"


def test_the_page_states_the_memory_a_sweep_may_really_take(monkeypatch):
    """A sweep here is also one job of the server's budget: the page gives the smaller limit."""
    limit = lambda at: next(c.value for c in at.caption if "of memory per sweep" in c.value)   # noqa: E731
    assert "384 MB of memory per sweep" in limit(sweep_page())            # a job's, not the sweep's 2048
    monkeypatch.setenv("NN_MAX_JOB_MB", "4000")
    monkeypatch.setenv("NN_BUDGET_MB", "8000")
    assert "2048 MB of memory per sweep" in limit(sweep_page())


def test_a_tiny_sweep_runs_and_its_results_stay():
    at = tiny(sweep_page())
    at.button(key="sw_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    result = at.session_state["sweep_result"]
    summary = result["summary"]
    assert [s["value"] for s in summary] == [2, 3, 4]
    assert all(s["trials"] == 2 and len(s["runs"]) == 2 and 0 <= s["mean_accuracy"] <= 1 for s in summary)
    assert any("Best mean test accuracy" in c.value for c in at.caption)
    at.switch_page("app/pages/train.py").run()                  # leave and come back: still there
    at.switch_page("app/pages/sweep.py").run()
    assert not at.exception
    assert at.session_state["sweep_result"]["summary"] == summary
    assert at.text_input(key="sw_values").value == "2:4"    # and so are the settings


def test_bad_values_get_a_clear_message():
    at = tiny(sweep_page(), values="0 5")
    at.button(key="sw_run").click().run()
    assert not at.exception
    assert any("Values for hidden must be whole numbers from 1 to 4096" in e.value for e in at.error)
    at.selectbox(key="sw_param").set_value("lr").run()     # (a rerun of its own, as in the browser)
    at.text_input(key="sw_values").set_value("0.01 banana")
    at.button(key="sw_run").click().run()
    assert any("could not read 'banana'" in e.value for e in at.error)


# --- in a real browser: Stop and a closed tab end the sweep's worker processes ------------------
def _start_long_sweep(page, url: str) -> list:
    """Open the Sweep page, ask for 3000 epochs of the tutorial sweep (minutes of work, within
    the budget), press Run and wait until its workers are training."""
    import time
    page.goto(url + "/sweep")
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    main = page.get_by_test_id("stMain")
    epochs = main.get_by_label("Epochs")
    epochs.wait_for(timeout=30_000)
    epochs.fill("3000")
    epochs.press("Enter")
    main.get_by_role("button", name="Run sweep").click()
    main.get_by_role("button", name="Stop", exact=True).wait_for(timeout=30_000)
    deadline = time.monotonic() + 30
    while sum(p.cpu_times().user for p in sweep_workers()) < 0.5:
        assert time.monotonic() < deadline, "the sweep's workers never started training"
        time.sleep(0.2)
    return sweep_workers()


def _all_gone(workers: list, timeout: float = 6) -> None:
    import psutil
    _, alive = psutil.wait_procs(workers, timeout=timeout)
    assert not alive, f"worker processes still running: {alive}"


def test_stop_button_and_closed_tab_end_the_workers(app_url, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        workers = _start_long_sweep(page, app_url)
        page.get_by_test_id("stMain").get_by_role("button", name="Stop", exact=True).click()
        _all_gone(workers)
        workers = _start_long_sweep(page, app_url)
    finally:
        context.close()                                   # the tab closes: the session ends
    _all_gone(workers, timeout=10)
