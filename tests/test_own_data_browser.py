"""Own data in headless Chromium: upload a CSV and train on it (confusion matrix and projection),
click points onto the plane (add, remove), start from the moons and watch the boundary.
Screenshots land in tests/artifacts/ (look at them)."""
from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.datasets import load_iris
from browser_pages import PLANE, TO_SCREEN, open_train_page, screenshot

pytestmark = pytest.mark.browser



def _wait_text(page, pattern: str, timeout: int = 30_000) -> None:
    page.wait_for_function(
        "p => new RegExp(p).test(document.querySelector('[data-testid=stMain]').innerText)",
        arg=pattern, timeout=timeout)


def _click_plane(page, x: float, y: float, count_before: int) -> None:
    # exactly one plane: during a rerun the old figure can stay beside the new one for a moment
    page.wait_for_function(
        "t => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
        ".filter(e => e.textContent.startsWith(t)).length === 1", arg=PLANE, timeout=20_000)
    page.wait_for_timeout(400)                              # plotly wires its events after drawing
    sx, sy = page.evaluate(TO_SCREEN, [PLANE, x, y])
    page.mouse.click(sx, sy)
    _wait_text(page, rf"\b(?!{count_before}\b)\d+ points? \(")


def _points_count(page) -> int:
    text = page.get_by_test_id("stMain").inner_text()
    return int(re.search(r"(\d+) points? \(", text).group(1))


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory):
    d = load_iris(as_frame=True)
    frame = d.frame.drop(columns="target")
    frame["species"] = np.asarray(d.target_names)[d.target]
    path = tmp_path_factory.mktemp("own") / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def test_upload_a_table_and_train(app_url, page, artifacts, iris_csv):
    main = open_train_page(page, app_url + "/?preset=moons&dataset=table&hidden=16&epochs=60")
    assert "a link cannot carry the data" in main.inner_text()
    main.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(iris_csv))
    _wait_text(page, "112 training rows and 38 test rows")
    assert "150 rows, 5 columns" in main.inner_text()
    main.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=20_000)   # the first rows
    screenshot(page, artifacts / "own-table-upload.png", height=1300)
    main.get_by_role("button", name="Train", exact=True).click()
    page.locator(".js-plotly-plot .gtitle", has_text="Confusion matrix").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot .gtitle", has_text="principal components").wait_for(timeout=30_000)
    _wait_text(page, r"Test accuracy\s*\d+\.\d\d%")
    screenshot(page, artifacts / "own-table-trained.png", height=2300)


def test_a_table_trains_with_the_settings_chosen_for_it(app_url, page, artifacts, iris_csv):
    """No training settings in the link: the sidebar's 'Choose them for my table' is on, the page
    says what it chose beside the table, and the run stops early with the best weights."""
    main = open_train_page(page, app_url + "/?preset=moons&dataset=table")
    main.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(iris_csv))
    _wait_text(page, "Training settings chosen for this table")
    sidebar = page.get_by_test_id("stSidebar")
    assert "Choose them for my table" in sidebar.inner_text()
    assert "Learning rate (log scale)" not in sidebar.inner_text()
    assert "Features kept as they are" in main.inner_text()         # iris: one scale, cm
    box = main.get_by_role("checkbox", name="Standardise features")
    assert box.is_disabled() and not box.is_checked()
    screenshot(page, artifacts / "own-table-chosen-settings.png", height=1500)
    main.get_by_role("button", name="Train", exact=True).click()
    _wait_text(page, r"Stopped early at epoch \d+", timeout=60_000)
    _wait_text(page, r"Test accuracy\s*\d+\.\d\d%")
    screenshot(page, artifacts / "own-table-chosen-trained.png", height=1500)


def test_click_points_onto_the_plane_then_train_on_moons(app_url, page, artifacts):
    main = open_train_page(page, app_url + "/?preset=moons&dataset=points&hidden=16-16&epochs=200")
    assert "0 points (" in main.inner_text()
    _click_plane(page, -1.0, 0.5, 0)
    _click_plane(page, 1.0, -0.5, 1)
    assert _points_count(page) == 2
    main.get_by_text("adds class 1").click()
    _click_plane(page, 0.0, 1.5, 2)
    assert "class 0: 2, class 1: 1" in main.inner_text()
    main.get_by_text("removes a point").click()
    _click_plane(page, 1.0, -0.5, 3)                          # on the point: it goes
    assert "class 0: 1, class 1: 1" in main.inner_text()
    screenshot(page, artifacts / "own-points-clicked.png", height=1200)
    main.get_by_test_id("stSelectbox").filter(has_text="Start from").click()
    page.get_by_role("option", name=re.compile("two moons")).click()
    main.get_by_role("button", name="Start over").click()
    _wait_text(page, r"200 points \(class 0: 100, class 1: 100\)")
    main.get_by_role("button", name="Train", exact=True).click()
    page.locator(".js-plotly-plot .gtitle", has_text="Decision boundary").wait_for(timeout=60_000)
    _wait_text(page, r"Done: epoch 200")
    _wait_text(page, "shaded regions are the current model")     # the plane shows the model too
    assert page.locator(".js-plotly-plot .heatmaplayer image, .js-plotly-plot .hm").count() >= 2
    screenshot(page, artifacts / "own-points-trained.png", height=2000)
