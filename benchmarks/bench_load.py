"""Many visitors at once on one server: does every run finish, how long does it take, what memory?

Starts a real ``streamlit run dashboard.py`` (as `make run` does) and connects simulated visitors
to it as real websocket clients: each speaks Streamlit's own protocol (protobuf ``BackMsg`` /
``ForwardMsg`` over ``/_stcore/stream``), opens the Train page with a preset in its link, presses
Train as a browser would (a trigger of the button's widget id) and reads the page's messages until
its progress line says "Done". No browser is involved, so the 2 cores are the server's alone.

Reported: every run's outcome, p50 and p95 of click-to-done, the server's peak resident memory
(VmHWM, target < 1.5 GB) and the slowest answer of the health endpoint, polled every 0.25 s
throughout (target < 1 s).

With ``--proxy`` the visitors and the health poll go through the README's nginx (deploy/nginx.conf,
started by deploy/run_proxy.sh on a free loopback port), each visitor from its own loopback
address (127.0.2.N) as separate people would be, so the proxy's per-client limits apply to each.

    MNIST_PATH=/work/shared/data/mnist.npz PYTHONPATH=. .venv/bin/python benchmarks/bench_load.py \
        [--moons 20] [--mnist 3] [--timeout 900] [--proxy]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


@dataclass
class Visit:
    """One simulated visitor's run."""
    preset: str
    outcome: str = "not started"
    click_to_done: float | None = None
    texts: list[str] = field(default_factory=list)      # progress lines seen, for the report


class Visitor:
    """A Streamlit session driven over its websocket, the way the browser's client does it."""

    def __init__(self, ws, query: str) -> None:
        self.ws, self.query, self.page_hash = ws, query, ""

    def rerun(self, widget_states: list | None = None) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_script_hash = self.page_hash
        for state in widget_states or []:
            msg.rerun_script.widget_states.widgets.append(state)
        self.ws.send(msg.SerializeToString())

    def messages(self, deadline: float):
        """ForwardMsgs until ``deadline`` (monotonic seconds)."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        while time.monotonic() < deadline:
            try:
                data = self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                return
            msg = ForwardMsg()
            msg.ParseFromString(data)
            if msg.WhichOneof("type") == "new_session":
                self.page_hash = msg.new_session.page_script_hash or self.page_hash
            yield msg



def _element(msg):
    if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
        return msg.delta.new_element
    return None


def find_button(visitor: Visitor, label: str, deadline: float) -> str:
    """Run the page until a script run has finished with a button ``label``; its widget id."""
    button_id = None
    for msg in visitor.messages(deadline):
        el = _element(msg)
        if el is not None and el.WhichOneof("type") == "button" and el.button.label == label:
            button_id = el.button.id
        if el is not None and el.WhichOneof("type") == "exception":
            raise RuntimeError(f"page error: {el.exception.message}")
        if msg.WhichOneof("type") == "script_finished" and button_id:
            return button_id
    raise TimeoutError(f"no {label!r} button before the deadline")


def visit(url: str, preset: str, record: Visit, start: threading.Event, timeout: float,
          source: str | None = None) -> None:
    """One visitor; ``source``: the loopback address it connects from (None: the default)."""
    from websockets.sync.client import connect
    deadline = time.monotonic() + timeout
    address = url.replace("http", "ws") + "/_stcore/stream"
    extra = {"source_address": (source, 0)} if source else {}
    try:
        with connect(address, subprotocols=["streamlit"], max_size=None, open_timeout=30,
                     close_timeout=1, **extra) as ws:
            _train(Visitor(ws, f"preset={preset}"), record, start, deadline)
    except Exception as exc:           # a benchmark reports every failure, it does not stop
        record.outcome = f"error: {type(exc).__name__}: {exc}"


def _train(v: Visitor, record: Visit, start: threading.Event, deadline: float) -> None:
    """Open the page, wait for everyone, press Train, read the page until it says Done."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    v.rerun()
    train = find_button(v, "Train", deadline)
    start.wait()
    clicked = time.monotonic()
    v.rerun([WidgetState(id=train, trigger_value=True)])
    record.outcome = "timed out"
    for msg in v.messages(deadline):
        el = _element(msg)
        kind = el.WhichOneof("type") if el is not None else None
        if kind == "exception":
            record.outcome = f"error: {el.exception.message}"
            return
        if kind != "progress":
            continue
        text = el.progress.text
        if not record.texts or record.texts[-1] != text:
            record.texts.append(text)
        if text.startswith("Done"):
            record.click_to_done, record.outcome = time.monotonic() - clicked, "done"
            return
        if "diverged" in text:
            record.outcome = f"diverged: {text}"
            return


