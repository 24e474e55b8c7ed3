"""Uploaded files, let go of as soon as they are read.

Streamlit keeps every file a browser uploads in its memory (``MemoryUploadedFileManager``) until
the visitor removes it in the uploader or the session ends: a model or a table would otherwise be
held twice for the session's whole life, as bytes and as what was read from them. ``release``
drops Streamlit's copy, as ``st.chat_input`` does with its own files; the uploader still shows
the file's name, and the widget's value is None from the next run on (the file object of this
run stays readable: Streamlit copies widget values while the run lasts).

``guard`` bounds what Streamlit holds at all: a quota on the bytes of held uploads (the server's
and each session's: ``UploadQuota``) and a sweeper of the files no page reads (``UnreadUploads``).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from app.internals import drop_upload, uploaded_files
from nn.hosting import limits

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


# --- how much the uploads may hold -----------------------------------------------------------------
# Streamlit reads each PUT whole into memory and keeps it; its own limit is per file
# (``server.maxUploadSize``), so 5 clients each sending a few 60 MB files held 400-450 MB of the
# server's memory (bench_load.py, issue 17). Held files are counted here, from the bytes actually
# received: at most ``NN_UPLOADS_MB`` on the server and one largest file (``NN_MAX_MODEL_MB``) per
# session. A PUT beyond either is answered 429 and its file is not kept; the pages read and let go
# of an upload within a second or two, so an honest visitor meets this only under a flood.
BUSY_HELP = ("If the file is marked with an error (status code 429), the server held too many "
             "uploads at that moment: remove it (x) and upload it again in a moment.")


class UploadQuota:
    """Wraps a file manager's ``add_file``: refuses a file that would take the held bytes past
    ``total`` (all sessions) or ``per_session``."""

    def __init__(self, manager: Any, total: int, per_session: int) -> None:
        self.manager, self.total, self.per_session = manager, total, per_session
        self._add = manager.add_file
        self._lock = threading.Lock()

    def held(self, session_id: str | None = None) -> int:
        """Bytes of uploaded files held now (of one session, if given)."""
        storage = self.manager.file_storage
        sessions = [session_id] if session_id is not None else list(storage)
        return sum(len(getattr(rec, "data", b"")) for s in sessions
                   for rec in list(storage.get(s, {}).values()))

    def add_file(self, session_id: str, file: Any) -> None:
        size = len(getattr(file, "data", b""))
        with self._lock:                       # two PUTs must not both pass on the same room
            if (self.held(session_id) + size > self.per_session
                    or self.held() + size > self.total):
                log.warning("upload of %d bytes refused: %d held on the server, %d in its session",
                            size, self.held(), self.held(session_id))
                raise _too_many()
            self._add(session_id=session_id, file=file)


def _too_many() -> Exception:
    """The 429 answer of a PUT over the quota (an HTTP error where Streamlit runs on Starlette)."""
    text = "The server holds too many uploads just now: try again in a moment."
    try:
        from starlette.exceptions import HTTPException
    except ImportError:
        return RuntimeError(text)
    return HTTPException(status_code=429, detail=text)


def guard() -> None:
    """Once per process (call from any page run): count uploads against their quota and start
    the sweeper of unread uploads."""
    global _sweeper
    with _sweeper_lock:
        if _sweeper is not None:
            return
        manager = uploaded_files()
        if manager is None:
            return                              # not Streamlit's in-memory manager: nothing to do
        lim = limits()
        if hasattr(manager, "add_file"):
            manager.add_file = UploadQuota(manager, lim.uploads_mb << 20, lim.max_model_bytes).add_file
        seconds = float(os.environ.get("NN_UPLOAD_UNREAD_SECONDS", "") or UNREAD_SECONDS)
        _sweeper = UnreadUploads(manager, seconds)
        threading.Thread(target=_sweeper.run_forever, name="nn-unread-uploads", daemon=True).start()
