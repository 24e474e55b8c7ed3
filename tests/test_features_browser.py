"""Input features on the Train page in headless Chromium: tick Playground's features under the
spiral, train a small network, and see it separate the arms (issue 20, item 3). The screenshot
lands in tests/artifacts/ (look at it)."""
from __future__ import annotations

import re

import pytest

from browser_pages import open_train_page, screenshot

pytestmark = pytest.mark.browser

TICKED = ("x1²", "x2²", "x1·x2", "sin x1", "sin x2")
ALL = "x1-x2-x1sq-x2sq-x1x2-sinx1-sinx2"


def _tick(page, label: str) -> None:
    box = page.get_by_test_id("stSidebar").get_by_role("checkbox", name=label, exact=True)
    box.check(force=True)                 # Streamlit's input sits under its styled box
    page.wait_for_timeout(300)            # each tick reruns the page
    assert box.is_checked()


def test_ticking_features_on_the_spiral_lets_a_small_network_separate_the_arms(app_url, page, artifacts):
    main = open_train_page(page, app_url + "/?preset=moons&dataset=spiral&n_samples=1000&noise=0.02"
                                           "&hidden=8&epochs=100&lr=0.01")
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_role("checkbox", name="x1", exact=True).is_checked()
    for label in TICKED:
        _tick(page, label)
    page.wait_for_function("t => location.search.includes(t)", arg=f"features_2d={ALL}", timeout=30_000)
    main.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(
        "/Test accuracy\\s*\\d+\\.\\d\\d%/.test(document.querySelector('[data-testid=stMain]').innerText)",
        timeout=120_000)
    text = main.inner_text()
    accuracy = float(re.search(r"Test accuracy\s*(\d+\.\d\d)%", text).group(1))
    assert accuracy > 90, text[:600]
    assert "82 parameters" in sidebar.inner_text()          # 7-8-2: the network reads seven inputs
    titles = " ".join(page.locator(".js-plotly-plot .gtitle").all_text_contents())
    assert "Decision boundary" in titles
    screenshot(page, artifacts / "train-spiral-features.png", height=2400)
    main.get_by_role("radio", name="Neurons", exact=True).click()     # the interactive diagram
    page.wait_for_function(
        "[...document.querySelectorAll('.js-plotly-plot .gtitle')].some(t => t.textContent.includes('Inside the network'))",
        timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, artifacts / "train-spiral-features-neurons.png", height=2400)
