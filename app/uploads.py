"""Uploaded files, let go of as soon as they are read.

Streamlit keeps every file a browser uploads in its memory (``MemoryUploadedFileManager``) until
the visitor removes it in the uploader or the session ends: a model or a table would otherwise be
held twice for the session's whole life, as bytes and as what was read from them. ``release``
drops Streamlit's copy, as ``st.chat_input`` does with its own files; the uploader still shows
the file's name, and the widget's value is None from the next run on (the file object of this
run stays readable: Streamlit copies widget values while the run lasts).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from app.internals import drop_upload, uploaded_files

log = logging.getLogger(__name__)


def release(file: Any) -> None:
    """Drop Streamlit's stored copy of an uploaded ``file`` whose bytes have been read."""
    drop_upload(file)


# --- uploads no page reads ------------------------------------------------------------------------
# A browser may PUT files to ``/_stcore/upload_file/<its session>/<any id>`` without any widget
# asking for them (issue 17, row 3): Streamlit would keep each until the session ends. Every page
# that takes an upload reads it in the rerun that the upload triggers and lets it go (``release``),
# within a second or two; a file still held ``NN_UPLOAD_UNREAD_SECONDS`` (10) after it was first
# seen is one no page will read, and the sweeper drops it.
UNREAD_SECONDS = 10.0
SWEEP_EVERY = 2.0
_sweeper: "UnreadUploads | None" = None
_sweeper_lock = threading.Lock()


class UnreadUploads:
    """Drops files a file manager has held longer than ``seconds`` since first seen."""

    def __init__(self, manager: Any, seconds: float) -> None:
        self.manager, self.seconds = manager, seconds
        self._first_seen: dict[tuple[str, str], float] = {}

    def sweep(self, now: float) -> int:
        """Drop the files held too long; return how many."""
        held = {(session, file_id) for session, files in list(self.manager.file_storage.items())
                for file_id in list(files)}
        self._first_seen = {k: t for k, t in self._first_seen.items() if k in held}
        dropped = 0
        for key in held:
            if now - self._first_seen.setdefault(key, now) > self.seconds:
                self.manager.remove_file(session_id=key[0], file_id=key[1])
                del self._first_seen[key]
                dropped += 1
        return dropped

    def run_forever(self) -> None:
        while True:
            time.sleep(SWEEP_EVERY)
            try:
                self.sweep(time.monotonic())
            except Exception:                    # a changed Streamlit: log, keep serving
                log.exception("the unread-upload sweeper failed; it stops")
                return


def start_sweeper() -> None:
    """Start the process's sweeper of unread uploads once (call from any page run)."""
    global _sweeper
    with _sweeper_lock:
        if _sweeper is not None:
            return
        manager = uploaded_files()
        if manager is None:
            return                              # not Streamlit's in-memory manager: nothing to do
        seconds = float(os.environ.get("NN_UPLOAD_UNREAD_SECONDS", "") or UNREAD_SECONDS)
        _sweeper = UnreadUploads(manager, seconds)
        threading.Thread(target=_sweeper.run_forever, name="nn-unread-uploads", daemon=True).start()
