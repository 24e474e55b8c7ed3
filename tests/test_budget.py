"""One budget for the server (issue 17): job slots and memory for the whole server and each
client, every job admitted against an estimate from the decoded sizes, Stop within a second
whatever the network, a visitor's run held to its maximum duration, sweep workers under hard
limits, and a Step's memory in a child process."""
from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
from app_pages import open_app

from app.jobs import client_from
from nn.core import build_network
from nn.core.mlp import EvaluationStopped
from nn.core.training import Trainer, evaluate_in_pieces
from nn.runs import budget
from app.train.session import TrainSession
from nn.core.config import TrainConfig
from nn.runs.experiment import config_from_preset
from nn.runs.slots import MB, BudgetRefused, Capacity, Need, RunSlots
from nn.sweep.pool import WorkerFailed, WorkerPool, probe

ROOT = Path(__file__).resolve().parents[1]
ROW5 = "conv 3x3x256 pad 1, conv 3x3x256 pad 1, pool 8"       # 615,690 parameters, hours an epoch
CAP = Capacity(slots=2, bytes=1024 * MB, client_slots=1, client_bytes=512 * MB)


class Owner:
    """Stands for what a session keeps (a table, a model)."""


# --- the ledger ----------------------------------------------------------------------------------
def test_one_client_with_many_sessions_keeps_only_its_share():
    """Row 4: ten tabs of one client, each keeping a 40 MB CSV read as 200,000 x 200 floats."""
    jobs, owners = RunSlots(lambda: CAP), [Owner() for _ in range(10)]
    table = 200_000 * 200 * 8                                  # 320 MB decoded
    kept = 0
    for owner in owners:
        try:
            jobs.keep(owner, "1.2.3.4", table, "this table")
            kept += 1
        except BudgetRefused as exc:
            assert "share of 512 MB" in str(exc) and "\n" not in str(exc)
    assert kept == 1 and jobs.used("1.2.3.4")[1] == table
    with pytest.raises(BudgetRefused, match="your open tabs already keep 305 MB"):
        jobs.slot(Need(1, 300 * MB, "1.2.3.4", "this training run"))
    other = Owner()
    jobs.keep(other, "5.6.7.8", 100 * MB)                      # another client is not affected
    del owners, owner
    gc.collect()                                               # sessions gone: their data is free
    assert jobs.used() == (0, 100 * MB)


def test_a_client_beyond_its_share_waits_without_holding_back_others():
    jobs = RunSlots(lambda: CAP)
    first = jobs.slot(Need(1, 10 * MB, "attacker"))
    assert first.try_acquire()
    second = jobs.slot(Need(1, 10 * MB, "attacker"))           # over the attacker's one slot
    honest = jobs.slot(Need(1, 10 * MB, "visitor"))
    assert not second.try_acquire() and honest.try_acquire()   # the visitor is not held back
    first.release()
    honest.release()
    assert second.try_acquire()
    second.release()
    assert jobs.running == jobs.waiting == 0


def test_a_sweep_takes_a_slot_per_worker():
    jobs = RunSlots(lambda: Capacity(2, None, 2, None))
    sweep = jobs.slot(Need(2, 0, "a", "this sweep"))
    assert sweep.try_acquire()
    other = jobs.slot(Need(1, 0, "b"))
    assert not other.try_acquire(timeout=0.05)
    sweep.release()
    assert other.try_acquire()
    other.release()
    with pytest.raises(BudgetRefused, match="needs 3 job slots.*at most 2"):
        jobs.slot(Need(3, 0, "a", "this sweep"))


