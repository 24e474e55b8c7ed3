"""What only Streamlit's internals (``streamlit.runtime``) offer: the one module of the app that
imports them. Each function says why no public API does instead; each falls back to doing
nothing on a Streamlit without the internal.

- ``rerun_requested``: whether this script run was asked to stop or rerun (a click elsewhere,
  Stop, a closed tab). Streamlit raises its stop only at the run's next ``st`` call, and the
  public API has no way to ask; training, evaluation, table parsing and the sweeps' waits check
  it between pieces of work, where an ``st`` call would send the browser an element each time.
- ``uploaded_files`` and ``drop_upload``: Streamlit's store of uploaded files (held until the
  session ends). The public API can read an upload but not let go of it: ``st.chat_input`` drops
  its files the same way (``streamlit/elements/widgets/chat.py``).
"""
from __future__ import annotations

from typing import Any


def _context() -> Any:
    """This script run's context (None outside a run, or on a Streamlit without it)."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:
        return None
    return get_script_run_ctx(suppress_warning=True)


def rerun_requested() -> bool:
    """True once Streamlit asked this script run to stop or rerun."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType
        requests = getattr(_context(), "script_requests", None)
        return requests is not None and requests._state != ScriptRequestType.CONTINUE
    except Exception:                   # another Streamlit: rely on the st calls
        return False


def uploaded_files() -> Any:
    """Streamlit's in-memory store of uploaded files (``file_storage``, ``remove_file``), or None."""
    manager = getattr(_context(), "uploaded_file_mgr", None)
    return manager if hasattr(manager, "file_storage") and hasattr(manager, "remove_file") else None


def drop_upload(file: Any) -> None:
    """Drop Streamlit's stored copy of an uploaded ``file`` (from this session)."""
    ctx, file_id = _context(), getattr(file, "file_id", None)
    remove = getattr(getattr(ctx, "uploaded_file_mgr", None), "remove_file", None)
    if file_id is not None and remove is not None:      # the in-memory manager (the only one)
        remove(session_id=ctx.session_id, file_id=file_id)
