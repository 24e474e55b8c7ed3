"""The hosting recipe's proxy (deploy/nginx.conf, started by deploy/run_proxy.sh) in front of a real
Streamlit server: the app works through it (page, websocket, an upload), and it refuses what a
hostile visitor sends (an oversize upload, a burst of uploads, too many sessions, a request flood)
before Streamlit sees it. Two small echo servers stand in for replicas to check the forwarded
client address and sticky sessions.

Each test speaks from its own loopback address (127.0.0.N: all of 127/8 is the loopback
interface), so nginx's per-client counters start fresh for it. Only 127.0.0.1 is ever a target."""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from browser_pages import open_train_page, screenshot
from conftest import ARTIFACTS
from deploy.proxy import NGINX, free_port, start_proxy, stop_proxy


def _stop(proc, directory: Path, name: str) -> None:
    """Stop nginx; keep its logs in tests/artifacts (git-ignored), remove its directory."""
    stop_proxy(proc)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for log in ("access.log", "error.log"):
        if (directory / "logs" / log).exists():
            shutil.copy(directory / "logs" / log, ARTIFACTS / f"{name}-{log}")
    shutil.rmtree(directory, ignore_errors=True)


def _need_nginx() -> None:
    if not Path(NGINX).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{NGINX} is missing: .ci/run installs it with apt-get install nginx")
        pytest.skip(f"{NGINX} is not installed (apt-get install -y nginx)")


@pytest.fixture(scope="module")
def proxy(app_url):
    """nginx with the README's configuration in front of the test session's Streamlit server."""
    _need_nginx()
    proc, url, directory = start_proxy([urlsplit(app_url).netloc])
    try:
        yield url, directory
    finally:
        _stop(proc, directory, "proxy")


def _request(url: str, method: str, path: str, source: str, body: bytes | None = None,
             headers: dict | None = None, timeout: float = 10) -> tuple[int, bytes]:
    """One request on its own connection from the loopback address ``source``."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _log_lines(directory: Path, pattern: str, at_least: int = 0, wait: float = 5.0) -> list[str]:
    """Access-log lines of the proxy matching ``pattern`` (each: status, up=<upstream or ->).
    nginx writes a request's line after answering it, so this waits up to ``wait`` seconds for
    ``at_least`` lines (a loaded machine wrote the last one after the test first read the log)."""
    log, end = directory / "logs" / "access.log", time.monotonic() + wait
    while True:
        lines = [line for line in log.read_text().splitlines() if re.search(pattern, line)]
        if len(lines) >= at_least or time.monotonic() > end:
            return lines
        time.sleep(0.05)


def _upload_put(url: str, source: str, session: str, file_id: str) -> int:
    """A small multipart PUT to Streamlit's upload endpoint, as its file uploader sends one."""
    body = (b"--nnb\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.npz\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * 100 + b"\r\n--nnb--\r\n")
    status, _ = _request(url, "PUT", f"/_stcore/upload_file/{session}/{file_id}", source, body,
                         {"Content-Type": "multipart/form-data; boundary=nnb"})
    return status


# --- the app through the proxy --------------------------------------------------------------------

@pytest.mark.browser
def test_train_page_loads_and_trains_through_the_proxy(proxy, page, artifacts):
    url, directory = proxy
    main = open_train_page(page, url + "/?preset=moons&epochs=20")    # needs the websocket
    main.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(
        "t => [...document.querySelectorAll('[data-testid=\"stProgress\"]')].some(e => e.innerText.includes(t))",
        arg="Done", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=30_000)
    screenshot(page, artifacts / "proxy-train-moons.png", height=1280)
    page.close()                    # nginx logs a websocket when it closes
    deadline = time.monotonic() + 10
    while not (streams := _log_lines(directory, r'"GET /_stcore/stream')) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert streams and " 101 " in streams[0], f"the page's websocket did not go through the proxy: {streams}"
    assert not _log_lines(directory, r'" (429|5\d\d) '), "a page load was refused or failed"


@pytest.mark.browser
def test_a_table_upload_passes_the_proxy(proxy, page, tmp_path):
    url, directory = proxy
    rng = np.random.default_rng(0)
    lines = ["a,b,c,d,kind"] + [f"{r[0]:.3f},{r[1]:.3f},{r[2]:.3f},{r[3]:.3f},k{i % 3}"
                                 for i, r in enumerate(rng.normal(size=(150, 4)))]
    table = tmp_path / "table.csv"
    table.write_text("\n".join(lines) + "\n")
    main = open_train_page(page, url + "/?preset=moons&dataset=table&hidden=16&epochs=20")
    main.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(table))
    page.wait_for_function("/150 rows/.test(document.querySelector('[data-testid=stMain]').innerText)",
                           timeout=30_000)
    puts = _log_lines(directory, r'"PUT /_stcore/upload_file/')
    assert puts and all(" 204 " in line for line in puts), puts


# --- what a hostile visitor sends -----------------------------------------------------------------

