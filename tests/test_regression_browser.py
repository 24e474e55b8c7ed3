"""Regression on the Train page in headless Chromium: reg-plane from a link trains to a high R² with
the predicted surface drawn; a table whose rating could be classes or a quantity, answered "a
quantity", shows predicted against actual. Screenshots go to /tmp/regression-shots (look at them)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from browser_pages import open_train_page, screenshot

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/regression-shots")


@pytest.fixture(scope="module")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def _wait_text(page, pattern: str, timeout: int = 60_000) -> None:
    page.wait_for_function("p => new RegExp(p).test(document.querySelector('[data-testid=stMain]').innerText)",
                           arg=pattern, timeout=timeout)


def _titles(page) -> str:
    return " ".join(page.locator(".js-plotly-plot .gtitle").all_text_contents())


def test_reg_plane_trains_from_a_link_and_draws_its_surface(app_url, page, shots):
    main = open_train_page(page, app_url + "/?preset=moons&dataset=reg-plane&n_samples=1000&hidden=16"
                                           "&epochs=40")
    main.get_by_role("button", name="Train", exact=True).click()
    _wait_text(page, r"Done: epoch 40")
    _wait_text(page, r"Test R²\s*0\.9\d+")
    page.locator(".js-plotly-plot .gtitle", has_text="predicted value over the plane").wait_for(timeout=30_000)
    titles = _titles(page)
    assert "R² (1 is perfect" in titles and "Loss" in titles
    assert "Test RMSE" in main.inner_text() and "Test accuracy" not in main.inner_text()
    assert page.locator(".js-plotly-plot .heatmaplayer image, .js-plotly-plot .hm").count() >= 1
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, shots / "reg-plane.png", height=1500)


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    x, z = rng.uniform(-2, 2, 300), rng.normal(size=300)
    rating = np.clip(np.round(3 + x + 0.3 * rng.normal(size=300)), 1, 5).astype(int)
    path = tmp_path_factory.mktemp("reg") / "ratings.csv"
    pd.DataFrame({"x": x, "z": z, "rating": rating}).to_csv(path, index=False)
    return path


def test_a_numeric_label_answered_quantity_trains_a_regression(app_url, page, shots, ratings_csv):
    main = open_train_page(page, app_url + "/?preset=moons&dataset=table&hidden=16&epochs=60")
    main.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(ratings_csv))
    _wait_text(page, "300 rows, 3 columns")
    option = page.get_by_role("option", name="rating")
    for _ in range(5):             # a rerun still drawing the table may close the list at once
        main.get_by_test_id("stSelectbox").filter(has_text="Label column").click()
        try:
            option.wait_for(timeout=3000)
            break
        except Exception:
            page.keyboard.press("Escape")
    option.click()
    _wait_text(page, "a class or a quantity")
    main.get_by_text("a quantity (regression)").click()
    _wait_text(page, "a quantity to predict, mean")
    screenshot(page, shots / "table-question.png", height=1300)
    main.get_by_role("button", name="Train", exact=True).click()
    page.locator(".js-plotly-plot .gtitle", has_text=re.compile("Predicted against actual")).wait_for(timeout=60_000)
    _wait_text(page, r"Test R²\s*0\.[6-9]\d*")
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, shots / "table-regression.png", height=2300)