def poll_health(url: str, stop: threading.Event, latencies: list[float], when: list[float]) -> None:
    """Ask the health endpoint every 0.25 s; its answer times (and when each was asked)."""
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=10) as r:
                r.read()
            latencies.append(time.monotonic() - t0)
        except OSError as exc:
            latencies.append(float("inf"))
            print(f"health poll failed after {time.monotonic() - t0:.2f} s: {exc!r}", flush=True)
        when.append(t0)
        stop.wait(0.25)


def visitor_address(i: int) -> str:
    """The i-th visitor's own loopback address (all of 127/8 is the loopback interface)."""
    return f"127.0.{2 + i // 250}.{1 + i % 250}"


def nginx_peak_mb(pid: int) -> float:
    """Peak resident memory of nginx's master and its workers, added up."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sum(peak_mb(int(p)) for p in [pid, *children])


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--moons", type=int, default=20, help="visitors training the moons preset")
    p.add_argument("--mnist", type=int, default=3, help="visitors training the mnist preset")
    p.add_argument("--timeout", type=float, default=900, help="seconds each visitor may take")
    p.add_argument("--proxy", action="store_true",
                   help="visitors go through nginx with deploy/nginx.conf (needs /usr/sbin/nginx)")
    args = p.parse_args()
    if args.mnist and not os.environ.get("MNIST_PATH"):
        sys.exit("set MNIST_PATH to a keras-format mnist.npz (or --mnist 0)")
    from bench_app_overhead import start_server

    proc, url = start_server()
    nginx = None
    if args.proxy:
        sys.path.insert(0, str(ROOT))
        from deploy.proxy import start_proxy
        nginx, url, proxy_dir = start_proxy([url.split("//", 1)[1]])
        print(f"through nginx at {url} (pid {nginx.pid}, logs in {proxy_dir}/logs)", flush=True)
    visits = [Visit("mnist") for _ in range(args.mnist)] + [Visit("moons") for _ in range(args.moons)]
    start, stop, health, asked = threading.Event(), threading.Event(), [], []
    try:
        print(f"server pid {proc.pid}; {len(visits)} visitors", flush=True)
        poller = threading.Thread(target=poll_health, args=(url, stop, health, asked), daemon=True)
        poller.start()
        threads = [threading.Thread(target=visit, args=(url, v.preset, v, start, args.timeout,
                                                        visitor_address(i) if args.proxy else None))
                   for i, v in enumerate(visits)]
        for t in threads:
            t.start()
        time.sleep(2.0)                  # let every visitor open the page first
        t0 = time.monotonic()
        start.set()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        stop.set()
        poller.join()
        slowest = max(range(len(health)), key=health.__getitem__, default=None)
        if slowest is not None:
            print(f"slowest health answer asked {asked[slowest] - t0:+.1f} s after the clicks")
        if nginx is not None:
            print(f"nginx peak resident memory {nginx_peak_mb(nginx.pid):.0f} MB (master and workers)")
        return report(visits, health, peak_mb(proc.pid), wall)
    finally:
        if nginx is not None:
            from deploy.proxy import stop_proxy
            stop_proxy(nginx)
        proc.terminate()
        proc.wait(10)


def report(visits: list[Visit], health: list[float], peak: float, wall: float) -> int:
    ok = [v for v in visits if v.outcome == "done"]
    for v in visits:
        if v.outcome != "done":
            print(f"  {v.preset}: {v.outcome}; last progress: {v.texts[-1:] or '-'}")
    print(f"{len(ok)} of {len(visits)} runs done in {wall:.1f} s of wall time")
    for preset in sorted({v.preset for v in visits}):
        times = [v.click_to_done for v in ok if v.preset == preset]
        if times:
            print(f"  {preset:6s} click-to-done  p50 {percentile(times, 0.5):6.1f} s   "
                  f"p95 {percentile(times, 0.95):6.1f} s   max {max(times):6.1f} s   ({len(times)} runs)")
    times = [v.click_to_done for v in ok]
    if times:
        print(f"  all    click-to-done  p50 {percentile(times, 0.5):6.1f} s   p95 {percentile(times, 0.95):6.1f} s")
    queued = sum(any("waiting" in t.lower() for t in v.texts) for v in visits)
    print(f"  {queued} visitor(s) waited in the training queue")
    worst = max(health) if health else float("nan")
    print(f"server peak resident memory {peak:.0f} MB (target < 1536 MB): {'OK' if peak < 1536 else 'OVER'}")
    print(f"health endpoint: {len(health)} polls, median {statistics.median(health) * 1000:.0f} ms, "
          f"slowest {worst * 1000:.0f} ms (target < 1000 ms): {'OK' if worst < 1 else 'OVER'}")
    return 0 if len(ok) == len(visits) and peak < 1536 and worst < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