def test_an_oversize_upload_is_refused_before_streamlit(proxy):
    """A 65 MB + 1 byte body (64 MB file plus 1 MB of framing is the most allowed): 413 from
    nginx, from the declared length alone; Streamlit is never asked."""
    url, directory = proxy
    u = urlsplit(url)
    path = "/_stcore/upload_file/oversize-session/f1"
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10, source_address=("127.0.0.2", 0))
    try:
        conn.putrequest("PUT", path)
        conn.putheader("Content-Type", "multipart/form-data; boundary=nnb")
        conn.putheader("Content-Length", str(65 * 2**20 + 1))
        conn.endheaders()                                  # no body is sent at all
        assert conn.getresponse().status == 413
    finally:
        conn.close()
    time.sleep(0.2)
    [line] = _log_lines(directory, re.escape(path))
    assert " 413 " in line and "up=- " in line, line


def test_an_oversize_chunked_upload_is_cut_off_at_the_limit(proxy):
    """Without a Content-Length (chunked), nginx counts the body as it arrives: 413 once it passes
    65 MB, and Streamlit is never asked."""
    url, directory = proxy
    u = urlsplit(url)
    path = "/_stcore/upload_file/chunked-session/f1"
    chunk = b"x" * 2**20
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20, source_address=("127.0.0.14", 0))
    try:
        conn.putrequest("PUT", path)
        conn.putheader("Content-Type", "multipart/form-data; boundary=nnb")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        try:
            for _ in range(70):                            # 70 MB, in bounded 1 MB chunks
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except OSError:                                    # nginx may close as soon as it refuses
            pass
        assert conn.getresponse().status == 413
    finally:
        conn.close()
    time.sleep(0.2)
    [line] = _log_lines(directory, re.escape(path))
    assert " 413 " in line and "up=- " in line, line


def test_uploads_in_flight_per_client_are_capped(proxy):
    """Two uploads of one client may be in progress at once (their bodies still arriving); a
    third is refused at once."""
    url, _ = proxy
    u = urlsplit(url)
    conns = []
    try:
        for i in range(2):
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10,
                                              source_address=("127.0.0.15", 0))
            conn.putrequest("PUT", f"/_stcore/upload_file/slow-session-{i}/f{i}")
            conn.putheader("Content-Type", "multipart/form-data; boundary=nnb")
            conn.putheader("Content-Length", str(2**20))
            conn.endheaders(b"x" * 1000)                    # the rest of the body never comes
            conns.append(conn)
        time.sleep(0.3)
        assert _upload_put(url, "127.0.0.15", "slow-session-2", "f2") == 429
    finally:
        for conn in conns:
            conn.close()


def test_a_burst_of_uploads_from_one_client_is_cut_off(proxy):
    """Per client address: 4 upload PUTs pass at once, the rest get 429 without reaching
    Streamlit, while that client's other requests and other clients still pass."""
    url, directory = proxy
    client = "127.0.0.3"
    statuses = [_upload_put(url, client, f"burst-session-{i}", f"f{i}") for i in range(8)]
    assert all(s != 429 for s in statuses[:4]), statuses        # Streamlit answered (no session)
    assert statuses[4:] == [429] * 4, statuses
    refused = _log_lines(directory, r'^127\.0\.0\.3 .*"PUT .* 429 ', at_least=4)
    assert len(refused) == 4 and all("up=- " in line for line in refused), refused
    # removing a file is not an upload
    status, _ = _request(url, "DELETE", "/_stcore/upload_file/burst-session-0/f0", client)
    assert status != 429
    # the same client still loads the page; another client may upload
    assert _request(url, "GET", "/_stcore/health", client)[0] == 200
    assert _request(url, "GET", "/", client)[0] == 200
    assert _upload_put(url, "127.0.0.4", "another-session", "f1") != 429


def test_uploads_into_one_session_are_capped_across_addresses(proxy):
    """Per Streamlit session (read from the URL): 2 PUTs at once, then one every 30 s, whichever
    addresses they come from."""
    url, _ = proxy
    statuses = [_upload_put(url, f"127.0.0.{10 + i}", "one-session", f"f{i}") for i in range(4)]
    assert all(s != 429 for s in statuses[:2]) and statuses[2:] == [429, 429], statuses


def test_sessions_per_client_are_capped(proxy):
    """Each websocket is a Streamlit session: 6 at once per address, the 7th is refused (429)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    url, _ = proxy
    address = url.replace("http", "ws") + "/_stcore/stream"

    def open_ws(source):
        return connect(address, subprotocols=["streamlit"], source_address=(source, 0),
                       open_timeout=10, close_timeout=1, proxy=None)
    with contextlib.ExitStack() as sockets:
        for _ in range(6):
            sockets.enter_context(open_ws("127.0.0.5"))
        with pytest.raises(InvalidStatus) as refused:
            sockets.enter_context(open_ws("127.0.0.5"))
        assert refused.value.response.status_code == 429
        sockets.enter_context(open_ws("127.0.0.6"))         # another client is not affected


def test_new_sessions_per_client_are_rate_limited(proxy):
    """Streamlit keeps a session 120 s after its websocket closed, so opening and closing is
    limited too: 10 new websockets at once per address, then 10 a minute."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    url, _ = proxy
    address = url.replace("http", "ws") + "/_stcore/stream"
    statuses, t0 = [], time.monotonic()
    for _ in range(14):
        try:
            with connect(address, subprotocols=["streamlit"], source_address=("127.0.0.16", 0),
                         open_timeout=10, close_timeout=1, proxy=None):
                statuses.append(101)
        except InvalidStatus as exc:
            statuses.append(exc.response.status_code)
    elapsed = time.monotonic() - t0                 # one more may pass every 6 s on a slow machine
    assert statuses[:10] == [101] * 10 and set(statuses) <= {101, 429}, statuses
    assert 429 in statuses and statuses.count(101) <= 10 + elapsed / 6 + 1, (statuses, elapsed)


