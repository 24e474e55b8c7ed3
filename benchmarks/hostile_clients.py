"""Hostile clients for benchmarks/bench_load.py: the attacks of issue 17's table (rows 1-6),
repeated while honest visitors train, each client from its own loopback address.

Each client speaks Streamlit's own protocol as the browser does: protobuf ``BackMsg`` /
``ForwardMsg`` over ``/_stcore/stream``, uploads as ``PUT /_stcore/upload_file/<session>/<file>``
(multipart, with the XSRF cookie and header the browser sends) followed by the uploader widget's
new state. What each attack saw is recorded as a short line (refused with the page's words, HTTP
status, queued, started, stopped after N s), counted per attack for the report.

    1 bomb     a 4.4 KB Parquet file (one dictionary-encoded 5,000-byte string x 200,000 rows)
               through the Train page's table uploader
    2 step     Step through backprop on moons, 200,000 samples, full batch, hidden 512
    3 flood    60 MB upload PUTs into its own session, as fast as they are taken
    4 sessions 10 sessions each uploading a 40 MB CSV of empty cells (200,000 x 200), then a sweep
               (one worker) in 5 of them
    5 cnn      conv 3x3x256 pad 1, conv 3x3x256 pad 1, pool 8 on MNIST: Train, then Stop (even
               rounds) or the socket closed (odd rounds)
    6 epochs   preset=mnist&epochs=100000 in 4 sessions, Train in each, held for a while

Only loopback addresses are ever targets (the URL bench_load.py gives: its own server or proxy).
"""
from __future__ import annotations

import http.client
import io
import os
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from typing import Any, Callable
from urllib.parse import quote, urlsplit

ATTACKS = ("bomb", "step", "flood", "sessions", "cnn", "epochs")
CNN_ARCH = "conv 3x3x256 pad 1, conv 3x3x256 pad 1, pool 8"
FLOOD_MB = 60
FLOOD_PUTS = 40                 # per round, at most
SESSIONS = 10
SWEEPS = 5
EPOCH_TABS = 4
XSRF = None
DEBUG = bool(os.environ.get("HOSTILE_DEBUG"))


def xsrf_token() -> str:
    """A token in Streamlit's cookie format; the browser sends the same value as cookie and header."""
    global XSRF
    if XSRF is None:
        try:
            from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string
            XSRF = generate_xsrf_token_string()
        except ImportError:                       # an older Streamlit: Tornado's format
            import binascii

            mask, token = os.urandom(4), os.urandom(16)
            masked = bytes(t ^ mask[i % 4] for i, t in enumerate(token))
            XSRF = f"2|{binascii.b2a_hex(mask).decode()}|{binascii.b2a_hex(masked).decode()}|{int(time.time())}"
    return XSRF


# --- payloads (built once) -----------------------------------------------------------------------
_payloads: dict[str, bytes] = {}
_payload_lock = threading.Lock()


def payload(name: str) -> bytes:
    with _payload_lock:
        if name not in _payloads:
            _payloads[name] = _build(name)
        return _payloads[name]


def _build(name: str) -> bytes:
    if name == "bomb":                         # as tests/test_table_bombs.py builds it
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq
        column = pa.DictionaryArray.from_arrays(pa.array(np.zeros(200_000, np.int32)), pa.array(["x" * 5_000]))
        buf = io.BytesIO()
        pq.write_table(pa.table({"t": column}), buf, compression="zstd", store_schema=False)
        return buf.getvalue()
    if name == "empty_csv":                    # 200,000 x 200 empty cells: ~40 MB, NaN floats once read
        header = ",".join(f"c{i}" for i in range(200)) + "\n"
        return (header + ("," * 199 + "\n") * 200_000).encode()
    if name == "flood":
        return b"\0" * (FLOOD_MB * 2**20)
    raise KeyError(name)


# --- one Streamlit session over its websocket --------------------------------------------------
def _element(msg):
    if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
        return msg.delta.new_element
    return None


