"""Widget values that outlive their widgets: the one keep-and-restore helper of every page.

Streamlit drops a widget's key from ``st.session_state`` in a run that does not draw it (the
visitor is on another page; the widget is hidden for another dataset, optimizer or view), and it
sends a widget's value to the browser only in a run that assigned it: otherwise the browser keeps
its own copy, and a widget that has none shows its default (its minimum) and sends that back on
the next click. The browser can lack a copy: after a visit to MNIST (the two-moons settings
collapsed to 100 samples, noise 0, test share 0.05), or when a click (Train, within a second of
the page opening) reran the page before the browser had taken the values of the run that
assigned them (all numeric settings at their minimums after Stop).

So a page draws such a widget with ``key=restore(key, default)``: its value is the one in
session state, or the one kept for it (``keep``, an ``on_change`` callback copying it to a plain
dict that survives page switches), else ``default``, and it is assigned again in every run that
draws it. ``kept(key, default, store)`` gives a widget's keyword arguments for both.
"""
from __future__ import annotations

from typing import Any

import streamlit as st


def restore(key: str, default: Any = None, store: str | None = None, *, resend: bool = True) -> str:
    """Give widget ``key`` its value for this run, before it is drawn; return ``key``.

    With a ``store`` (a plain dict in session state that ``keep`` fills as the visitor changes
    the widget), the value is the visitor's last choice kept there, else this run's ``default``
    (which may change with the data, until the visitor chooses). Without one, it is the widget's
    own value while session state has it, else ``default`` (the page's settings). With ``resend``
    (the default) it is assigned in every run, so the browser always shows it; a form's widget
    passes ``resend=False``, since a value sent to it would overwrite what the visitor typed in
    the form but has not submitted yet."""
    ss = st.session_state
    if store is not None:
        value = ss.get(store, {}).get(key, default)
    elif key in ss:
        if not resend:
            return key
        value = ss[key]
    else:
        value = default
    ss[key] = value
    return key


def keep(key: str, store: str) -> None:
    """Copy widget ``key``'s value into the plain dict ``st.session_state[store]`` (an
    ``on_change`` callback: widget keys are dropped when the visitor leaves the page)."""
    st.session_state.setdefault(store, {})[key] = st.session_state[key]


def kept(key: str, default: Any, store: str) -> dict[str, Any]:
    """A widget's ``key``, ``on_change`` and ``args`` keeping its value in ``store`` across page
    switches: ``st.slider("Stroke", 8, 40, **kept("draw_stroke", 20, "draw_kept"))``."""
    return {"key": restore(key, default, store), "on_change": keep, "args": (key, store)}
