"""The Train page in headless Chromium: train moons, watch the charts appear, stop and continue.
Screenshots land in tests/artifacts/ (look at them)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import nn
from browser_pages import open_train_page, screenshot

pytestmark = pytest.mark.browser

PROGRESS = '[data-testid="stProgress"]'


def _wait_status(page, text: str, timeout: int = 60_000) -> str:
    page.wait_for_function(
        "t => [...document.querySelectorAll('[data-testid=\"stProgress\"]')].some(e => e.innerText.includes(t))",
        arg=text, timeout=timeout)
    return page.locator(PROGRESS).first.inner_text()


def test_train_moons_shows_loss_and_boundary(app_url, page, artifacts):
    main = open_train_page(page, app_url + "/?preset=moons&epochs=30")
    main.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=30_000)
    assert "Loss" in page.locator(".js-plotly-plot .gtitle").all_text_contents()
    _wait_status(page, "Done")
    page.wait_for_function(          # the status line renders first: wait for the final figures
        "/Test accuracy\\s*\\d+\\.\\d\\d%/.test(document.querySelector('[data-testid=stMain]').innerText)",
        timeout=30_000)
    text, titles = main.inner_text(), " ".join(page.locator(".js-plotly-plot .gtitle").all_text_contents())
    assert "Decision boundary" in titles and "Accuracy" in titles
    assert re.search(r"Test accuracy\s*9\d\.\d\d%", text), text[:600]
    assert page.locator(".js-plotly-plot .hm, .js-plotly-plot .heatmaplayer image").count() >= 1
    assert page.locator(".js-plotly-plot .scatterlayer .trace").count() >= 4   # 2 curves x 2 + points
    screenshot(page, artifacts / "train-moons.png", height=1280)     # docs/train.png is a copy
    sidebar = page.get_by_test_id("stSidebar")
    with page.expect_download() as download:
        sidebar.get_by_role("button", name=re.compile("Download model")).click()
    model = nn.load(Path(download.value.path()).read_bytes())
    assert model.layer_sizes == [2, 32, 32, 2] and len(model.meta["history"]) >= 30
    with page.expect_download() as download:
        sidebar.get_by_role("button", name=re.compile("Download history")).click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("epoch,step,seconds,train_loss") and len(lines) >= 31


LIVE_PICTURES = "[data-testid='stMain'] [data-testid='stImage'] img"


def test_stop_keeps_model_then_continue(app_url, page, artifacts):
    main = open_train_page(page, app_url + "/?preset=moons&epochs=1000")
    main.get_by_role("button", name="Train", exact=True).click()
    _wait_status(page, "elapsed", 30_000)
    # live: the two curves and the decision boundary as still pictures, redrawn as it learns
    page.get_by_text("Live pictures while training runs").wait_for(timeout=30_000)
    page.wait_for_function(f"document.querySelectorAll({LIVE_PICTURES!r}).length >= 3", timeout=30_000)
    loss_picture = page.locator(LIVE_PICTURES).first.get_attribute("src")
    page.wait_for_function(f"document.querySelector({LIVE_PICTURES!r}).src.indexOf({loss_picture!r}) < 0",
                           timeout=30_000)
    screenshot(page, artifacts / "train-live.png")
    main.get_by_role("button", name="Stop").click()
    status = _wait_status(page, "Stopped")
    stopped = float(re.search(r"Stopped at epoch ([\d.]+) of 1000", status).group(1))
    assert 0 < stopped < 1000
    # the model and its figures are kept (the status line renders first: wait for the rest)
    main.get_by_text("Test accuracy").first.wait_for(timeout=30_000)
    assert "Test accuracy" in main.inner_text()
    screenshot(page, artifacts / "train-stopped.png")
    main.get_by_role("button", name="Continue to 1000").click()    # finishes the stopped run
    _wait_status(page, "elapsed", 30_000)
    main.get_by_role("button", name="Stop").click()
    again = re.search(r"Stopped at epoch ([\d.]+) of (\d+)", _wait_status(page, "Stopped"))
    assert float(again.group(1)) > stopped and int(again.group(2)) == 1000


def test_diverging_run_is_explained(app_url, page, artifacts):
    main = open_train_page(page, app_url + "/?preset=moons&lr=50&epochs=5")
    main.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Training diverged").first.wait_for(timeout=30_000)
    assert "learning rate" in main.inner_text()
    screenshot(page, artifacts / "train-diverged.png")


def test_digits_shows_image_grid_confusion_and_wrong_gallery(app_url, page, artifacts):
    main = open_train_page(page, app_url + "/?preset=moons&dataset=digits&hidden=32&epochs=15&lr=0.01")
    main.get_by_role("button", name="Train", exact=True).click()
    _wait_status(page, "Done")
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 5", timeout=30_000)
    titles = " ".join(page.locator(".js-plotly-plot .gtitle").all_text_contents())
    assert "Test images" in titles and "Confusion matrix" in titles and "Most confidently wrong" in titles
    screenshot(page, artifacts / "train-digits.png", height=2000)


def test_a_bad_link_warns_in_plain_text(app_url, page, artifacts):
    evil = "[Click here](https://evil.example) ![x](https://evil.example/i.png)"
    from urllib.parse import quote
    main = open_train_page(page, app_url + f"/?preset={quote(evil)}&momentum=0.9999&optimizer=momentum&noise=1.5"
                               f"&activation={quote('[a](https://evil.example)')}")
    page.get_by_text("Unknown preset").first.wait_for(timeout=30_000)
    text = main.inner_text().replace("\u2060", "")       # word joiners keep addresses unlinked
    assert "[Click here](https://evil.example)" in text and "using 0.999" in text
    assert page.locator("a[href*='evil'], img[src*='evil']").count() == 0
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, artifacts / "train-bad-link.png", height=1000)


def test_the_spiral_trains_from_a_link_and_its_boundary_winds(app_url, page, artifacts):
    """Playground's spiral (issue 20): three layers of 32 learn it from a link."""
    main = open_train_page(page, app_url + "/?preset=moons&dataset=spiral&noise=0&n_samples=1000"
                                           "&hidden=32-32-32&epochs=150")
    main.get_by_role("button", name="Train", exact=True).click()
    _wait_status(page, "Done", 120_000)
    page.wait_for_function(
        "/Test accuracy\\s*\\d+\\.\\d\\d%/.test(document.querySelector('[data-testid=stMain]').innerText)",
        timeout=30_000)
    text = main.inner_text()
    assert re.search(r"Test accuracy\s*9\d\.\d\d%", text), text[:600]
    assert "Decision boundary" in " ".join(page.locator(".js-plotly-plot .gtitle").all_text_contents())
    screenshot(page, artifacts / "train-spiral.png", height=1280)


