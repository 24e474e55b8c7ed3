"""Make every page run inside dashboard.py's st.navigation, even on a first visit by its URL."""
import streamlit as st

_REDIRECTED = "_nav_redirected"


def require_navigation() -> None:
    """Call first thing on a page.

    Until dashboard.py has called st.navigation once in this server process, Streamlit treats the
    `pages/` folder as an old-style multipage app: a first visit straight to /draw would run the
    page bare (no layout, an automatic menu). Switch that mode off and rerun once; the rerun goes
    through dashboard.py, which routes to the same page. (AppTest turns the old mode back on for
    every run; rerunning only once per session keeps its button clicks.)
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:        # a Streamlit without this internal: nothing to fix
        return
    if PagesManager.uses_pages_directory and not st.session_state.get(_REDIRECTED):
        st.session_state[_REDIRECTED] = True
        PagesManager.uses_pages_directory = False
        st.rerun()