def texts(msgs: list) -> list[str]:
    """What the page showed: alerts, progress lines, markdown/captions, exceptions."""
    out = []
    for msg in msgs:
        el = _element(msg)
        kind = el.WhichOneof("type") if el is not None else None
        if kind == "alert":
            out.append(f"[{ {1: 'error', 2: 'warning', 3: 'info', 4: 'success'}.get(el.alert.format, 'alert')}] "
                       f"{el.alert.body}")
        elif kind == "progress":
            out.append(f"[progress] {el.progress.text}")
        elif kind == "markdown":
            out.append(el.markdown.body)
        elif kind == "exception":
            out.append(f"[exception] {el.exception.message}")
    return out


def alerts(msgs: list, kinds=("error", "warning")) -> list[str]:
    return [t for t in texts(msgs) if any(t.startswith(f"[{k}]") for k in kinds)]


def receive(ws: Any, deadline: float, least: float) -> Any:
    """The next ForwardMsg on websocket ``ws`` before ``deadline`` (monotonic seconds; waiting at
    least ``least`` s), or None."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    try:
        data = ws.recv(timeout=max(least, deadline - time.monotonic()))
    except TimeoutError:
        return None
    msg = ForwardMsg()
    msg.ParseFromString(data)
    return msg


def short(text: str, n: int = 110) -> str:
    text = " ".join(text.replace("*", "").replace("\\", "").replace("\u2060", "").split())
    return text if len(text) <= n else text[:n - 1] + "…"


class Session:
    """One tab: a websocket from ``source`` to ``url`` (the proxy or the server)."""

    def __init__(self, url: str, source: str, query: str) -> None:
        self.url, self.source, self.query = url, source, query
        self.page_hash, self.session_id, self.pages, self.ws = "", "", {}, None
        self.widgets: dict[str, object] = {}          # kept widget states, sent on every rerun

    def open(self) -> "Session":
        from websockets.sync.client import connect
        self.ws = connect(self.url.replace("http", "ws") + "/_stcore/stream", subprotocols=["streamlit"],
                          max_size=None, open_timeout=20, close_timeout=1, max_queue=None,
                          ping_interval=None,         # a tab left unread must not time out here
                          source_address=(self.source, 0),
                          additional_headers={"Cookie": f"_streamlit_xsrf={xsrf_token()}"})
        return self

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:
                pass
            self.ws = None

    def send_rerun(self, widgets: list | None = None, page_hash: str | None = None) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_script_hash = self.page_hash if page_hash is None else page_hash
        states = dict(self.widgets)
        for w in widgets or []:
            states[w.id] = w
        msg.rerun_script.widget_states.widgets.extend(states.values())
        self.ws.send(msg.SerializeToString())

    def keep(self, widget) -> None:
        self.widgets[widget.id] = widget

    def read(self, seconds: float, until=None) -> list:
        """ForwardMsgs for up to ``seconds`` (or until ``until(msg)`` is true)."""
        got, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = receive(self.ws, deadline, 0.05)
            if msg is None:
                break
            got.append(msg)
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.page_hash = msg.new_session.page_script_hash or self.page_hash
                self.session_id = msg.new_session.initialize.session_id or self.session_id
            elif kind == "navigation":
                self.pages = {p.url_pathname or p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
            if until is not None and until(msg):
                break
        return got

    def drain(self, most: float = 5.0) -> list:
        """What arrived meanwhile: messages until none comes for 0.3 s (at most ``most`` s)."""
        got, deadline = [], time.monotonic() + most
        while time.monotonic() < deadline:
            more = self.read(0.3)
            if not more:
                break
            got += more
        return got

    def run(self, widgets: list | None = None, timeout: float = 60, page_hash: str | None = None) -> list:
        """Rerun; the messages until the script run finished (or ``timeout``)."""
        self.send_rerun(widgets, page_hash)
        return self.read(timeout, until=lambda m: m.WhichOneof("type") == "script_finished")

    def file_id(self, name: str) -> str:
        """Ask for an upload URL as the uploader does (a FileURLsRequest); its file id."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        msg = BackMsg()
        request = uuid.uuid4().hex
        msg.file_urls_request.request_id = request
        msg.file_urls_request.session_id = self.session_id
        msg.file_urls_request.file_names.append(name)
        self.ws.send(msg.SerializeToString())
        for m in self.read(10, until=lambda m: m.WhichOneof("type") == "file_urls_response"):
            if m.WhichOneof("type") == "file_urls_response" and m.file_urls_response.file_urls:
                return m.file_urls_response.file_urls[0].file_id
        return str(uuid.uuid4())

    def put(self, file_id: str, name: str, data: bytes, timeout: float = 120) -> str:
        """The upload's PUT; its HTTP status (or what ended it)."""
        return put_file(self.url, self.source, self.session_id, file_id, name, data, timeout)

    def upload_state(self, uploader_id: str, file_id: str, name: str, size: int):
        from streamlit.proto.Common_pb2 import FileUploaderState, UploadedFileInfo
        from streamlit.proto.WidgetStates_pb2 import WidgetState
        info = UploadedFileInfo(name=name, size=size, file_id=file_id)
        info.file_urls.file_id = file_id
        info.file_urls.upload_url = f"/_stcore/upload_file/{self.session_id}/{file_id}"
        info.file_urls.delete_url = info.file_urls.upload_url
        return WidgetState(id=uploader_id, file_uploader_state_value=FileUploaderState(uploaded_file_info=[info]))


