"""Draw points in headless Chromium (issue 19): a click on the plane reruns only the plane (a
fragment), not the whole Train page; the page still learns of the points when they become
trainable, and Train trains on them. Script runs are counted from the server's websocket
messages (``script_finished``: a whole run or a fragment's). Click-to-point times are written
to tests/artifacts/points-click-times.txt, with screenshots (desktop and 390x844)."""
from __future__ import annotations

import re
import statistics
import time

import pytest
from browser_pages import PLANE, TO_SCREEN, open_train_page
from playwright.sync_api import expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

pytestmark = pytest.mark.browser

FIND = """(title => [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => (g.querySelector('.gtitle') || {}).textContent?.startsWith(title)))"""
DRAWN = """([title, n]) => {     // exactly one plane, with n points drawn (its class traces)
  const planes = [...document.querySelectorAll('.js-plotly-plot')]
      .filter(g => (g.querySelector('.gtitle') || {}).textContent?.startsWith(title));
  if (planes.length !== 1 || !planes[0]._fullData) return false;
  const drawn = planes[0]._fullData.filter(t => String(t.name).startsWith('class '))
      .reduce((s, t) => s + (t._length || 0), 0);
  return drawn === n && planes[0].querySelectorAll('.scatterlayer .point').length >= n;
}"""
# ten points: five of class 0 on the left, five of class 1 on the right
SPOTS = [(-1.5, -1.0 + 0.5 * i, 0) for i in range(5)] + [(1.5, -1.0 + 0.5 * i, 1) for i in range(5)]


class Runs:
    """Counts the script runs the server reports over the page's websocket."""

    def __init__(self, page) -> None:
        self.full = self.fragment = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if not isinstance(payload, bytes):
            return
        try:
            msg = ForwardMsg.FromString(payload)
        except Exception:                                   # not a ForwardMsg: not ours to count
            return
        if msg.WhichOneof("type") == "script_finished":
            if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                self.full += 1
            elif msg.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                self.fragment += 1


def _settled(page, n: int) -> None:
    page.wait_for_function(DRAWN, arg=[PLANE, n], timeout=30_000)
    page.wait_for_timeout(300)                              # plotly wires its events after drawing


def _click(page, x: float, y: float, n_after: int) -> float:
    """Click (x, y) on the plane; seconds until the plane shows ``n_after`` points."""
    if page.evaluate("t => { const r = " + FIND + "(t).getBoundingClientRect(); "
                     "return r.top < 0 || r.bottom > innerHeight; }", PLANE):
        page.evaluate("t => " + FIND + "(t).scrollIntoView({block: 'center'})", PLANE)
        page.wait_for_timeout(500)
    sx, sy = page.evaluate(TO_SCREEN, [PLANE, x, y])
    start = time.perf_counter()
    page.mouse.click(sx, sy)
    page.wait_for_function(DRAWN, arg=[PLANE, n_after], timeout=30_000, polling=10)
    return time.perf_counter() - start


def _pick_class(main, k: int) -> None:
    main.get_by_text(f"adds class {k}").click()


def test_a_click_on_the_plane_reruns_only_the_plane(app_url, page, artifacts):
    runs = Runs(page)
    main = open_train_page(page, app_url + "/?preset=moons&dataset=points&hidden=8&epochs=30")
    _settled(page, 0)
    train = main.get_by_role("button", name="Train", exact=True)
    assert train.is_disabled()
    times, full_runs = [], []
    for i, (x, y, k) in enumerate(SPOTS):
        if i == 5:
            _pick_class(main, 1)
            _settled(page, i)
        before = runs.full
        times.append(_click(page, x, y, i + 1))
        _settled(page, i + 1)
        full_runs.append(runs.full - before)
    (artifacts / "points-click-times.txt").write_text(
        "seconds from click to point drawn: " + " ".join(f"{t:.3f}" for t in times)
        + f"\nmedian {statistics.median(times):.3f}\nfull page runs per click: {full_runs}\n")
    print("click-to-point seconds", [round(t, 3) for t in times], "median", statistics.median(times))
    # the first nine clicks leave the page's verdict (not trainable yet) as it was: the plane only
    assert full_runs[:9] == [0] * 9, full_runs
    assert runs.fragment >= 9
    # the tenth makes the points trainable: the whole page learns of it, and Train is enabled
    expect(train).to_be_enabled(timeout=30_000)
    assert "10 points (class 0: 5, class 1: 5)" in main.inner_text()
    train.click()
    page.locator(".js-plotly-plot .gtitle", has_text="Decision boundary").wait_for(timeout=60_000)
    page.wait_for_function("() => /Done: epoch 30/.test(document.querySelector('[data-testid=stMain]').innerText)",
                           timeout=60_000)
    page.evaluate("t => " + FIND + "(t).scrollIntoView({block: 'start'})", PLANE)
    page.mouse.move(5, 995)
    page.wait_for_timeout(800)
    page.screenshot(path=str(artifacts / "points-plane-desktop.png"))


def _clicks(page, runs: Runs, spots, n_before: int) -> tuple[list[float], list[int]]:
    times, full_runs = [], []
    for i, (x, y) in enumerate(spots):
        before = runs.full
        times.append(_click(page, x, y, n_before + i + 1))
        _settled(page, n_before + i + 1)
        full_runs.append(runs.full - before)
    return times, full_runs


def test_clicks_after_training_leave_the_trained_page_alone(app_url, page, artifacts):
    """With a model's charts on the page (where a whole rerun costs most), only the first click
    (the points now differ from the model's: Continue is disabled, the page says why) reruns it."""
    runs = Runs(page)
    main = open_train_page(page, app_url + "/?preset=moons&dataset=points&hidden=8&epochs=20")
    main.get_by_test_id("stSelectbox").filter(has_text="Start from").click()
    page.get_by_role("option", name=re.compile("two moons")).click()
    main.get_by_role("button", name="Start over").click()
    _settled(page, 200)
    main.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("() => /Done: epoch 20/.test(document.querySelector('[data-testid=stMain]').innerText)",
                           timeout=60_000)
    page.locator(".js-plotly-plot .gtitle", has_text="Decision boundary").wait_for(timeout=30_000)
    _settled(page, 200)
    page.wait_for_timeout(1000)
    times, full_runs = _clicks(page, runs, [(-2.2, 2.2 - 0.4 * i) for i in range(10)], 200)
    with open(artifacts / "points-click-times.txt", "a") as f:
        f.write("after training: " + " ".join(f"{t:.3f}" for t in times)
                + f"\nmedian {statistics.median(times):.3f}\nfull page runs per click: {full_runs}\n")
    print("after training", [round(t, 3) for t in times], "median", statistics.median(times))
    assert full_runs[1:] == [0] * 9, full_runs
    expect(main.get_by_role("button", name=re.compile("^Continue"))).to_be_disabled()
    assert "You changed" in main.inner_text()


def test_the_plane_on_a_phone(app_url, browser, artifacts):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    try:
        main = open_train_page(page, app_url + "/?preset=moons&dataset=points")
        _settled(page, 0)
        for i, (x, y, k) in enumerate(SPOTS[:3]):
            _click(page, x, y, i + 1)
            _settled(page, i + 1)
        assert "3 points (class 0: 3)" in main.inner_text()
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / "points-plane-phone.png"))
    finally:
        context.close()
