"""Opening the dashboard under Streamlit's AppTest, shared by the page tests."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")


def open_app(**query: str) -> AppTest:
    """The dashboard after its first run (the Train page), with ``query`` in the URL."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    return at.run()


def open_page(page: str) -> AppTest:
    """The dashboard switched to ``page`` (e.g. "pages/draw.py"), checked to run cleanly."""
    at = open_app()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at