def test_the_server_total_and_each_share_hold_under_a_multi_client_attack():
    """Six clients (two of them hostile, many threads each) ask for jobs and keep data at once:
    at no moment is the server's total or any client's share exceeded, and every job that fits
    runs in the end."""
    jobs = RunSlots(lambda: CAP)
    worst, done, stop = {"server": (0, 0), "client": 0}, [], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            slots, nbytes = jobs.used()
            worst["server"] = max(worst["server"], (slots, nbytes))
            assert slots <= CAP.slots and nbytes <= CAP.bytes
            for c in ("h0", "h1", "v0", "v1", "v2", "v3"):
                s, b = jobs.used(c)
                assert s <= CAP.client_slots and b <= CAP.client_bytes
            time.sleep(0.0005)

    def visitor(client: str, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(6):
            need = Need(rng.choice([1, 1, 2]) if client.startswith("h") else 1,
                        rng.randrange(1, 400) * MB, client)
            try:
                with jobs.slot(need) as slot:
                    if slot.acquire(poll=0.005):
                        time.sleep(rng.uniform(0.001, 0.01))
                        done.append(client)
            except BudgetRefused:
                pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=visitor, args=(c, 10 * k + i))
               for k, c in enumerate(("h0", "h1", "v0", "v1", "v2", "v3"))
               for i in range(4 if c.startswith("h") else 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stop.set()
    watcher.join(5)
    assert all(c in done for c in ("v0", "v1", "v2", "v3"))      # the honest visitors all ran
    assert jobs.running == jobs.waiting == 0 and jobs.used() == (0, 0)


def test_the_client_is_the_proxy_forwarded_address_only_behind_a_local_proxy():
    headers = {"X-Forwarded-For": "6.6.6.6, 10.0.0.7", "X-Real-IP": "10.0.0.7"}
    assert client_from(None, headers) == "10.0.0.7"              # via the proxy on this machine
    assert client_from(None, {"X-Forwarded-For": "6.6.6.6, 10.0.0.8"}) == "10.0.0.8"
    assert client_from("203.0.113.5", headers) == "203.0.113.5"  # direct: headers not trusted
    assert client_from(None, {}) == "local"


# --- estimates and the maximum duration ---------------------------------------------------------
def test_a_run_past_the_visitors_limit_is_capped_or_refused(monkeypatch):
    import nn.runs.experiment
    monkeypatch.setattr(nn.runs.experiment, "matmul_flops_per_second", lambda: 50e9)
    epochs, why = budget.fit_run(config_from_preset("mnist", epochs=100_000), None, 100_000, 1200)
    assert 1 <= epochs < 1000 and "at most 20 min" in why and "100,000 epochs" in why
    cnn = config_from_preset("mnist-cnn", arch=ROW5)
    with pytest.raises(ValueError, match="One epoch of this network would take about .* h"):
        budget.fit_run(cnn, None, 6, 1200)
    assert budget.run_estimate(cnn).bytes > 512 * MB             # and over a visitor's memory share
    assert budget.fit_run(config_from_preset("mnist-cnn"), None, 6, 1200) == (6, None)


def test_row_6_link_in_hosting_mode_is_capped_and_ends_with_a_message(monkeypatch):
    monkeypatch.setenv("NN_PUBLIC", "1")
    monkeypatch.setenv("NN_MAX_RUN_SECONDS", "2")
    at = open_app(preset="moons", epochs="100000")
    started = time.monotonic()
    at.button(key="train.go").click().run(timeout=60)
    s = at.session_state["train_session"]
    assert not at.exception and not s.running and s.epoch < 100_000
    assert time.monotonic() - started < 20
    text = " ".join(str(e.value) for e in at.info)
    assert "at most 2 s" in text or "limit of 2.0 s per run" in text      # capped, or ended


def test_row_5_network_is_refused_in_hosting_mode_with_a_reason(monkeypatch):
    mnist = Path("/work/shared/data/mnist.npz")
    if not mnist.exists():
        pytest.skip("no MNIST")
    monkeypatch.setenv("MNIST_PATH", str(mnist))
    monkeypatch.setenv("NN_PUBLIC", "1")
    at = open_app(preset="mnist-cnn", arch=ROW5)
    at.button(key="train.go").click().run(timeout=60)
    s = at.session_state["train_session"]
    assert not at.exception and s.model is None and not s.running
    errors = " ".join(str(e.value) for e in at.error)
    assert "would need about" in errors or "One epoch of this network" in errors


# --- Stop within a second, whatever the network ------------------------------------------------
def _row5(rows: int, batch: int = 32):
    rng = np.random.default_rng(0)
    X = rng.random((rows, 784), dtype=np.float32)
    y = rng.integers(0, 10, rows)
    model = build_network(ROW5, (1, 28, 28), 10)
    return model, X, y, TrainConfig(optimizer="adam", batch_size=batch, epochs=1, report_every=3600)


def _stop_after(trainer: Trainer, ready, wait: float) -> float:
    """Run ``trainer`` in a thread, stop it ``wait`` s after ``ready()``; seconds to return."""
    t = threading.Thread(target=lambda: list(trainer.run(1)))
    t.start()
    deadline = time.monotonic() + 120
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(wait)
    asked = time.monotonic()
    trainer.stop()
    t.join(60)
    return time.monotonic() - asked


def test_row_5_trainer_is_built_at_once_and_its_start_up_pass_stops_within_a_second():
    model, X, y, cfg = _row5(2000)
    started = time.monotonic()
    trainer = Trainer(model, X, y, X[:100], y[:100], cfg)
    assert time.monotonic() - started < 1.0                 # nothing heavy in the button callback
    assert _stop_after(trainer, lambda: True, 1.0) < 1.0
    assert trainer.start_loss is None and trainer.steps_done == 0


def test_row_5_training_step_stops_within_a_second():
    model, X, y, cfg = _row5(160, batch=128)                 # a step: several seconds
    trainer = Trainer(model, X, y, None, None, cfg)
    before = [p.copy() for p in model.params]
    assert _stop_after(trainer, lambda: trainer.start_loss is not None, 0.5) < 1.0
    assert trainer.steps_done == 0                            # the step cut short is not taken
    assert all((a == b).all() for a, b in zip(before, model.params))


def test_row_5_training_ends_within_a_second_of_its_page_run_being_interrupted():
    """A closed tab or a click elsewhere: the page sets ``also_stop`` to its run's interruption."""
    model, X, y, cfg = _row5(160, batch=128)
    trainer = Trainer(model, X, y, None, None, cfg)
    gone = threading.Event()
    trainer.also_stop = gone.is_set
    t = threading.Thread(target=lambda: list(trainer.run(1)))
    t.start()
    deadline = time.monotonic() + 120
    while trainer.start_loss is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)                                           # in the middle of the first step
    asked = time.monotonic()
    gone.set()
    t.join(60)
    assert time.monotonic() - asked < 1.0 and trainer.steps_done == 0


