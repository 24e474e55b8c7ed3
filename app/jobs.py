"""The pages' side of the server's budget (``nn.runs.slots.JOBS``): who the client is, and
whether this script run was asked to end (a click elsewhere, Stop, a closed tab).

A client is an address: the one the proxy in front forwards (``X-Real-IP``, else the last entry
of ``X-Forwarded-For``, the one the proxy itself added) when the connection comes from this
machine (the proxy); else the socket's own address. A visitor talking to Streamlit directly
cannot pick another client by sending those headers.
"""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from app.internals import rerun_requested
from nn.runs.slots import JOBS

LOCAL = "local"


def _header(headers: Any, name: str) -> str:
    try:
        return str(headers.get(name) or "").strip()
    except Exception:                   # no request context (a test calling the page's logic)
        return ""


def client_id() -> str:
    """This session's client: an address (see the module's docstring), or "local"."""
    try:
        socket_ip = st.context.ip_address          # None for a connection from this machine
        headers = st.context.headers
    except Exception:
        return LOCAL
    return client_from(socket_ip, headers)


def client_from(socket_ip: str | None, headers: Any) -> str:
    """The client of a connection from ``socket_ip`` (None: this machine) with ``headers``."""
    if socket_ip:
        return socket_ip
    real = _header(headers, "X-Real-IP")
    forwarded = [p.strip() for p in _header(headers, "X-Forwarded-For").split(",") if p.strip()]
    return real or (forwarded[-1] if forwarded else LOCAL)


def interrupted() -> bool:
    """True once Streamlit asked this script run to stop or rerun (a click, a closed tab): a long
    computation checks it between pieces, since Streamlit itself interrupts a run only at its
    next ``st`` call (``app.internals.rerun_requested``)."""
    return rerun_requested()


def stop_check(*others: Callable[[], bool]) -> Callable[[], bool]:
    """A ``should_stop`` that is True when this run is interrupted or any of ``others`` is."""
    return lambda: interrupted() or any(f() for f in others)


def keep(owner: Any, nbytes: int, what: str) -> None:
    """Count ``nbytes`` that ``owner`` (an object kept in this session's state: a table, a model)
    holds against this client's share and the server's budget, until ``owner`` is gone or
    ``JOBS.release(owner)``; ``BudgetRefused`` (a message for the visitor) when full. For a
    table, ``nbytes`` is its decoded size (``DataFrame.memory_usage(deep=True).sum()``)."""
    JOBS.keep(owner, client_id(), int(nbytes), what)
