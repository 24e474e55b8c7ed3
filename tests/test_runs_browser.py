"""The Train page's history of runs in headless Chromium: two runs, both ticked in the table,
their curves overlaid, one restored, the table downloaded. Screenshot: tests/artifacts/runs.png."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from browser_pages import open_train_page, screenshot

pytestmark = pytest.mark.browser

TABLE = "[data-testid='stDataFrame']"


def _train(page, main, runs: int) -> None:
    main.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(
        "t => document.querySelector('[data-testid=stMain]').innerText.includes(t)",
        arg=f"{runs} of 20 runs kept", timeout=60_000)


def _tick(page, row: int) -> None:
    """Click row ``row``'s tick box (the grid is a canvas: by position, rows about 35 px high)."""
    page.wait_for_timeout(1500)                        # the page's run has ended: the table stays put
    grid = page.locator(TABLE).last
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 * (row + 1) + 17)


def test_two_runs_ticked_overlay_restore_and_csv(app_url, page, artifacts):
    main = open_train_page(page, app_url + "/?preset=moons&epochs=15")
    _train(page, main, 1)
    seed = page.get_by_test_id("stSidebar").get_by_label("Seed")
    seed.fill("7")
    seed.press("Enter")                                # run 2: another seed, other curves
    page.wait_for_timeout(1500)
    _train(page, main, 2)
    _tick(page, 0)
    main.get_by_role("button", name="Restore run 1").wait_for(timeout=30_000)
    _tick(page, 1)
    page.get_by_text("Loss of the ticked runs").wait_for(timeout=30_000)
    titles = " ".join(page.locator(".js-plotly-plot .gtitle").all_text_contents())
    assert "Accuracy of the ticked runs" in titles
    legend = " ".join(page.locator(".js-plotly-plot .legendtext").all_text_contents())
    assert "run 1 · test" in legend and "run 2 · test" in legend
    screenshot(page, artifacts / "runs.png", height=2400)
    with page.expect_download() as download:
        main.get_by_role("button", name=re.compile("Download the table")).click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [r["run"] for r in rows] == ["1", "2"] and all(r["status"] == "finished" for r in rows)
    assert [r["seed"] for r in rows] == ["0", "7"]
    main.get_by_role("button", name="Restore run 1").click()
    main.get_by_text("Restored run 1").wait_for(timeout=30_000)
    assert main.get_by_role("button", name="Continue to 30").is_enabled()
