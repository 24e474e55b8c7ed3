"""Start deploy/run_proxy.sh (nginx with deploy/nginx.conf) on a free loopback port, for the tests
(tests/test_proxy.py) and the load benchmark (benchmarks/bench_load.py --proxy).

    proc, url, directory = start_proxy(["127.0.0.1:8501"])
    ...
    stop_proxy(proc)
"""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

NGINX = "/usr/sbin/nginx"
RUNNER = Path(__file__).resolve().parent / "run_proxy.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_proxy(upstreams: list[str], directory: str | None = None,
                timeout: float = 20) -> tuple[subprocess.Popen, str, Path]:
    """nginx listening on 127.0.0.1:<free port> in front of ``upstreams`` ("host:port"); its pid,
    logs and temp files in ``directory`` (a new one under /tmp by default). Returns the process
    (nginx's master: the runner execs it), the proxy's URL and the directory."""
    d = Path(directory or tempfile.mkdtemp(prefix="nn-proxy-", dir="/tmp"))
    port = free_port()
    cmd = [str(RUNNER), "--listen", f"127.0.0.1:{port}", "--dir", str(d)]
    for u in upstreams:
        cmd += ["--upstream", u]
    log = open(d / "runner.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NN_NGINX": NGINX})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with code {proc.returncode}: "
                               f"{(d / 'runner.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}", d
        except OSError:
            time.sleep(0.1)
    stop_proxy(proc)
    raise TimeoutError("nginx did not start listening in time")


def stop_proxy(proc: subprocess.Popen) -> None:
    """SIGTERM to nginx's master (a fast shutdown of it and its workers)."""
    stop_process(proc, 10)


def stop_process(proc: subprocess.Popen, wait: float) -> None:
    """SIGTERM ``proc``; SIGKILL it if it has not ended within ``wait`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
