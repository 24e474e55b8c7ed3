"""Many visitors at once on one server: does every run finish, how long does it take, what memory?

Starts a real ``streamlit run dashboard.py`` (as `make run` does) and connects simulated visitors
to it as real websocket clients: each speaks Streamlit's own protocol (protobuf ``BackMsg`` /
``ForwardMsg`` over ``/_stcore/stream``), opens the Train page with a preset in its link, presses
Train as a browser would (a trigger of the button's widget id) and reads the page's messages until
its progress line says "Done". No browser is involved, so the 2 cores are the server's alone.

The server runs as the README's hosting recipe starts it: ``NN_PUBLIC=1`` with every other limit
at its hosting default (any ``NN_*`` variable of this shell is left out), ``--client.showErrorDetails
none``; its log goes to a file named in the output.

With ``--hostile N`` (default 5; 0: none) N hostile clients, each from its own loopback address
(127.0.3.N), repeat the attacks of issue 17's table (rows 1-6: a Parquet bomb through the table
uploader, a huge Step, an upload flood, many sessions with big tables and sweeps, a huge CNN
started then stopped or abandoned, 100,000-epoch links in several tabs; see hostile_clients.py)
from the moment the honest visitors press Train until the last honest run is over.

Reported: every honest run's outcome, p50 and p95 of click-to-done, the peak resident memory of
the server process and of the server with all its child processes (the sum of VmRSS over the
process tree, sampled every 0.25 s; also the server's VmHWM), target < 1.5 GB; the health
endpoint's slowest and p99 answer, polled every 0.25 s throughout (target < 1 s); what each
attack saw; the machine's float32 2048x2048 matmul GFLOP/s and load at the start.

With ``--proxy`` the visitors and the health poll go through the README's nginx (deploy/nginx.conf,
started by deploy/run_proxy.sh on a free loopback port), each visitor from its own loopback
address (127.0.2.N) as separate people would be, so the proxy's per-client limits apply to each.

    MNIST_PATH=/work/shared/data/mnist.npz PYTHONPATH=. .venv/bin/python benchmarks/bench_load.py \
        [--moons 20] [--mnist 3] [--timeout 900] [--proxy] [--hostile 5] [--hostile-rounds 20]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from deploy.proxy import stop_process  # noqa: E402  (the repository's root is on the path from here)
from machine import matmul_gflops  # noqa: E402  (benchmarks/machine.py)


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
        from hostile_clients import receive
        while time.monotonic() < deadline:
            msg = receive(self.ws, deadline, 0.1)
            if msg is None:
                return
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
        if kind == "alert" and el.alert.format == 1:          # st.error: e.g. the page failed
            record.outcome = f"error: {el.alert.body[:200]}"
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


def hostile_address(i: int) -> str:
    """The i-th hostile client's own loopback address (apart from the visitors')."""
    return f"127.0.{100 + i // 250}.{1 + i % 250}"


def nginx_peak_mb(pid: int) -> float:
    """Peak resident memory of nginx's master and its workers, added up."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sum(peak_mb(int(p)) for p in [pid, *children])


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_mb(pid: int) -> float:
    """Resident memory now (0 if the process is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_MB
    except (OSError, IndexError, ValueError):
        return 0.0


def pss_mb(pid: int) -> float:
    """Proportional resident memory now: a page shared by k processes counts 1/k in each (the
    shared MNIST arrays count once over the tree, not once per worker that maps them)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0.0


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (children of any of its threads, their children, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Sampler:
    """A background thread running ``_run`` until ``stop``."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        raise NotImplementedError


class MemorySampler(Sampler):
    """The server's VmRSS and the sum over its process tree, every ``every`` seconds; the peaks."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__()
        self.pid, self.every = pid, every
        self.server_peak = self.tree_peak = self.pss_peak = 0.0
        self.tree_peak_at, self.most_children, self.samples = 0.0, 0, 0

    def _run(self) -> None:
        while not self._stop.is_set():
            server = rss_mb(self.pid)
            children = descendants(self.pid)
            tree = server + sum(rss_mb(c) for c in children)
            self.pss_peak = max(self.pss_peak, sum(pss_mb(p) for p in [self.pid, *children]))
            self.samples += 1
            self.server_peak = max(self.server_peak, server)
            self.most_children = max(self.most_children, len(children))
            if tree > self.tree_peak:
                self.tree_peak, self.tree_peak_at = tree, time.monotonic()
            self._stop.wait(self.every)


class UploadSampler(Sampler):
    """Bytes of uploaded files Streamlit holds (its own metrics, asked of the server directly as an
    operator would, every second; Streamlit refreshes them about every 5 s); the peak."""

    def __init__(self, server_url: str) -> None:
        super().__init__()
        self.url, self.peak, self.peak_at, self.errors = server_url, 0, 0.0, 0

    def _run(self) -> None:
        import re
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url + "/_stcore/metrics?families=cache_memory_bytes",
                                            timeout=5) as r:
                    text = r.read().decode()
                held = sum(int(float(m)) for m in
                           re.findall(r'cache_type="UploadedFileManager"[^}]*} (\S+)', text))
                if held > self.peak:
                    self.peak, self.peak_at = held, time.monotonic()
            except (OSError, ValueError):
                self.errors += 1
            self._stop.wait(1.0)


