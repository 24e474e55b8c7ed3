"""Sweeps: lockstep training equals training each network alone, the same sweep gives the same
numbers however it is spread (one process, loky workers, a Dask cluster), and the CLI contract."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nn import MLP, RunConfig, Trainer, TrainConfig, TrainingDiverged
from nn.cli import main
from nn.core.settings import ConfigError
from nn.runs.experiment import load_data
from nn.sweep import (SweepConfig, SweepResult, blocks, parse_values, plan, run_sweep, start_sweep,
                      summary_csv)
from nn.sweep.lockstep import Lockstep, NetSpec, Shared

# 300 points: 225 to train, so batch 16 leaves a partial last batch of 1
BASE = dict(dataset="moons", n_samples=300, noise=0.2, hidden=[6], activation="relu", init="normal",
            optimizer="sgd", lr=0.05, batch_size=16, epochs=4, seed=3)


def small_sweep(param: str = "hidden", values=(2, 5, 9), trials: int = 2, dtype: str = "float32",
                **run) -> SweepConfig:
    return SweepConfig(RunConfig(**{**BASE, **run}), param, list(values), trials, dtype).validate()


def train_alone(cfg: RunConfig, dtype: str) -> MLP:
    """What the sweep claims to reproduce: MLP + Trainer with the trial's seed."""
    data = load_data(cfg)
    model = MLP([data.n_features, *cfg.hidden, data.n_classes], cfg.activation, cfg.init,
                seed=cfg.seed, dtype=dtype)
    tc = TrainConfig(cfg.optimizer, cfg.lr, cfg.batch_size, cfg.epochs, cfg.momentum,
                     cfg.weight_decay, l1=cfg.l1, seed=cfg.seed)
    for _ in Trainer(model, data.X_train, data.y_train, config=tc).run():
        pass
    return model


def by_key(result) -> dict:
    return {(r["value_index"], r["trial"]): r for r in result.trials}


CASES = [
    ("hidden", (2, 5, 9), {}),
    ("lr", (0.01, 0.2), dict(optimizer="adam", weight_decay=0.05)),
    ("hidden", (4, 8), dict(optimizer="momentum", l1=0.01)),
    ("depth", (1, 2), dict(optimizer="adam", lr=0.01, l1=0.003, weight_decay=0.01)),
    ("batch_size", (7, 16, "full"), dict(optimizer="momentum", activation="tanh")),
    ("depth", (1, 2, 3), dict(activation="sigmoid", init="xavier", weight_decay=0.01, hidden=[5])),
    ("depth", (2, 3), dict(optimizer="adam", lr=0.01, init="he", weight_decay=0.01)),
    ("hidden", (3, 8), dict(dataset="digits", optimizer="adam", lr=0.01, init="he", epochs=2)),  # softmax
]


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-9), ("float32", 1e-4)])
@pytest.mark.parametrize("param,values,run", CASES, ids=[c[0] + "-" + c[2].get("dataset", "moons")
                                                         for c in CASES])
def test_each_trial_equals_training_alone(param, values, run, dtype, rtol):
    """Trial t of value v = MLP + Trainer with seed + t: the same test accuracy exactly, and the
    test loss to rounding (the lockstep sums some products in another order than BLAS)."""
    sweep = small_sweep(param, values, dtype=dtype, **run)
    result = run_sweep(sweep, workers=1)
    assert len(result.trials) == len(values) * 2
    data = load_data(sweep.run)
    for r in result.trials:
        cfg = sweep.config_for(r["value"])
        cfg.seed = sweep.trial_seed(r["trial"])
        alone = train_alone(cfg, dtype)
        loss, acc = alone.evaluate(data.X_test, data.y_test)
        assert r["accuracy"] == acc, (r, acc)
        assert r["test_loss"] == pytest.approx(loss, rel=rtol), (r, loss)


def test_lockstep_parameters_match_alone_in_float64():
    """Weights themselves, network by network, after training side by side with different widths."""
    cfg = RunConfig(**{**BASE, "optimizer": "adam", "lr": 0.02})
    data = load_data(cfg)
    shared = Shared(2, 2, "relu", "normal", "adam", 0.9, 0.0, 16, "float64")
    nets = [(3, 0.02), (1, 0.05), (7, 0.01)]               # widths and learning rates differ
    ls = Lockstep([NetSpec((w,), lr) for w, lr in nets], [3, 4], shared)
    ls.train(data.X_train, data.y_train, 4)
    for s, seed in enumerate((3, 4)):
        for k, (w, lr) in enumerate(nets):
            alone = train_alone(RunConfig(**{**BASE, "optimizer": "adam", "lr": lr, "hidden": [w],
                                             "seed": seed}), "float64")
            for a, b in zip(alone.params, ls.model(s, k).params):
                np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-13)


def test_same_numbers_however_spread(tmp_path):
    """One process, two loky workers and every plan give identical trials (bit for bit)."""
    sweep = small_sweep(values=(2, 3, 4, 5), trials=3)
    one = by_key(run_sweep(sweep, workers=1))
    two = by_key(run_sweep(sweep, workers=2))
    assert one == {k: {**v, "seconds": one[k]["seconds"]} for k, v in two.items()}
    assert len(plan(sweep, 1)) < len(plan(sweep, 6))        # trials split over more tasks