def test_row_5_final_evaluation_stops_within_a_second():
    model, X, y, _ = _row5(0)
    rng = np.random.default_rng(1)
    data = types.SimpleNamespace(X_test=rng.random((10_000, 784), dtype=np.float32),
                                 y_test=rng.integers(0, 10, 10_000))
    s = TrainSession()
    s.model = model
    flag = threading.Event()
    result, took = [], []

    def evaluate() -> None:
        result.append(s.evaluate_test(data, flag.is_set))

    t = threading.Thread(target=evaluate)
    t.start()
    time.sleep(1.0)
    asked = time.monotonic()
    flag.set()
    t.join(60)
    took.append(time.monotonic() - asked)
    assert result == [False] and took[0] < 1.0 and not s.test_ready(data)
    with pytest.raises(EvaluationStopped):
        evaluate_in_pieces(model, data.X_test, data.y_test, lambda: True)


# --- sweep workers under hard limits --------------------------------------------------------------
def test_a_sweep_worker_past_its_memory_or_cpu_limit_ends_alone_with_a_message():
    with WorkerPool(1, memory_mb=200, cpu_seconds=2) as pool:
        pool.submit(0, "fits", probe, 100)
        assert pool.events(60) == [("done", "fits", 100 * MB)]
        pool.submit(0, "too big", probe, 1500)
        with pytest.raises(WorkerFailed, match="memory limit of 200 MB"):
            pool.events(60)
    with WorkerPool(1, memory_mb=200, cpu_seconds=1) as pool:
        pool.submit(0, "busy", probe, 0, 60)
        with pytest.raises(WorkerFailed, match="CPU time limit of 1 s"):
            pool.events(60)


# --- memory of one visitor action, in a child process ------------------------------------------
def _peak_in_child(code: str) -> dict:
    prelude = textwrap.dedent("""
        import json, sys
        sys.path.insert(0, 'tests')
        def peak_kb():
            return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
    """)
    out = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_row_2_step_on_200000_moons_full_batch_hidden_512_stays_under_300_mb():
    result = _peak_in_child("""
        from app_pages import open_app
        at = open_app(preset="moons", n_samples="200000", batch_size="full", hidden="512")
        at.segmented_control(key="inside.view").set_value("Step through backprop").run()
        base = peak_kb()
        at.button(key="inside.step").click().run(timeout=120)
        inside = at.session_state["inside_state"]
        print(json.dumps({"mb": (peak_kb() - base) / 1024, "rows": inside.last_step.m,
                          "note": inside.step_note or "", "error": bool(at.exception)}))
    """)
    assert not result["error"] and result["mb"] < 300, result
    assert result["rows"] < 150_000 and "at most" in result["note"]


# --- sweeps on the page ---------------------------------------------------------------------------
def test_a_sweep_over_a_visitors_budget_is_refused_in_plain_words(monkeypatch):
    """Row 4's sweeps: each within the old per-sweep budget, now counted as one visitor's job."""
    from app_pages import open_page
    monkeypatch.setenv("NN_PUBLIC", "1")
    at = open_page("app/pages/sweep.py")
    at.number_input(key="sw_n_samples").set_value(1_000_000)
    at.text_input(key="sw_values").set_value("512 1024")
    at.number_input(key="sw_trials").set_value(3)
    at.number_input(key="sw_epochs").set_value(1)
    at.button(key="sw_run").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "would need about" in errors and "at most 384 MB" in errors
    assert "Traceback" not in errors and "sweep_result" not in at.session_state