def test_moving_the_learning_rate_while_training_applies_and_is_marked(app_url, page, artifacts):
    """Issue 20: the learning rate changed mid-run applies from the next step; the loss chart marks it."""
    main = open_train_page(page, app_url + "/?preset=moons&epochs=1000")
    main.get_by_role("button", name="Train", exact=True).click()
    _wait_status(page, "elapsed", 30_000)
    slider = page.get_by_test_id("stSidebar").get_by_role("slider", name="Learning rate (log scale)")
    slider.focus()
    slider.press("ArrowLeft")                                  # 0.01 -> 0.005, one step down
    # a toast (Streamlit's Markdown draws "->" as an arrow); no "goes on as it started" note
    page.get_by_text(re.compile(r"Changed while training: lr 0\.01 . 0\.005")).first.wait_for(timeout=30_000)
    assert "goes on as it started" not in main.inner_text()
    _wait_status(page, "elapsed", 30_000)                      # still training, at the new rate
    main.get_by_role("button", name="Stop").click()
    _wait_status(page, "Stopped")
    page.wait_for_function("[...document.querySelectorAll('.js-plotly-plot .annotation-text')]"
                           ".some(e => e.textContent.includes('lr 0.01 -> 0.005'))", timeout=30_000)
    screenshot(page, artifacts / "train-rate-changed.png", height=1280)
