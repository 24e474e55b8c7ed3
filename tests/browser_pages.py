"""Opening the app's pages in headless Chromium, shared by the browser tests."""
from __future__ import annotations

# The Draw points plane: its title, and the screen position of a point (x, y) on a chart by title
PLANE = "Click the plane"
TO_SCREEN = """([title, x, y]) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
      .find(g => (g.querySelector('.gtitle') || {}).textContent?.startsWith(title));
  const L = gd._fullLayout, r = gd.getBoundingClientRect();
  return [r.left + L.xaxis._offset + L.xaxis.l2p(x), r.top + L.yaxis._offset + L.yaxis.l2p(y)];
}"""


def open_train_page(page, url: str):
    """Go to ``url`` (the Train page, a link's settings in its query) and wait until the page is
    ready to train; returns the main area's locator."""
    page.goto(url)
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    main = page.get_by_test_id("stMain")
    main.get_by_role("button", name="Train", exact=True).wait_for(timeout=30_000)
    return main


def screenshot(page, path, height: int = 1900) -> None:
    """A tall screenshot of the page at ``path`` (then back to the usual 1400x1000 viewport)."""
    page.mouse.move(5, 995)                            # no tooltip in the picture
    page.set_viewport_size({"width": 1400, "height": height})
    page.wait_for_timeout(1200)                        # let plotly finish drawing
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 1000})
