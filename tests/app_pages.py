"""Opening the dashboard under Streamlit's AppTest, shared by the page tests."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard.py")


def open_app(**query: str) -> AppTest:
    """The dashboard after its first run (the Train page), with ``query`` in the URL."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    return at.run()


def page_path(page: str) -> str:
    """A page's file for ``AppTest.switch_page``: "draw", "draw.py" or "app/pages/draw.py" all
    name app/pages/draw.py."""
    return f"app/pages/{Path(page).stem}.py"


def open_page(page: str) -> AppTest:
    """The dashboard switched to ``page`` (e.g. "draw", see ``page_path``), checked to run cleanly."""
    at = open_app()
    at.switch_page(page_path(page)).run()
    assert not at.exception, at.exception
    return at