# --- turns: a long run gives way to other clients ---------------------------------------------------
def test_a_long_job_gives_its_place_to_another_client_not_to_its_own_next_tab():
    """Row 6 again: one client's 100,000-epoch link in four tabs, and an honest visitor waiting."""
    jobs = RunSlots(lambda: CAP)                                   # 2 slots, 1 per client
    tabs = [jobs.slot(Need(1, MB, "hostile")) for _ in range(4)]
    assert tabs[0].try_acquire() and not tabs[0].turn_over(0.0)    # its own tabs wait: no other client
    other = jobs.slot(Need(1, MB, "other"))
    assert other.try_acquire()                                     # the second slot
    honest = jobs.slot(Need(1, MB, "honest"))
    assert not honest.try_acquire() and honest.ahead == 3          # behind the hostile tabs
    assert tabs[0].turn_over(0.0) and not tabs[0].turn_over(3600.0)
    tabs[0].give_way()
    assert not tabs[1].try_acquire() and honest.try_acquire()      # the honest visitor goes first
    honest.release()
    assert tabs[1].try_acquire()                                   # and the hostile tab after it


def test_a_sweep_gives_its_slots_to_a_waiting_client_and_goes_on_where_it_stopped(monkeypatch):
    """Row 4: a sweep holding the server's slots takes turns too. With another client waiting past
    its turn, the sweep ends its workers after a task, the other client runs, and the sweep then
    finishes the tasks still to do: the same results as a sweep never interrupted."""
    from app_pages import open_page
    from nn.runs.slots import JOBS, Slot
    from nn.sweep import run_sweep
    monkeypatch.setattr("nn.runs.slots.TURN_SECONDS", 0.0)
    gave_way, other_ran = [], []
    give_way = Slot.give_way
    monkeypatch.setattr(Slot, "give_way", lambda self: (gave_way.append(self.ticket), give_way(self)))

    def other_client() -> None:                  # comes once the sweep holds the slots
        deadline = time.monotonic() + 60
        while JOBS.used()[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        with JOBS.slot(Need(1, 0, "other")) as other:
            if other.acquire():
                other_ran.append(len(gave_way))
                time.sleep(0.5)
    at = open_page("app/pages/sweep.py")
    for key, value in (("sw_n_samples", 200), ("sw_trials", 2), ("sw_epochs", 3), ("sw_workers", 2)):
        at.number_input(key=key).set_value(value)
    at.text_input(key="sw_values").set_value("2:4")
    waiter = threading.Thread(target=other_client)
    waiter.start()
    at.button(key="sw_run").click().run(timeout=120)
    waiter.join(10)
    assert not at.exception, at.exception
    assert gave_way and other_ran == [1]           # the other client ran after the sweep gave way
    result = at.session_state["sweep_result"]
    alone = run_sweep(result["sweep"], workers=2)
    assert sorted(len(s["runs"]) for s in result["summary"]) == [2, 2, 2]
    for ours, theirs in zip(result["summary"], alone.summary()):
        assert ours["mean_accuracy"] == theirs["mean_accuracy"]


def test_a_training_run_stops_at_its_turns_end_and_goes_on_where_it_stopped(monkeypatch):
    """The Train page's stop check (app.train.training._Turn): the run stops within a piece of work
    once another client waits past its turn; continued, it ends exactly as a run never stopped."""
    from app.train.training import _Turn
    from nn.data import load_dataset
    moons = load_dataset("moons", n_samples=400)
    X, y = moons.X_train, moons.y_train
    cfg = TrainConfig(optimizer="adam", lr=0.01, batch_size=8, epochs=40, seed=0)
    alone = Trainer(build_network("dense 16", (2,), 2, seed=0), X, y, None, None, cfg)
    list(alone.run())
    jobs = RunSlots(lambda: Capacity(1, None, 1, None))
    mine = jobs.slot(Need(1, 0, "a"))
    assert mine.try_acquire()
    trainer = Trainer(build_network("dense 16", (2,), 2, seed=0), X, y, None, None, cfg)
    jobs.slot(Need(1, 0, "b"))                                      # another visitor waits
    turn = _Turn(mine)
    monkeypatch.setattr("nn.runs.slots.TURN_SECONDS", 0.0)
    trainer.also_stop = lambda: turn() if trainer.steps_done >= 30 else False
    list(trainer.run())
    assert turn.over and 30 <= trainer.steps_done < alone.steps_done
    trainer.also_stop = lambda: False
    list(trainer.run(cfg.epochs - trainer.epochs_done))
    for a, b in zip(trainer.model.params, alone.model.params):
        np.testing.assert_array_equal(a, b)
