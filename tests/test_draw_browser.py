"""The Draw page in headless Chromium: strokes drawn with the mouse on the real board are read
by the network, and the page shows the 28x28 input and a prediction."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

SEVEN = [[(70, 60), (210, 60), (120, 235)]]                # a bar and a slanted leg
TIMEOUT = 30_000


def open_draw_page(page, app_url: str):
    """Open the app and follow the sidebar link, as a user does; returns the board's box."""
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=TIMEOUT)
    page.get_by_role("link", name="Draw a digit").click()
    page.wait_for_selector("text=What the network sees", timeout=TIMEOUT)
    return board_box(page)


def board_box(page) -> dict:
    """Where the drawing board is now (its position moves when the page above it grows)."""
    page.locator("canvas").last.wait_for(timeout=TIMEOUT)     # in the component's shadow DOM
    for _ in range(100):
        boards = [c.bounding_box() for c in page.locator("canvas").all()]
        boards = [b for b in boards if b and b["width"] >= 280]
        if boards:
            return boards[-1]                                 # Fabric's top (event) canvas
        page.wait_for_timeout(100)
    raise AssertionError("the drawing board did not appear")


def draw(page, box, strokes) -> None:
    for stroke in strokes:
        (x, y), rest = stroke[0], stroke[1:]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=12)
        page.mouse.up()


def preview_pixels(page) -> np.ndarray:
    """The 28x28 preview as the browser shows it, in grayscale."""
    png = page.locator('[data-testid="stImage"] img').first.screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def test_drawing_with_the_mouse_is_read(app_url, page, artifacts):
    box = open_draw_page(page, app_url)
    assert page.get_by_text("Draw a digit on the board.").is_visible()
    draw(page, box, SEVEN)
    metric = page.locator('[data-testid="stMetricValue"]')
    metric.wait_for(timeout=TIMEOUT)
    page.wait_for_selector(".js-plotly-plot", timeout=TIMEOUT)
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "draw.png"), full_page=True)
    assert metric.inner_text().strip() == "7"
    assert "confidence" in page.locator('[data-testid="stMain"]').inner_text()
    pixels = preview_pixels(page)
    assert pixels.max() > 200 and (pixels > 128).mean() > 0.03       # ink in the preview

    page.get_by_role("button", name="Clear").click()
    page.get_by_text("Draw a digit on the board.").wait_for(timeout=TIMEOUT)
    # the rerun draws the hint first; the old reading goes when the run ends (no fixed wait)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stMetricValue\"]').length === 0",
                           timeout=TIMEOUT)


def test_random_mnist_digit_is_shown_and_read(app_url, page, artifacts, mnist_path):
    box = open_draw_page(page, app_url)
    page.get_by_role("button", name="Random MNIST digit").click()
    page.get_by_text("MNIST test digit #").wait_for(timeout=TIMEOUT)
    page.locator('[data-testid="stMetricValue"]').wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(1000)                               # the board loads the digit image
    page.screenshot(path=str(artifacts / "draw-mnist.png"), full_page=True)
    shot = page.screenshot(clip=box)
    board = np.asarray(Image.open(io.BytesIO(shot)).convert("L"))
    assert board.max() > 200                                  # the digit is on the board


def test_uploading_a_model_keeps_the_drawing(app_url, page, artifacts):
    """Choosing another model adds a radio above the board: the board must not be remounted."""
    from nn.views.draw import DEFAULT_MODEL_PATH
    box = open_draw_page(page, app_url)
    draw(page, box, SEVEN)
    page.locator('[data-testid="stMetricValue"]').wait_for(timeout=TIMEOUT)
    page.get_by_text("Use your own model").click()
    page.locator('input[type="file"]').set_input_files(str(DEFAULT_MODEL_PATH))
    page.get_by_text("Model reading the drawing: Uploaded").wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "draw-upload.png"), full_page=True)
    moved = board_box(page)                                   # (a third choice in the radio above)
    board = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=moved))).convert("L"))
    assert (board > 128).mean() > 0.03                        # the 7 is still on the board
    assert page.locator('[data-testid="stMetricValue"]').inner_text().strip() == "7"


def test_a_dot_is_not_read_as_a_digit(app_url, page, artifacts):
    box = open_draw_page(page, app_url)
    draw(page, box, [[(140, 140), (142, 141)]])              # one dab of the pen
    page.get_by_text("Too little ink to read").wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "draw-dot.png"), full_page=True)
    assert page.locator('[data-testid="stMetricLabel"]').inner_text().strip() == "Best guess"
    assert "confidence" not in page.locator('[data-testid="stMain"]').inner_text()


def test_on_a_phone_the_reading_shows_right_under_the_board(app_url, browser, artifacts):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(app_url + "/draw")                          # the sidebar is folded on a phone
        page.wait_for_selector("text=What the network sees", timeout=TIMEOUT)
        box = board_box(page)
        assert box["y"] + box["height"] < 844                # the board is on the first screen
        draw(page, box, SEVEN)
        line = page.get_by_text("Reads 7")
        line.wait_for(timeout=TIMEOUT)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / "draw-phone.png"))
        where = line.bounding_box()
        assert where["y"] + where["height"] <= 844            # seen without scrolling
    finally:
        page.close()