def put_file(url: str, source: str, session_id: str, file_id: str, name: str, data: bytes,
             timeout: float = 120) -> str:
    u = urlsplit(url)
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout, source_address=(source, 0))
    token = xsrf_token()
    try:
        conn.putrequest("PUT", f"/_stcore/upload_file/{session_id}/{file_id}")
        for k, v in {"Content-Type": f"multipart/form-data; boundary={boundary}",
                     "Content-Length": str(len(head) + len(data) + len(tail)),
                     "Cookie": f"_streamlit_xsrf={token}", "X-Xsrftoken": token}.items():
            conn.putheader(k, v)
        conn.endheaders()
        try:
            conn.send(head)
            view = memoryview(data)
            for i in range(0, len(data), 1 << 20):
                conn.send(view[i:i + (1 << 20)])
            conn.send(tail)
        except OSError as exc:                 # refused before the body was read: the status is there
            try:
                return str(conn.getresponse().status)
            except Exception:
                return f"closed ({type(exc).__name__})"
        return str(conn.getresponse().status)
    except OSError as exc:
        return f"failed ({type(exc).__name__})"
    finally:
        conn.close()


def find(msgs: list, kind: str, label_start: str = ""):
    """The last element of ``kind`` whose label starts with ``label_start``."""
    found = None
    for msg in msgs:
        el = _element(msg)
        if el is not None and el.WhichOneof("type") == kind:
            sub = getattr(el, kind)
            if getattr(sub, "label", "").startswith(label_start):
                found = sub
    return found


def trigger(widget_id: str):
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    return WidgetState(id=widget_id, trigger_value=True)


def open_error(exc: Exception) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return f"websocket refused (HTTP {status})" if status else f"websocket failed ({type(exc).__name__})"


