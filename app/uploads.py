"""Uploaded files, let go of as soon as they are read.

Streamlit keeps every file a browser uploads in its memory (``MemoryUploadedFileManager``) until
the visitor removes it in the uploader or the session ends: a model or a table would otherwise be
held twice for the session's whole life, as bytes and as what was read from them. ``release``
drops Streamlit's copy, as ``st.chat_input`` does with its own files; the uploader still shows
the file's name, and the widget's value is None from the next run on (the file object of this
run stays readable: Streamlit copies widget values while the run lasts).
"""
from __future__ import annotations

from typing import Any

from streamlit.runtime.scriptrunner import get_script_run_ctx


def release(file: Any) -> None:
    """Drop Streamlit's stored copy of an uploaded ``file`` whose bytes have been read."""
    file_id = getattr(file, "file_id", None)
    ctx = get_script_run_ctx()
    remove = getattr(getattr(ctx, "uploaded_file_mgr", None), "remove_file", None)
    if file_id is not None and remove is not None:      # the in-memory manager (the only one)
        remove(session_id=ctx.session_id, file_id=file_id)
