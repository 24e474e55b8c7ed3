"""Sweeps in a public demo (issue 9): bad scheduler addresses fail in time, a cluster that cannot
run the tasks says so, sweeps over the budget are refused before they start, workers are capped
at the cores, a stopped sweep leaves no worker process, and the page never shows a traceback."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from app_pages import open_page
from processes import sweep_workers
from nn.cli import main
from nn.core.config import RunConfig
from nn.core.settings import ConfigError
from nn.hosting import limits
from nn.runs.experiment import config_from_preset
from nn.sweep import run_dask
from nn.sweep import SweepConfig, SweepError, estimate, iter_sweep, parse_values, start_sweep

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "moons", "--n-samples", "200", "--epochs", "2", "--values", "2:4", "--trials", "2"]


# --- fake schedulers: threads with sockets on 127.0.0.1, closed after the test ------------------
class FakeServer:
    """Accepts connections; ``silent`` never answers, ``http`` answers any request with an HTTP
    400, ``garbage`` sends bytes at once as a non-Dask server might."""

    def __init__(self, kind: str) -> None:
        self.kind, self.conns = kind, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        deadline = time.monotonic() + 120                      # bounded in time whatever happens
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            if self.kind == "garbage":
                conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
            elif self.kind == "http":
                threading.Thread(target=self._http, args=(conn,), daemon=True).start()

    @staticmethod
    def _http(conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            if conn.recv(65536):
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        for c in [*self.conns, self.sock]:
            c.close()


@pytest.fixture(params=["silent", "http", "garbage"])
def fake_scheduler(request):
    server = FakeServer(request.param)
    yield server
    server.close()


def test_cli_bad_scheduler_fails_in_time_naming_it(fake_scheduler, capsys):
    started = time.monotonic()
    with pytest.raises(SystemExit) as info:
        main(["sweep", *TINY, "--scheduler", fake_scheduler.address])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"could not connect to a Dask scheduler at {fake_scheduler.address!r}" in err
    assert "error:" in err
    assert time.monotonic() - started < 20


def test_page_bad_scheduler_fails_in_time_naming_it(fake_scheduler):
    at = tiny(open_page("pages/sweep.py"))
    at.text_input(key="sw_scheduler").set_value(fake_scheduler.address)
    at.button(key="sw_run").click().run(timeout=40)
    assert not at.exception, at.exception
    assert any(fake_scheduler.address in e.value for e in at.error), [e.value for e in at.error]


def test_cluster_whose_workers_lack_the_package_is_an_error(tmp_path, capsys):
    """A real worker process started where ``nn`` cannot be imported: the sweep ends with an
    error that says so, not with zero results."""
    from dask.distributed import LocalCluster
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with LocalCluster(n_workers=0, processes=False, protocol="tcp://", dashboard_address=None) as cluster:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                   cluster.scheduler_address, "--nthreads", "1", "--no-nanny",
                                   "--no-dashboard"], cwd=tmp_path, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            code = main(["sweep", *TINY, "--scheduler", cluster.scheduler_address])
        finally:
            worker.kill()
            worker.wait(10)
    err = capsys.readouterr().err
    assert code == 1
    assert "could not run the sweep's tasks" in err and "No module named 'nn'" in err


def test_a_task_raising_on_the_cluster_is_an_error(monkeypatch):
    from dask.distributed import LocalCluster

    def broken(*args, **kwargs):
        raise RuntimeError("boom in the worker")
    monkeypatch.setattr(run_dask, "run_task", broken)
    sweep = SweepConfig(RunConfig(dataset="moons", n_samples=200, epochs=1), "hidden", [2, 3], 1).validate()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with pytest.raises(SweepError, match="could not run the sweep's tasks.*boom in the worker"):
            list(iter_sweep(sweep, scheduler=cluster.scheduler_address))


# --- the budget --------------------------------------------------------------------------------
def sweep_of(param: str, values: str, trials: int, **run) -> SweepConfig:
    return SweepConfig(RunConfig(**run), param, parse_values(param, [values]), trials).validate()


@pytest.mark.parametrize("sweep,needle", [
    (lambda: sweep_of("hidden", "1:500", 100, epochs=100_000), "NN_MAX_SWEEP_SECONDS"),
    (lambda: sweep_of("depth", "1:10", 40, hidden=[1024], epochs=10), "NN_MAX_SWEEP_MEMORY_MB"),
    (lambda: sweep_of("depth", "1:10", 40, hidden=[1024], epochs=1, n_samples=100), "NN_MAX_SWEEP_MEMORY_MB"),
])
def test_the_issues_sweeps_are_refused_with_the_estimate_and_the_limit(sweep, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        start_sweep(sweep(), workers=2)
    message = str(info.value)
    assert "limit of" in message and "reduce" in message


def test_tutorial_readme_and_page_examples_fit_the_budget():
    tutorial = SweepConfig(config_from_preset("seed-moons", epochs=100), "hidden", list(range(3, 41)), 3)
    est = estimate(tutorial.validate(), limits().max_workers).check()
    assert est.core_seconds < limits().max_sweep_seconds / 10       # plenty of room
    base = dict(dataset="moons", n_samples=5000, noise=0.1, hidden=[64], activation="relu",
                init="normal", optimizer="sgd", lr=1e-3, batch_size=10, epochs=100)
    examples = {"hidden": "3:40", "lr": "0.0001 0.0003 0.001 0.003 0.01",
                "batch_size": "1 10 32 100 full", "depth": "1:4"}          # the page's examples
    for param, values in examples.items():
        estimate(sweep_of(param, values, 3, **base), limits().max_workers).check()
    for preset in ("mnist", "moons", "seed-moons"):                       # a small sweep on each preset
        run = config_from_preset(preset)
        estimate(SweepConfig(run, "hidden", [16, 32, 64, 128], 3).validate(), 2).check()


def test_refusing_the_memory_attack_allocates_nothing_big():
    """The 15.5 GB sweep, refused in a subprocess: peak RSS stays under 200 MB above baseline."""
    child = textwrap.dedent("""
        import resource, sys
        from nn.cli import main
        base = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
        try:
            main(["sweep", "--param", "depth", "--values", "1:10", "--hidden", "1024",
                  "--trials", "40", "--epochs", "10", "--workers", "2"])
        except SystemExit as exc:
            assert exc.code == 2, exc.code
        print((int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) - base) // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert "NN_MAX_SWEEP_MEMORY_MB" in out.stderr
    assert int(out.stdout.strip().splitlines()[-1]) < 200


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("NN_MAX_SWEEP_SECONDS", "1")
    with pytest.raises(ConfigError, match="limit of 1.0 s"):
        start_sweep(sweep_of("hidden", "3:40", 3, epochs=100, batch_size=10), workers=1)