# --- the attacks -----------------------------------------------------------------------------------
class Hostile:
    """One hostile client: loops over the attacks (starting at ``first``) until ``stop``."""

    def __init__(self, index: int, url: str, source: str, stop: threading.Event, rounds: int,
                 log: "AttackLog", first: int = 0) -> None:
        self.index, self.url, self.source, self.stop = index, url, source, stop
        self.rounds, self.log, self.first = rounds, log, first
        self.round = 0

    def record(self, attack: str, outcome: str) -> None:
        self.log.add(attack, outcome)

    def timed_outcome(self, attack: str, s: "Session", states: list, timeout: float,
                      done: Callable[[str], Any], done_word: str) -> list:
        """Run ``s`` with widget ``states``; record whether the page refused (an error alert),
        did it (a text for which ``done`` is true: "<done_word> in N s") or said nothing."""
        t0 = time.monotonic()
        msgs = s.run(states, timeout=timeout)
        dt = time.monotonic() - t0
        if DEBUG:
            print(f"{attack} texts:", texts(msgs), flush=True)
        errors = alerts(msgs, ("error", "exception"))
        finished = [t for t in texts(msgs) if done(t)]
        if errors:
            self.record(attack, f"refused in {dt:.0f} s: {short(errors[0], 150)}")
        elif finished:
            self.record(attack, f"{done_word} in {dt:.0f} s: {short(finished[0], 80)}")
        else:
            self.record(attack, f"no answer within {dt:.0f} s: {short(' | '.join(texts(msgs)[-3:]), 150)}")
        return msgs

    def control(self, attack: str, msgs: list, kind: str, label: str) -> Any:
        """The page's ``kind`` element labelled ``label`` in ``msgs``, or None (recorded, with
        the page's alerts)."""
        found = find(msgs, kind, label)
        if found is None:
            self.record(attack, f"no '{label}' control: " + short(" | ".join(alerts(msgs)) or "-"))
        return found

    def put_table(self, s: "Session", attack: str, name: str, data: bytes) -> Any:
        """PUT ``data`` as file ``name`` for the page's table uploader; the widget state that hands
        it to the page, or None (recorded: no uploader, or the PUT was not accepted)."""
        uploader = find(s.run(timeout=60), "file_uploader", "Upload a table")
        if uploader is None:
            self.record(attack, "no table uploader on the page")
            return None
        fid = s.file_id(name)
        status = s.put(fid, name, data)
        if status != "204":
            self.record(attack, f"{name}: upload PUT answered {status}")
            return None
        return s.upload_state(uploader.id, fid, name, len(data))

    def session(self, query: str) -> Session | None:
        return Session(self.url, self.source, query).open()

    def wait(self, seconds: float) -> bool:
        """Sleep unless the honest visitors are done; True if they are."""
        return self.stop.wait(seconds)

    def loop(self) -> None:
        for self.round in range(self.rounds):
            for k in range(len(ATTACKS)):
                if self.stop.is_set():
                    return
                name = ATTACKS[(self.first + k) % len(ATTACKS)]
                t0 = time.monotonic()
                try:
                    getattr(self, "attack_" + name)()
                except Exception as exc:       # what the attacker saw: the connection failed
                    text = open_error(exc) if "InvalidStatus" in type(exc).__name__ else \
                        f"ended: {type(exc).__name__}: {short(str(exc), 80)}"
                    self.record(name, text)
                self.log.time(name, time.monotonic() - t0)

    # 1 ------------------------------------------------------------------------------------------
    def attack_bomb(self) -> None:
        data = payload("bomb")
        s = self.session("preset=moons&dataset=table")
        try:
            state = self.put_table(s, "bomb", "bomb.parquet", data)
            if state is not None:
                self.timed_outcome("bomb", s, [state], 120, lambda t: re.search(r"[\d,]+ rows", t), "ACCEPTED")
        finally:
            s.close()

    # 2 ------------------------------------------------------------------------------------------
    def attack_step(self) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState
        s = self.session("preset=moons&n_samples=200000&batch_size=full&hidden=512")
        try:
            group = self.control("step", s.run(timeout=60), "button_group", "Look closer")
            if group is None:
                return
            view = WidgetState(id=group.id)
            view.string_array_value.data.append("Step through backprop")
            s.keep(view)
            step = find(s.run(timeout=60), "button", "Step")
            if step is None:
                self.record("step", "no Step button")
                return
            msgs = self.timed_outcome("step", s, [trigger(step.id)], 180,
                                      lambda t: t.replace("*", "").startswith("Step 1 on a minibatch"), "stepped")
            capped = [t for t in texts(msgs) if "A Step on this server takes at most" in t]
            if capped:
                self.record("step", short(capped[0], 150))
        finally:
            s.close()

    # 3 ------------------------------------------------------------------------------------------
    def attack_flood(self) -> None:
        data = payload("flood")
        s = self.session("preset=moons")
        statuses: Counter = Counter()
        try:
            s.run(timeout=60)
            t0 = time.monotonic()
            for i in range(FLOOD_PUTS):
                if self.stop.is_set() or time.monotonic() - t0 > 40:
                    break
                statuses[s.put(str(uuid.uuid4()), f"f{i}.npz", data, timeout=60)] += 1
            took = time.monotonic() - t0
        finally:
            s.close()
        self.record("flood", f"{sum(statuses.values())} PUTs of {FLOOD_MB} MB in {took:.0f} s: "
                    + ", ".join(f"{k} x{v}" for k, v in sorted(statuses.items())))

    # 4 ------------------------------------------------------------------------------------------
    def attack_sessions(self) -> None:
        data = payload("empty_csv")
        sessions: list[Session] = []
        opened: Counter = Counter()
        try:
            for _ in range(SESSIONS):
                try:
                    s = self.session("preset=moons&dataset=table")
                    sessions.append(s)
                    opened["opened"] += 1
                except Exception as exc:
                    opened[open_error(exc)] += 1
            self.record("sessions", "10 websockets: " + ", ".join(f"{k} x{v}" for k, v in opened.items()))
            kept = []
            for s in sessions:
                if self.stop.is_set():
                    return
                state = self.put_table(s, "sessions", "empty.csv", data)
                if state is None:
                    continue
                msgs = s.run([state], timeout=120)
                errors = alerts(msgs, ("error", "exception"))
                rows = [t for t in texts(msgs) if re.search(r"[\d,]+ rows", t)]
                if errors:
                    self.record("sessions", f"40 MB CSV refused: {short(errors[0], 150)}")
                else:
                    kept.append(s)
                    self.record("sessions", f"40 MB CSV kept: {short(rows[0], 60) if rows else '(no rows line)'}")
            self.record("sessions", f"{len(kept)} of {len(sessions)} sessions keep a 40 MB table")
            started = []
            for s in sessions[:SWEEPS]:
                if self.stop.is_set():
                    return
                started.append(self._sweep(s))
            self.wait(20)
            for s, what in zip(sessions[:SWEEPS], started):
                if what is None:
                    continue
                msgs = s.drain()
                last = [t for t in texts(msgs) if "networks trained" in t or "Waiting" in t or "[error]" in t]
                self.record("sessions", f"sweep after 20 s: {_summary(last[-1]) if last else 'nothing new shown'}")
        finally:
            for s in sessions:
                s.close()

    def _sweep(self, s: Session) -> str | None:
        """Start a sweep (the page's defaults, one worker) in session ``s``; what the page said."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState
        page = next((h for name, h in s.pages.items() if "sweep" in name.lower()), None)
        if page is None:
            self.record("sessions", "sweep: no Sweep page in the navigation")
            return None
        s.widgets.clear()
        s.page_hash = page
        msgs = s.run(timeout=60, page_hash=page)
        run = find(msgs, "button", "Run sweep")
        workers = find(msgs, "number_input", "Local workers")
        if run is None:
            self.record("sessions", "sweep: no Run button")
            return None
        states = [trigger(run.id)]
        if workers is not None:
            states.append(WidgetState(id=workers.id, int_value=1))
        s.send_rerun(states)
        msgs = s.read(8, until=lambda m: m.WhichOneof("type") == "script_finished")
        shown = [t for t in texts(msgs) if t.startswith("[") and ("Training" in t or "Waiting" in t
                                                                or "[error]" in t or "[warning]" in t
                                                                or "[info]" in t)]
        what = _summary(shown[-1]) if shown else "no answer within 8 s"
        self.record("sessions", f"sweep started: {what}")
        return what

    # 5 ------------------------------------------------------------------------------------------
    def attack_cnn(self) -> None:
        s = self.session(f"preset=mnist-cnn&arch={quote(CNN_ARCH)}")
        try:
            train = self.control("cnn", s.run(timeout=90), "button", "Train")
            if train is None:
                return
            s.send_rerun([trigger(train.id)])
            msgs = s.read(15, until=lambda m: m.WhichOneof("type") == "script_finished")
            progress = [t for t in texts(msgs) if t.startswith("[progress]")]
            errors = alerts(msgs)
            finished = any(m.WhichOneof("type") == "script_finished" for m in msgs)
            if finished and not any("Epoch" in t or "Waiting" in t for t in progress):
                self.record("cnn", f"refused: {short((errors or progress or ['-'])[-1], 150)}")
                return
            state = _summary(progress[-1]) if progress else "no progress line"
            if self.round % 2 == 0:
                stop = find(msgs, "button", "Stop")
                if stop is None:
                    self.record("cnn", f"started ({state}); no Stop button")
                    return
                t0 = time.monotonic()
                s.send_rerun([trigger(stop.id)])
                got = s.read(30, until=lambda m: any("Stopped" in t or "Ready" in t for t in texts([m])))
                said = [t for t in texts(got) if "Stopped" in t or "Ready" in t]
                dt = time.monotonic() - t0
                self.record("cnn", f"started ({state}); Stop -> " +
                            (f"'{short(said[-1], 40)}' in {dt:.1f} s" if said else f"no 'Stopped' within {dt:.0f} s"))
            else:
                self.record("cnn", f"started ({state}); socket closed")
        finally:
            s.close()

    # 6 ------------------------------------------------------------------------------------------
    def attack_epochs(self) -> None:
        sessions: list[Session] = []
        try:
            for _ in range(EPOCH_TABS):
                try:
                    sessions.append(self.session("preset=mnist&epochs=100000"))
                except Exception as exc:
                    self.record("epochs", open_error(exc))
            for s in sessions:
                train = find(s.run(timeout=90), "button", "Train")
                if train is not None:
                    s.send_rerun([trigger(train.id)])
            self.wait(25)
            for s in sessions:
                msgs = s.drain()
                shown = [t for t in texts(msgs) if t.startswith("[progress]") or t.startswith("[error]")
                         or t.startswith("[warning]") or t.startswith("[info]")]
                self.record("epochs", "after 25 s: " + (_summary(shown[-1]) if shown else "nothing new shown"))
        finally:
            for s in sessions:
                s.close()


def _summary(text: str) -> str:
    """A progress line reduced to what it says (numbers that change from poll to poll left out)."""
    if m := re.search(r"Epoch [\d.]+ of (\d+)", text):
        return f"training (Epoch ... of {m.group(1)})"
    if m := re.search(r"Waiting for room on the server: (\d+) ahead", text):
        return f"queued (Waiting for room on the server: {m.group(1)} ahead)"
    if m := re.search(r"(\d+) of (\d+) networks trained", text):
        return f"sweep running (... of {m.group(2)} networks trained)"
    if m := re.search(r"Waiting for room on the server: (\d+) job", text):
        return f"queued (Waiting for room on the server: {m.group(1)} job(s) ahead)"
    return short(text, 120)


class AttackLog:
    """What the attackers saw, per attack (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.outcomes: dict[str, Counter] = defaultdict(Counter)
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.ahead: dict[tuple[str, str], list[int]] = {}       # queue places seen, per outcome

    def add(self, attack: str, outcome: str) -> None:
        if DEBUG:
            print(f"[{attack}] {outcome}", flush=True)
        key = re.sub(r"\b\d+(\.\d+)? s\b", "N s", outcome)     # times vary: count alike outcomes together
        place = re.search(r": (\d+) (job\(s\) )?ahead", key)
        if place:                                                   # one line for every place in line
            key = key[:place.start()] + ": K " + (place.group(2) or "") + "ahead" + key[place.end():]
        with self._lock:
            self.outcomes[attack][key] += 1
            if place:
                self.ahead.setdefault((attack, key), []).append(int(place.group(1)))

    def time(self, attack: str, seconds: float) -> None:
        with self._lock:
            self.seconds[attack].append(seconds)

    def report(self) -> list[str]:
        lines = []
        for name in ATTACKS:
            n = len(self.seconds.get(name, []))
            lines.append(f"  ({ATTACKS.index(name) + 1}) {name}: {n} round(s)")
            for outcome, count in self.outcomes.get(name, Counter()).most_common():
                places = self.ahead.get((name, outcome))
                seen = f"  [K = {min(places)} to {max(places)}]" if places else ""
                lines.append(f"      {count:3d} x {outcome}{seen}")
        return lines


def run_hostile(n: int, url: str, stop: threading.Event, rounds: int, log: AttackLog,
                address) -> list[threading.Thread]:
    """``n`` hostile clients as daemon threads, client i from ``address(i)``, starting at attack i."""
    threads = []
    for i in range(n):
        h = Hostile(i, url, address(i), stop, rounds, log, first=i % len(ATTACKS))
        t = threading.Thread(target=h.loop, name=f"hostile-{i}", daemon=True)
        t.start()
        threads.append(t)
    return threads