def test_a_sweep_stopped_between_tasks_goes_on_where_it_stopped():
    """A sweep that gave its place away (app.sweep.run) starts again without its finished tasks;
    the two parts together are the whole sweep, bit for bit."""
    sweep = small_sweep(values=(2, 3, 4, 5), trials=3)
    whole = by_key(run_sweep(sweep, workers=2))
    with start_sweep(sweep, 2, in_process=True) as first:
        part = first.poll(1.0)
        assert part and first.finished_tasks and not first.done
    with start_sweep(sweep, 2, in_process=True, skip=first.finished_tasks) as rest:
        while not rest.done:
            part += rest.poll(1.0) or []
    assert len(rest.tasks) == len(plan(sweep, 2)) - len(first.finished_tasks)
    joined = by_key(SweepResult(sweep, part, 0.0))
    assert joined == {k: {**v, "seconds": joined[k]["seconds"]} for k, v in whole.items()}
    with pytest.raises(ConfigError, match="nothing is left"):
        start_sweep(sweep, 2, skip=plan(sweep, 2))


def test_dask_local_cluster_gives_the_same_numbers():
    from dask.distributed import LocalCluster
    sweep = small_sweep(values=(2, 3, 4), trials=2)
    local = by_key(run_sweep(sweep, workers=1))
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        dask = by_key(run_sweep(sweep, scheduler=cluster.scheduler_address))
    assert local == {k: {**v, "seconds": local[k]["seconds"]} for k, v in dask.items()}


def test_blocks_do_not_depend_on_workers():
    sweep = SweepConfig(RunConfig(epochs=1), "hidden", list(range(3, 41)), 3).validate()
    assert len(blocks(sweep)) == 2                           # 817 units: two blocks of ~408
    for workers in (1, 2, 4, 16):
        tasks = plan(sweep, workers)
        assert {t.values for t in tasks} == set(blocks(sweep))
        assert sorted(t for task in tasks for t in task.trials) == sorted(list(range(3)) * 2)


def test_diverged_trials_are_reported_not_averaged():
    sweep = small_sweep("lr", (0.05, 100.0), trials=2, activation="leaky_relu")
    summary = run_sweep(sweep, workers=1).summary()
    cfg = sweep.config_for(100.0)
    with pytest.raises(TrainingDiverged):                    # as training alone does
        train_alone(cfg, "float32")
    assert summary[0]["diverged"] == 0 and summary[0]["mean_accuracy"] is not None
    assert summary[1]["diverged"] == 2 and summary[1]["mean_accuracy"] is None
    json.dumps(summary, allow_nan=False)                     # valid JSON: no NaN
    assert "accuracy_trial_1" in summary_csv(summary).splitlines()[0]


def test_parse_values():
    assert parse_values("hidden", ["3:6", "10"]) == [3, 4, 5, 6, 10]
    assert parse_values("hidden", ["2:10:4"]) == [2, 6, 10]
    assert parse_values("lr", ["0.01:0.05:0.01"]) == [0.01, 0.02, 0.03, 0.04, 0.05]
    assert parse_values("lr", ["1e-3,1e-2"]) == [0.001, 0.01]
    assert parse_values("batch_size", ["8", "full"]) == [8, "full"]


@pytest.mark.parametrize("param,tokens,needle", [
    ("hidden", ["0"], "whole numbers from 1 to 4096"),
    ("hidden", ["abc"], "could not read 'abc'"),
    ("hidden", ["6:3"], "could not read '6:3'"),
    ("hidden", ["3", "3"], "must not repeat"),
    ("lr", ["-1"], "0 < lr <= 100"),
    ("depth", ["11"], "whole numbers from 1 to 10"),
    ("batch_size", ["full:3"], "could not read"),
])
def test_bad_values_name_the_option(param, tokens, needle):
    with pytest.raises(ConfigError, match="--values") as info:
        parse_values(param, tokens)
    assert needle in str(info.value)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["sweep", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json_contract(capsys):
    code, out, err = run_cli(capsys, "--dataset", "moons", "--n-samples", "300", "--epochs", "2",
                             "--param", "hidden", "--values", "2:4", "7", "--trials", "2",
                             "--workers", "1", "--json")
    assert code == 0
    doc = json.loads(out.strip().splitlines()[-1])
    assert [r["value"] for r in doc["results"]] == [2, 3, 4, 7]
    for r in doc["results"]:
        assert set(r) >= {"value", "mean_accuracy", "std_accuracy", "trials"}
        assert r["trials"] == 2 and len(r["runs"]) == 2 and 0 <= r["mean_accuracy"] <= 1
        assert r["mean_accuracy"] == pytest.approx(np.mean([t["accuracy"] for t in r["runs"]]))
    assert doc["seconds"] > 0
    assert "mean acc" in err                                  # the table goes to stderr with --json


@pytest.mark.parametrize("args,needle", [
    (["--param", "width", "--values", "3"], "--param: invalid choice: 'width'"),
    (["--values", "0"], "values (--values) for --param hidden must be whole numbers from 1 to 4096"),
    (["--values", "3", "--trials", "0"], "trials (--trials) must be a whole number from 1 to 100"),
    (["--values", "3", "--workers", "0"], "workers (--workers) must be a whole number from 1 to"),
    (["--values", "3", "--lr", "0"], "lr (--lr) must be"),
    (["--param", "lr"], "the following arguments are required: --values"),
])
def test_cli_bad_options_exit_2_with_a_clear_message(capsys, args, needle):
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--n-samples", "100", "--epochs", "1", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert needle in err
    if "--lr" in args:
        assert "(0, 100]" in err                             # the range, from the table of settings


def test_cli_unreachable_scheduler(capsys):
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--n-samples", "100", "--epochs", "1", "--values", "3",
              "--scheduler", "tcp://127.0.0.1:9"])
    assert info.value.code == 2
    assert "could not connect to a Dask scheduler at 'tcp://127.0.0.1:9'" in capsys.readouterr().err