def test_operator_endpoints_are_closed_to_visitors(proxy, app_url):
    url, _ = proxy
    for path in ("/_stcore/metrics", "/_stcore/agent/openapi.json", "/_stcore/agent/mcp"):
        assert _request(url, "GET", path, "127.0.0.17")[0] == 404, path
    assert _request(app_url, "GET", "/_stcore/metrics", "127.0.0.1")[0] == 200   # directly: yes


# --- what the app sees: the visitor's address ----------------------------------------------------

WHO = """import streamlit as st
st.markdown(f"ip={st.context.ip_address} real={st.context.headers.get('X-Real-Ip')}")
"""


def test_streamlit_sees_the_visitors_address(tmp_path):
    """Behind the proxy, st.context.ip_address (uvicorn trusts X-Forwarded-For from 127.0.0.1) and
    the X-Real-IP header are the visitor's address, not a forged one: the per-client budget's key."""
    import subprocess
    import sys

    from conftest import _wait_healthy
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect
    _need_nginx()
    script = tmp_path / "who.py"
    script.write_text(WHO)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", server)
        proc, url, directory = start_proxy([f"127.0.0.1:{port}"])
        try:
            with connect(url.replace("http", "ws") + "/_stcore/stream", subprotocols=["streamlit"],
                         source_address=("127.0.0.9", 0), proxy=None, open_timeout=10,
                         additional_headers={"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6"}) as ws:
                msg = BackMsg()
                msg.rerun_script.query_string = ""
                ws.send(msg.SerializeToString())
                texts, deadline = [], time.monotonic() + 30
                while time.monotonic() < deadline:
                    fwd = ForwardMsg()
                    fwd.ParseFromString(ws.recv(timeout=30))
                    if fwd.WhichOneof("type") == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                        texts.append(fwd.delta.new_element.markdown.body)
                    if fwd.WhichOneof("type") == "script_finished":
                        break
        finally:
            _stop(proc, directory, "proxy-who")
    finally:
        server.terminate()
        server.wait(10)
    assert "ip=127.0.0.9 real=127.0.0.9" in texts, texts


# --- forwarded address and sticky sessions, against two echo "replicas" ------------------------

class _Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"replica": self.server.name, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def echo_proxy():
    _need_nginx()
    servers = []
    for name in ("a", "b"):
        srv = ThreadingHTTPServer(("127.0.0.1", free_port()), _Echo)
        srv.name = name
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    proc, url, directory = start_proxy([f"127.0.0.1:{s.server_address[1]}" for s in servers])
    try:
        yield url, directory
    finally:
        _stop(proc, directory, "proxy-echo")
        for srv in servers:
            srv.shutdown()
            srv.server_close()


def _echo(url: str, source: str, headers: dict | None = None) -> dict:
    status, body = _request(url, "GET", "/anything", source, headers=headers)
    assert status == 200, status
    return json.loads(body)


def test_the_client_address_is_forwarded_and_cannot_be_forged(echo_proxy):
    url, _ = echo_proxy
    seen = _echo(url, "127.0.0.7", {"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6"})["headers"]
    assert seen["X-Real-IP"] == "127.0.0.7"
    assert seen["X-Forwarded-For"] == "127.0.0.7"


def test_sessions_are_sticky_per_client_address(echo_proxy):
    url, _ = echo_proxy
    replicas = {}
    for i in range(20):
        source = f"127.0.1.{i + 1}"
        seen = {_echo(url, source)["replica"] for _ in range(3)}
        assert len(seen) == 1, f"{source} reached {seen}"
        replicas[source] = seen.pop()
    assert set(replicas.values()) == {"a", "b"}, "all clients on one replica"


def test_a_request_flood_from_one_client_is_cut_off(echo_proxy):
    """30 requests a second per client with a burst of 300: a flood of 600 gets 429s."""
    url, _ = echo_proxy
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10, source_address=("127.0.0.8", 0))
    statuses, t0 = [], time.monotonic()
    try:
        for _ in range(600):
            conn.request("GET", "/anything")
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
    finally:
        conn.close()
    elapsed = time.monotonic() - t0
    assert statuses[:290].count(200) == 290, statuses[:290]
    assert set(statuses) <= {200, 429} and 429 in statuses, statuses
    assert statuses.count(200) <= 301 + 30 * elapsed + 1, (statuses.count(200), elapsed)
    assert _echo(url, "127.0.0.9")["replica"]                   # others are still served
