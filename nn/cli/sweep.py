"""``python -m nn sweep``: train networks over a range of one setting and report mean accuracy.

    python -m nn sweep --preset seed-moons --epochs 100 --param hidden --values 3:40 --trials 3
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from nn.cli.options import add_run_options, config_from_args, setting_help
from nn.core.settings import SETTINGS
from nn.sweep import (MAX_TRIALS, PARAMS, SweepConfig, SweepError, SweepResult, check_workers,
                      parse_values, start_sweep)
from nn.sweep.summary import score_key
from nn.sweep.values import allowed

EXIT_FAILED = 1          # the sweep started but could not finish (a worker or the cluster failed)


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``sweep`` subcommand on ``subparsers`` (from ``add_subparsers``)."""
    p = subparsers.add_parser(
        "sweep", help="train many networks over a range of one setting",
        description="Train networks that differ in one setting, several trials each, and report "
                    "the mean and standard deviation of their test accuracy for every value. "
                    "Trial t uses seed SEED + t. Example: --preset seed-moons --epochs 100 "
                    "--param hidden --values 3:40 --trials 3")
    add_run_options(p)
    p.add_argument("--param", choices=PARAMS, default="hidden",
                   help="the setting to sweep (default hidden: the size of every hidden layer; "
                        "depth: the number of hidden layers, each as wide as the first --hidden)")
    p.add_argument("--values", nargs="+", metavar="V", required=True,
                   help="values: numbers and inclusive ranges START:STOP[:STEP], e.g. 3:40 or "
                        "0.001 0.01 0.1; " + "; ".join(f"{param} takes {allowed(param)}" for param in PARAMS))
    p.add_argument("--trials", type=int, default=3, help=f"trials per value, 1 to {MAX_TRIALS} (default 3)")
    p.add_argument("--workers", type=int, default=-1,
                   help="local worker processes, at most the machine's cores or NN_MAX_WORKERS "
                        "(default -1: all of them; 1: this process only)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers need this "
                        "package). Results from it are unpickled here: use only a cluster you trust")
    dtype = SETTINGS["dtype"]
    p.add_argument(dtype.flag, choices=dtype.choices, default=dtype.default, help=setting_help(dtype, ""))
    p.set_defaults(func=sweep_command, parser=p)
    return p


def sweep_config_from_args(args: argparse.Namespace) -> SweepConfig:
    run = config_from_args(args)
    values = parse_values(args.param, args.values)
    return SweepConfig(run, args.param, values, args.trials, args.dtype).validate()


def sweep_command(args: argparse.Namespace) -> int:
    sweep = sweep_config_from_args(args)
    if not args.scheduler:
        check_workers(args.workers)
    out = sys.stderr if args.json else sys.stdout
    total = len(sweep.values) * sweep.trials
    started = time.perf_counter()
    trials: list[dict[str, Any]] = []
    try:
        with start_sweep(sweep, args.workers, args.scheduler) as run:
            print(run.estimate.describe(), file=out, flush=True)
            while not run.done:
                part = run.poll(1.0)
                if part is not None:
                    trials += part
                    values = dict(sorted((r["value_index"], _fmt(r["value"])) for r in part))
                    print(f"[{len(trials)}/{total} runs] {sweep.param} " + ", ".join(values.values()),
                          file=out, flush=True)
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    result = SweepResult(sweep, trials, time.perf_counter() - started)
    summary = result.summary()
    key = score_key(summary)
    form, head = (".4f", "mean R²   std R²") if key == "r2" else (".2%", "mean acc  std acc")
    print(f"{sweep.param:>10}  {head}  trials", file=out)
    for s in summary:
        mean = "diverged" if s[f"mean_{key}"] is None else f"{s[f'mean_{key}']:{form}}"
        std = "" if s[f"std_{key}"] is None else f"{s[f'std_{key}']:{form}}"
        print(f"{_fmt(s['value']):>10}  {mean:>8}  {std:>7}  {s['trials']}", file=out)
    print(f"{total} runs in {result.seconds:.2f} s", file=out)
    if args.json:
        print(json.dumps(result.to_json()))
    return 0


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)
