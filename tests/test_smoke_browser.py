"""The app starts and its front page renders in a real browser."""
import pytest

pytestmark = pytest.mark.browser


def test_app_opens(app_url, page, artifacts):
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    page.wait_for_selector('[data-testid="stSidebarNav"], [data-testid="stSidebar"]', timeout=30_000)
    page.screenshot(path=str(artifacts / "smoke.png"))
    assert "Train" in page.content()


def test_the_pages_ask_nothing_of_other_hosts(app_url, page):
    """Offline (a laptop with MNIST_PATH) every page is whole: nothing is fetched from elsewhere
    (the tab's icon once came from Google's font server)."""
    host = app_url.split("://", 1)[1].split("/", 1)[0]
    elsewhere = []
    page.on("request", lambda r: elsewhere.append(r.url) if host not in r.url
            and not r.url.startswith(("data:", "blob:")) else None)
    for path in ("", "/draw", "/sweep"):
        page.goto(app_url + path)
        page.wait_for_selector('[data-testid="stSidebarNav"], [data-testid="stSidebar"]', timeout=30_000)
        page.wait_for_timeout(1500)
    assert elsewhere == []
