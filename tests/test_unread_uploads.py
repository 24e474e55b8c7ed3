"""Uploads that no page reads are dropped (issue 17, row 3): a visitor may PUT files into its own
session's upload endpoint without any widget asking for them, and Streamlit would hold each until
the session ends."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

import pytest
from conftest import ROOT, streamlit_server
from test_hostile_server import uploaded_bytes

from app.uploads import UnreadUploads, UploadQuota

sys.path.insert(0, str(ROOT / "benchmarks"))
pytestmark = pytest.mark.browser


class FakeManager:
    def __init__(self) -> None:
        self.file_storage: dict[str, dict[str, bytes]] = {"s1": {"a": b"x"}, "s2": {"b": b"y"}}

    def remove_file(self, session_id: str, file_id: str) -> None:
        self.file_storage[session_id].pop(file_id, None)


def test_a_file_held_past_its_time_is_dropped_and_a_fresh_one_kept():
    manager = FakeManager()
    sweeper = UnreadUploads(manager, seconds=30)
    assert sweeper.sweep(now=0.0) == 0                       # first seen
    manager.file_storage["s1"]["c"] = b"z"                     # arrives later
    assert sweeper.sweep(now=31.0) == 2                        # a and b: 31 s old
    assert manager.file_storage == {"s1": {"c": b"z"}, "s2": {}}
    assert sweeper.sweep(now=60.0) == 0 and sweeper.sweep(now=62.0) == 1


class Rec:
    def __init__(self, file_id: str, size: int) -> None:
        self.file_id, self.data = file_id, b"\0" * size


class StoringManager(FakeManager):
    def __init__(self) -> None:
        self.file_storage = {}

    def add_file(self, session_id: str, file: Rec) -> None:
        self.file_storage.setdefault(session_id, {})[file.file_id] = file


def test_uploads_past_the_servers_or_a_sessions_quota_are_refused_and_not_kept():
    manager = StoringManager()
    quota = UploadQuota(manager, total=100, per_session=60)
    quota.add_file("s1", Rec("a", 50))
    with pytest.raises(Exception, match="too many uploads") as refused:
        quota.add_file("s1", Rec("b", 20))                   # s1 would hold 70 > 60
    assert getattr(refused.value, "status_code", 429) == 429
    quota.add_file("s2", Rec("c", 40))                       # 90 on the server
    with pytest.raises(Exception, match="too many uploads"):
        quota.add_file("s3", Rec("d", 20))                   # the server would hold 110 > 100
    assert quota.held() == 90 and quota.held("s3") == 0 and "s3" not in manager.file_storage
    manager.remove_file("s1", "a")                           # read and let go: room again
    quota.add_file("s3", Rec("d", 20))
    assert quota.held() == 60


@contextmanager
def one_tab(tmp_path, **env: str) -> Iterator[tuple[str, Any]]:
    """A hosting server with ``env`` and one open tab on the Train page: (url, tab)."""
    from hostile_clients import Session
    with streamlit_server([sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py")],
                          tmp_path / "server.log", NN_PUBLIC="1", **env) as url:
        tab = Session(url, "127.0.0.1", "preset=moons").open()
        try:
            tab.run()
            yield url, tab
        finally:
            tab.close()


def held_soon(url: str) -> int:
    """Bytes of uploads held, once Streamlit's metrics (refreshed every 5 s) show any."""
    deadline = time.monotonic() + 10
    while not uploaded_bytes(url) and time.monotonic() < deadline:
        time.sleep(0.5)
    return uploaded_bytes(url)


def test_a_put_over_the_upload_quota_gets_429_and_is_not_held(tmp_path):
    with one_tab(tmp_path, NN_UPLOADS_MB="12") as (url, tab):
        assert tab.put(tab.file_id("a.bin"), "a.bin", b"\0" * (8 << 20)) == "204"
        assert tab.put(tab.file_id("b.bin"), "b.bin", b"\0" * (8 << 20)) == "429"
        assert 8 << 20 <= held_soon(url) < 16 << 20               # the first kept, not the second


def test_a_put_no_widget_asked_for_is_let_go(tmp_path):
    with one_tab(tmp_path, NN_UPLOAD_UNREAD_SECONDS="3") as (url, tab):
        assert tab.put(tab.file_id("junk.bin"), "junk.bin", b"\0" * (8 << 20)) == "204"
        assert held_soon(url) >= 8 << 20                          # held at first...
        deadline = time.monotonic() + 30
        while uploaded_bytes(url) and time.monotonic() < deadline:
            time.sleep(1)
        assert uploaded_bytes(url) == 0                           # ... then dropped, the tab still open