def machine(when: str) -> None:
    """Load and the busiest other processes: the machine is shared."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"[{when}] load average {load}; busiest processes (%CPU, RSS MB, command):", flush=True)
    try:
        out = subprocess.run(["ps", "-eo", "pcpu,rss,args", "--sort=-pcpu", "--no-headers"],
                             capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        out = []
    for line in out[:8]:
        cpu, rss, args = line.split(None, 2)
        print(f"    {cpu:>5}  {int(rss) / 1024:7.0f}  {args[:110]}", flush=True)


def start_hosting_server(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, Path]:
    """``streamlit run dashboard.py`` as the README's hosting recipe starts it (NN_PUBLIC=1, the
    hosting defaults: no NN_* variable of this shell, showErrorDetails none) on a free port."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import _free_port, _wait_healthy
    port = _free_port()
    log = Path(tempfile.mkdtemp(prefix="bench-load-")) / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats",
         "false", "--server.fileWatcherType", "none", "--client.showErrorDetails", "none"],
        cwd=ROOT, stdout=open(log, "w"), stderr=subprocess.STDOUT,
        env={**env, "PYTHONPATH": str(ROOT), "NN_PUBLIC": "1", **(extra_env or {})})
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, proc)
    return proc, url, log


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
    p.add_argument("--server-env", nargs="*", default=[], metavar="NAME=VALUE",
                   help="hosting settings for the server beyond the defaults, e.g. NN_WORKER_NICE=0")
    p.add_argument("--hostile", type=int, default=5, help="hostile clients repeating issue 17's attacks")
    p.add_argument("--hostile-rounds", type=int, default=20,
                   help="at most this many passes over the attacks per hostile client")
    args = p.parse_args()
    if args.mnist and not os.environ.get("MNIST_PATH"):
        sys.exit("set MNIST_PATH to a keras-format mnist.npz (or --mnist 0)")
    from hostile_clients import AttackLog, run_hostile

    print(f"code: {ROOT} ({_commit()}); {time.strftime('%Y-%m-%d %H:%M:%S')}", flush=True)
    machine("start")
    print(f"float32 2048x2048 matmul: {matmul_gflops():.0f} GFLOP/s at the start", flush=True)
    proc, url, server_log = start_hosting_server(dict(kv.split("=", 1) for kv in args.server_env))
    memory, uploads = MemorySampler(proc.pid).start(), UploadSampler(url).start()
    nginx = None
    if args.proxy:
        from deploy.proxy import start_proxy
        nginx, url, proxy_dir = start_proxy([url.split("//", 1)[1]])
        print(f"through nginx at {url} (pid {nginx.pid}, logs in {proxy_dir}/logs)", flush=True)
    visits = [Visit("mnist") for _ in range(args.mnist)] + [Visit("moons") for _ in range(args.moons)]
    start, stop, health, asked = threading.Event(), threading.Event(), [], []
    honest_done, attacks = threading.Event(), AttackLog()
    try:
        print(f"server pid {proc.pid} (NN_PUBLIC=1, hosting defaults; log {server_log}); "
              f"{len(visits)} visitors, {args.hostile} hostile clients", flush=True)
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
        hostile = run_hostile(args.hostile, url, honest_done, args.hostile_rounds, attacks, hostile_address)
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        honest_done.set()                # the hostile clients end their current attack
        for t in hostile:
            t.join(120)
        still = sum(t.is_alive() for t in hostile)
        stop.set()
        poller.join()
        memory.stop()
        uploads.stop()
        slowest = max(range(len(health)), key=health.__getitem__, default=None)
        if slowest is not None:
            print(f"slowest health answer asked {asked[slowest] - t0:+.1f} s after the clicks")
        if nginx is not None:
            print(f"nginx peak resident memory {nginx_peak_mb(nginx.pid):.0f} MB (master and workers)")
        if args.hostile:
            print(f"what the {args.hostile} hostile clients saw (attacks until the honest runs were "
                  f"done{f'; {still} still in an attack 120 s later' if still else ''}):")
            print("\n".join(attacks.report()))
        if memory.tree_peak:
            print(f"server + children: peak {memory.tree_peak:.0f} MB at {memory.tree_peak_at - t0:+.1f} s "
                  f"after the clicks; at most {memory.most_children} child processes; "
                  f"{memory.samples} samples")
        print(f"uploaded files held by Streamlit (its metrics): peak {uploads.peak / 2**20:.0f} MB"
              + (f" at {uploads.peak_at - t0:+.1f} s after the clicks" if uploads.peak else ""))
        machine("end")
        return report(visits, health, peak_mb(proc.pid), wall, memory)
    finally:
        honest_done.set()
        if nginx is not None:
            stop_process(nginx, 10)
        stop_process(proc, 15)


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def report(visits: list[Visit], health: list[float], hwm: float, wall: float,
           memory: MemorySampler) -> int:
    ok = [v for v in visits if v.outcome == "done"]
    print("honest runs:")
    for i, v in enumerate(visits):
        took = f"{v.click_to_done:6.1f} s" if v.click_to_done is not None else "      -  "
        waited = " (waited in the queue)" if any("waiting" in t.lower() for t in v.texts) else ""
        last = "" if v.outcome == "done" else f"; last progress: {v.texts[-1:] or '-'}"
        print(f"  {i + 1:2d} {v.preset:6s} {v.outcome:10s} {took}{waited}{last}")
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
    tree = memory.tree_peak
    print(f"server peak resident memory: VmHWM {hwm:.0f} MB, sampled VmRSS {memory.server_peak:.0f} MB; "
          f"server + children (sum of VmRSS) {tree:.0f} MB (target < 1536 MB): "
          f"{'OK' if max(hwm, tree) < 1536 else 'OVER'}")
    print(f"server + children, proportional (sum of Pss: shared pages counted once) "
          f"{memory.pss_peak:.0f} MB (target < 1536 MB): {'OK' if memory.pss_peak < 1536 else 'OVER'}")
    worst = max(health) if health else float("nan")
    p99 = percentile(health, 0.99) if health else float("nan")
    print(f"health endpoint: {len(health)} polls, median {statistics.median(health) * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms, slowest {worst * 1000:.0f} ms (target < 1000 ms): "
          f"{'OK' if worst < 1 else 'OVER'}")
    return 0 if len(ok) == len(visits) and max(hwm, tree) < 1536 and worst < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