# --- workers -------------------------------------------------------------------------------------
def test_cli_refuses_more_workers_than_allowed(monkeypatch, capsys):
    monkeypatch.setenv("NN_MAX_WORKERS", "1")
    with pytest.raises(SystemExit) as info:
        main(["sweep", *TINY, "--workers", "2"])
    assert info.value.code == 2
    assert "workers (--workers) must be a whole number from 1 to 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sweep", *TINY, "--workers", "256"])


def test_page_workers_widget_stops_at_the_cores():
    at = open_page("pages/sweep.py")
    widget = at.number_input(key="sw_workers")
    assert widget.max == limits().max_workers
    assert widget.value <= limits().max_workers


# --- stopping --------------------------------------------------------------------------------
def long_sweep() -> SweepConfig:
    """Within the budget, but minutes of work: hidden 3..40, 3 trials, 3000 epochs."""
    return SweepConfig(config_from_preset("seed-moons", epochs=3000), "hidden", list(range(3, 41)), 3).validate()


def busy_then_gone(pids: list[int], cancel) -> None:
    procs = [psutil.Process(p) for p in pids]
    deadline = time.monotonic() + 30
    while sum(p.cpu_times().user for p in procs) < 0.5:            # they are training
        assert time.monotonic() < deadline, "workers never got to work"
        time.sleep(0.2)
    cancel()
    gone, alive = psutil.wait_procs(procs, timeout=5)
    assert not alive, f"worker processes left after the stop: {alive}"


