"""A CNN in headless Chromium: the Train page trains the mnist-cnn preset with live filters and
feature maps, and the Draw page reads a drawing with the shipped CNN and says so. Screenshots
land in tests/artifacts/ (train-cnn-live.png, train-cnn.png, draw-cnn.png: look at them)."""
from __future__ import annotations

import re

import pytest
from browser_pages import screenshot
from test_draw_browser import SEVEN, TIMEOUT, draw, open_draw_page

pytestmark = [pytest.mark.browser, pytest.mark.mnist]

PICTURES = "[data-testid='stMain'] [data-testid='stImage'] img"


def test_train_page_trains_a_cnn_with_live_filters(app_url, page, artifacts, mnist_path):
    page.goto(app_url + "/?preset=mnist-cnn&epochs=1")
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    main = page.get_by_test_id("stMain")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Architecture").wait_for(timeout=30_000)
    assert sidebar.get_by_role("textbox", name="Architecture").input_value().startswith("conv 5x5x16")
    main.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Inside the CNN: filters and feature maps").wait_for(timeout=60_000)
    page.get_by_text("Test image 0, labelled").wait_for(timeout=60_000)
    first = page.get_by_test_id("stMain").locator("img[src]").evaluate_all("es => es.map(e => e.src)")
    page.wait_for_function(                                     # the pictures change as it learns
        "old => [...document.querySelectorAll(\"[data-testid='stMain'] img[src]\")].some("
        "e => !old.includes(e.src))", arg=first, timeout=60_000)
    assert "cover fully connected networks (MLPs): choose Kind MLP" in main.inner_text()
    screenshot(page, artifacts / "train-cnn-live.png", height=2000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stProgress\"]')].some(e => e.innerText.includes('Done'))",
        timeout=240_000)
    page.wait_for_function(
        "/Test accuracy\\s*\\d+\\.\\d\\d%/.test(document.querySelector('[data-testid=stMain]').innerText)",
        timeout=60_000)
    text = main.inner_text()
    assert re.search(r"Test accuracy\s*9\d\.\d\d%", text), text[:600]
    assert "arch=conv" in page.url.replace("+", " ").replace("%20", " ")
    page.get_by_text("Test image 0, labelled").wait_for(timeout=30_000)   # the final pictures
    screenshot(page, artifacts / "train-cnn.png", height=2600)


def test_draw_page_reads_with_the_shipped_cnn(app_url, page, artifacts):
    box = open_draw_page(page, app_url)
    caption = page.get_by_text("Model reading the drawing: Shipped default")
    caption.wait_for(timeout=TIMEOUT)
    assert "CNN" in caption.inner_text()
    draw(page, box, SEVEN)
    page.locator('[data-testid="stMetricValue"]').wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(1000)
    assert page.locator('[data-testid="stMetricValue"]').inner_text().strip() == "7"
    page.screenshot(path=str(artifacts / "draw-cnn.png"), full_page=True)
