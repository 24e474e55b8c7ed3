"""Work in single-use worker processes (nn.hosting.isolated) and training there (nn.runs.remote_training)."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nn.hosting import isolated
from app.train.session import TrainSession
from nn.runs.experiment import config_from_preset, load_data
from nn.hosting.isolated import IsolatedJob, JobFailed, JobStopped, probe, run
from nn.runs.remote_training import STOP_WAIT, JobLimits

ROOT = Path(__file__).resolve().parent.parent

MB = 2**20


def test_a_job_runs_in_another_process_and_gets_its_arrays_intact():
    X = np.arange(12, dtype=np.float32).reshape(3, 4)
    y = np.array([1, 2, 3], dtype=np.intp)
    out = run(probe, {}, {"X": X, "y": y, "empty": np.zeros((0, 4))})
    assert out["pid"] != os.getpid()
    assert out["sums"] == {"X": float(X.sum()), "y": 6.0, "empty": 0.0}


def test_each_job_gets_a_fresh_process():
    pids = {run(probe, {}, {})["pid"] for _ in range(3)}
    assert len(pids) == 3


def test_a_job_beyond_its_memory_ends_with_a_message_and_this_process_goes_on():
    with pytest.raises(JobFailed, match="more memory than the 100 MB"):
        run(probe, {"megabytes": 600}, {}, memory_bytes=100 * MB, what="this probe")
    assert run(probe, {"megabytes": 50}, {}, memory_bytes=100 * MB)["bytes"] == 50 * MB


def test_a_jobs_payload_is_unpickled_under_its_memory_limit():
    """What the payload holds (a trainer's weights and optimizer state) counts against the job's
    memory, as the estimates count it. It was unpickled before the limit was set, so the limit
    was measured from whatever the unpickling left in the heap: a trainer whose packed buffers
    freed their unpickled copies (~16 MB kept by the allocator) got that much more room, trained
    a whole run past its 5 MB estimate sending weights, and failed only at the end."""
    payload = {"blob": np.ones(40 * MB // 8)}                  # 40 MB to unpickle
    with pytest.raises(JobFailed, match="more memory than"):
        run(probe, payload, {}, memory_bytes=5 * MB - isolated.AS_MARGIN, what="this probe")
    assert run(probe, payload, {}, memory_bytes=60 * MB - isolated.AS_MARGIN)["bytes"] == 0


def test_a_job_beyond_its_cpu_time_is_ended_by_the_kernel():
    started = time.monotonic()
    with pytest.raises(JobFailed, match="CPU time"):
        run(probe, {"busy_seconds": 30}, {}, cpu_seconds=1)
    assert time.monotonic() - started < 15


def test_should_stop_ends_a_job_at_once():
    started = time.monotonic()
    with pytest.raises(JobStopped):
        run(probe, {"busy_seconds": 60}, {}, should_stop=lambda: time.monotonic() - started > 0.3)
    assert time.monotonic() - started < 1.0


def test_a_stopped_job_hears_it_and_returns():
    with IsolatedJob(probe, {"busy_seconds": 60}) as job:
        while not any(kind == "started" for kind, _ in job.messages(1.0)):
            pass
        job.stop()
        started = time.monotonic()
        while not job.finished:
            job.messages(0.1)
        assert job.result["stopped"] and time.monotonic() - started < 1.0


def test_a_failing_task_gives_a_message_without_traceback():
    with pytest.raises(JobFailed) as info:
        run(probe, {"megabytes": "lots"}, {})
    assert "Traceback" not in str(info.value) and "ValueError" in str(info.value)


def test_a_worker_is_gone_once_its_job_is_closed():
    job = IsolatedJob(probe, {"busy_seconds": 60})
    pid = job.pid
    job.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# --- training in a worker ----------------------------------------------------------------------
def _session(preset: str, **overrides) -> tuple[TrainSession, object]:
    cfg = config_from_preset(preset, **overrides)
    data = load_data(cfg)
    s = TrainSession()
    s.new_model(cfg, data)
    s.start(cfg.epochs)
    return s, data


def test_training_in_a_worker_gives_exactly_the_in_process_model_and_history():
    results = []
    for job in (None, JobLimits(200 * MB)):
        s, data = _session("moons", epochs=3)
        records = list(s.steps(job, data))
        results.append((s, records))
    (a, ra), (b, rb) = results
    assert [r["train_loss"] for r in ra] == [r["train_loss"] for r in rb]
    assert all(np.array_equal(p, q) for p, q in zip(a.model.params, b.model.params))
    timeless = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]   # noqa: E731
    assert timeless(a.history) == timeless(b.history) and b.trainer.steps_done == a.trainer.steps_done
    assert not b.running and b.epoch == 3
    assert b.test_ready(data)                       # the worker evaluated the test set too


def test_a_cnn_stopped_in_a_worker_continues_exactly_where_it_stopped():
    """A run stopped mid-epoch and continued ends with the same weights as one run through."""
    overrides = dict(dataset="digits", arch="conv 3x3x4, pool 2, dense 16", epochs=2, batch_size=32,
                     augment=None)
    whole, data = _session("mnist-cnn", **overrides)
    list(whole.steps(None, data))
    parts, data = _session("mnist-cnn", **overrides)
    parts.trainer.config = dataclasses.replace(parts.trainer.config, report_every=0.0)   # a record a step
    steps = parts.steps(JobLimits(200 * MB), data)
    for i, _ in enumerate(steps):
        if i == 5:
            parts.stop()                            # Stop, as the page does
    assert 0 < parts.trainer.steps_done < whole.trainer.steps_done
    parts._run_to(parts.target, 2)                  # Continue
    list(parts.steps(JobLimits(200 * MB), data))
    assert parts.trainer.steps_done == whole.trainer.steps_done
    assert all(np.allclose(p, q, atol=1e-6) for p, q in zip(whole.model.params, parts.model.params))


def test_stop_ends_a_worker_run_within_a_second_and_keeps_its_place():
    s, data = _session("moons", epochs=100_000, n_samples=20_000, hidden=[256, 256])
    steps = s.steps(JobLimits(300 * MB), data)
    next(steps)
    s.stop()
    started = time.monotonic()
    for _ in steps:
        pass
    assert time.monotonic() - started < 1.0
    assert not s.running and s.error is None and s.trainer.steps_done > 0


def test_leaving_a_worker_run_mid_way_takes_its_state_back():
    """A rerun closes the page's generator: the child's state still comes back."""
    s, data = _session("moons", epochs=100_000, n_samples=20_000, hidden=[256, 256])
    steps = s.steps(JobLimits(300 * MB), data)
    first = next(steps)
    started = time.monotonic()
    steps.close()
    assert time.monotonic() - started < STOP_WAIT + 0.5
    assert s.trainer.steps_done >= s.history[-1]["step"] >= first["step"]


def test_a_run_beyond_its_memory_estimate_ends_with_a_message_not_the_server():
    s, data = _session("moons", epochs=5, n_samples=2000, hidden=[1024, 1024])   # Adam: ~30 MB of state
    before = [p.copy() for p in s.model.params]
    list(s.steps(JobLimits(memory_bytes=-isolated.AS_MARGIN + 5 * MB), data))   # room for 5 MB
    assert not s.running and "memory" in s.error and "keeps its weights" in s.error
    assert all(np.array_equal(p, q) for p, q in zip(before, s.model.params))


def test_a_shared_array_reaches_a_worker_without_a_copy_and_goes_with_its_array(monkeypatch):
    import gc

    from nn.hosting import shared_arrays
    from nn.hosting.shared_arrays import share, shared_name
    monkeypatch.setattr(shared_arrays, "_serving", False)      # a process that serves no workers
    assert shared_name(share(np.arange(1 << 20, dtype=np.float32))) is None   # keeps its arrays
    monkeypatch.setattr(shared_arrays, "_serving", True)       # as after serve_workers()
    a = share(np.arange(1 << 20, dtype=np.float32))           # 4 MB: in shared memory
    name = shared_name(a)
    assert name is not None and not a.flags.writeable
    assert os.path.exists(f"/dev/shm/{name}")
    out = run(probe, {}, {"X": a})
    assert out["sums"]["X"] == float(a.sum())                  # mapped in the worker, same numbers
    assert os.path.exists(f"/dev/shm/{name}")                  # the worker left the block alone
    del a
    gc.collect()
    assert not os.path.exists(f"/dev/shm/{name}")              # unlinked with the server's array
    assert shared_name(np.zeros(10)) is None                   # small or plain arrays go as bytes


@pytest.mark.parametrize("env, nice", [({"NN_PUBLIC": "1"}, 5), ({}, 0), ({"NN_PUBLIC": "1", "NN_WORKER_NICE": "12"}, 12)])
def test_a_hosted_server_runs_its_jobs_at_a_lower_priority(env, nice):
    """Hosting mode: job processes run at niceness 5, so the pages and the health check come first."""
    code = ("import os; from nn.hosting.isolated import run, probe; "
            "print(run(probe, {}, {})['nice'] - os.nice(0))")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NN_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**clean, **env, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().splitlines()[-1]) == nice