def test_cancel_ends_the_worker_processes():
    run = start_sweep(long_sweep(), workers=2, in_process=False)
    busy_then_gone(run.pids, run.cancel)
    assert not worker_pids()


def test_closing_the_generator_ends_the_worker_processes():
    """The full-batch task finishes at once, the batch-1 task would take minutes: closing the
    generator after the first results ends the worker still training."""
    sweep = SweepConfig(config_from_preset("seed-moons", epochs=1000, hidden=[8]), "batch_size",
                        [1, "full"], 1).validate()
    before = set(worker_pids())
    gen = iter_sweep(sweep, workers=2)
    first = next(gen)
    assert [r["value"] for r in first] == ["full"]
    pids = [p for p in worker_pids() if p not in before]
    assert pids, "no worker process is training the batch-1 task"
    busy_then_gone(pids, gen.close)


def worker_pids() -> list[int]:
    return [p.pid for p in sweep_workers()]


def test_a_worker_that_dies_is_an_error():
    run = start_sweep(long_sweep(), workers=1, in_process=False)
    with run:
        time.sleep(0.5)
        psutil.Process(run.pids[0]).kill()
        with pytest.raises(SweepError, match="ended unexpectedly"):
            while not run.done:
                run.poll(0.5)


# --- the page ------------------------------------------------------------------------------------
def tiny(at):
    at.number_input(key="sw_n_samples").set_value(200)
    at.number_input(key="sw_trials").set_value(2)
    at.number_input(key="sw_epochs").set_value(2)
    at.number_input(key="sw_workers").set_value(1)
    at.text_input(key="sw_values").set_value("2:4")
    return at


@pytest.mark.parametrize("text", ["²", "1e3", "-5", "ten", "10.5", "", "٣"])
def test_page_odd_batch_size_gets_a_message(text):
    at = tiny(open_page("pages/sweep.py"))
    at.text_input(key="sw_batch_size").set_value(text)
    at.button(key="sw_run").click().run()
    assert not at.exception, at.exception
    assert any("batch size must be a whole number" in e.value for e in at.error), [e.value for e in at.error]


def test_page_hosting_mode_offers_no_scheduler_field(monkeypatch):
    monkeypatch.setenv("NN_PUBLIC", "1")
    at = tiny(open_page("pages/sweep.py"))
    assert not [w for w in at.text_input if w.key == "sw_scheduler"]
    at.button(key="sw_run").click().run()                       # runs on local cores
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [s["value"] for s in at.session_state["sweep_result"]["summary"]] == [2, 3, 4]
    assert any("Estimated work" in c.value for c in at.caption)


def test_page_hosting_mode_ignores_a_sent_scheduler_and_uses_the_operators(monkeypatch):
    server = FakeServer("silent")
    try:
        monkeypatch.setenv("NN_PUBLIC", "1")
        monkeypatch.setenv("NN_DASK_SCHEDULER", server.address)
        at = tiny(open_page("pages/sweep.py"))
        at.session_state["sw_scheduler"] = "tcp://203.0.113.9:8786"    # a forged value: ignored
        at.button(key="sw_run").click().run(timeout=40)
        assert not at.exception
        errors = [e.value for e in at.error]
        assert any("the server's cluster" in e for e in errors), errors
        assert not any(server.address in e or "203.0.113.9" in e for e in errors), errors
    finally:
        server.close()


def test_page_local_mode_warns_that_the_cluster_is_trusted():
    at = open_page("pages/sweep.py")
    assert "trust" in at.text_input(key="sw_scheduler").help


def test_a_cnn_preset_cannot_be_swept(capsys):
    """The lockstep trains MLPs only: an --arch network is refused by name, not swept as an MLP."""
    from nn.cli import main
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--preset", "mnist-cnn", "--values", "3", "4"])
    assert exit_info.value.code == 2
    assert "cannot be swept" in capsys.readouterr().err
