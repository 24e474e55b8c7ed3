"""The inside view in headless Chromium: live pictures while moons and MNIST train, the
interactive neurons and weights views, and Step through backprop twice with changing numbers.
Screenshots of the section land in tests/artifacts/ (docs/inside_*.png are copies)."""
from __future__ import annotations

import re

import pytest
from PIL import Image
from browser_pages import open_train_page

pytestmark = pytest.mark.browser

MAIN = "[data-testid='stMain']"
PROGRESS = "[data-testid='stProgress']"


def _look(main, name: str) -> None:
    """Click ``name`` in the 'Look closer' segmented control (its buttons are radios)."""
    main.get_by_role("radio", name=name, exact=True).click()


def _wait_done(page, timeout: int = 120_000) -> None:
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=\"stProgress\"]')].some(e => e.innerText.includes('Done'))",
        timeout=timeout)


def _step_twice(page, main, read) -> tuple[str, str]:
    """Press Step twice; return what ``read()`` shows after each (waiting for it to change)."""
    main.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text(re.compile(r"Step 1 on a minibatch")).first.wait_for(timeout=30_000)
    first = read()
    main.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text(re.compile(r"Step 2 on a minibatch")).first.wait_for(timeout=30_000)
    return first, read()


def _shoot_section(page, path, until: str | None = None, width: int = 1400) -> None:
    """A picture of the 'Inside the network' section (down to the text ``until``, or 900 px)."""
    page.mouse.move(5, 5)
    page.set_viewport_size({"width": width, "height": 3600})
    page.wait_for_timeout(1500)                          # plotly and images settle
    top = page.get_by_role("heading", name="Inside the network").bounding_box()["y"] - 10
    bottom = top + 900
    if until:
        box = page.get_by_text(until).first.bounding_box()
        bottom = box["y"] + box["height"] + 12
    page.screenshot(path=str(path), clip={"x": 300, "y": top, "width": width - 300, "height": bottom - top})
    page.set_viewport_size({"width": 1400, "height": 1000})
    img = Image.open(path)
    img.convert("RGB").quantize(colors=128).save(path, optimize=True)   # small enough for the README


def test_moons_inside_view_steps_a_fresh_model_then_live_and_neurons(app_url, page, artifacts):
    main = open_train_page(page, app_url + "/?preset=moons&hidden=8-8&epochs=300")
    _look(main, "Step through backprop")                  # Step before any training: a fresh model

    def equations() -> str:
        page.locator(f"{MAIN} [data-testid='stCode']").first.wait_for(timeout=30_000)
        return " ".join(page.locator(f"{MAIN} [data-testid='stCode']").all_inner_texts())
    first, second = _step_twice(page, main, equations)
    assert "dZ3 = A3 − Y" in first and "dW1 = A0ᵀ dZ1 / m" in first and "W1 after" in first
    assert first != second
    assert page.locator("[data-testid='stException']").count() == 0
    _shoot_section(page, artifacts / "inside-moons-step.png", until="Forward: each layer")
    main.get_by_role("button", name="Continue to 300").click()            # trains the stepped model
    # on by default for 2-D sets: the neurons over the plane, live, as a still picture
    page.get_by_text("Each small square is one neuron").first.wait_for(timeout=60_000)
    assert "elapsed" in page.locator(PROGRESS).first.inner_text()        # still training
    _wait_done(page)
    _look(main, "Neurons")
    page.wait_for_function(
        "[...document.querySelectorAll('.js-plotly-plot .gtitle')].some(t => t.textContent.includes('Inside the network'))",
        timeout=30_000)
    _look(main, "Neurons")                                 # unselect: the still pictures
    page.get_by_text("Health per layer").first.wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    _shoot_section(page, artifacts / "inside-moons.png", until="Learning rule")


@pytest.mark.mnist
def test_mnist_inside_view_weights_live_and_two_steps(mnist_path, app_url, page, artifacts):
    main = open_train_page(page, app_url + "/?preset=mnist&epochs=12&hidden=128")
    main.get_by_text("Show the inside view while training").click()       # off by default for images
    main.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("start as noise").first.wait_for(timeout=120_000)
    assert "elapsed" in page.locator(PROGRESS).first.inner_text()        # still training
    _wait_done(page, timeout=300_000)
    _look(main, "First-layer weights")
    main.get_by_text("most active on the test set").first.wait_for(timeout=30_000)
    _look(main, "Step through backprop")

    def summaries() -> str:
        page.locator(f"{MAIN} [data-testid='stTable']").first.wait_for(timeout=30_000)
        return " ".join(page.locator(f"{MAIN} [data-testid='stTable']").all_inner_texts()
                        + page.locator(f"{MAIN} [data-testid='stMarkdown']").all_inner_texts())
    first, second = _step_twice(page, main, summaries)
    assert "|ΔW| / |W|" in first and first != second
    assert page.locator("[data-testid='stException']").count() == 0
    _look(main, "Step through backprop")       # back to the stills
    page.get_by_text("Health per layer").first.wait_for(timeout=30_000)
    _shoot_section(page, artifacts / "inside-mnist.png", until="Learning rule")
