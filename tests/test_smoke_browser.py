"""The app starts and its front page renders in a real browser."""
import pytest

pytestmark = pytest.mark.browser


def test_app_opens(app_url, page, artifacts):
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    page.wait_for_selector('[data-testid="stSidebarNav"], [data-testid="stSidebar"]', timeout=30_000)
    page.screenshot(path=str(artifacts / "smoke.png"))
    assert "Train" in page.content()
