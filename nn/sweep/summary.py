"""A sweep's results: every trial (``SweepResult``), the summary per value (mean and standard
deviation of the test accuracy, ``summarize``) and the summary as CSV (``summary_csv``)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from nn.sweep.config import SweepConfig


@dataclass
class SweepResult:
    sweep: SweepConfig
    trials: list[dict[str, Any]]         # one per (value, trial)
    seconds: float

    def summary(self) -> list[dict[str, Any]]:
        return summarize(self.sweep, self.trials)

    def to_json(self) -> dict[str, Any]:
        return {"param": self.sweep.param, "results": self.summary(), "seconds": round(self.seconds, 3),
                "n_runs": len(self.trials), "config": self.sweep.to_dict()}


def summarize(sweep: SweepConfig, trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per value that has results, in the sweep's order: mean and standard deviation
    (sample, ddof=1; 0 for one trial) of the test accuracy over the trials that did not diverge;
    ``trials`` counts the trials, ``runs`` holds each one."""
    by_value: dict[int, list[dict[str, Any]]] = {}
    for r in trials:
        by_value.setdefault(r["value_index"], []).append(r)
    return [_value_summary(sweep.values[i], sorted(by_value[i], key=lambda r: r["trial"]))
            for i in sorted(by_value)]


def _value_summary(value: Any, rs: list[dict[str, Any]]) -> dict[str, Any]:
    """One value's entry from its trials ``rs`` (in trial order); regression trials (with "r2")
    give "mean_r2" and "std_r2" as well, their accuracies being None."""
    entry = {"value": value, **_mean_std(rs, "accuracy")}
    regression = any("r2" in r for r in rs)
    if regression:
        entry.update(_mean_std(rs, "r2"))
    return {
        **entry,
        "trials": len(rs),
        "runs": [{"trial": r["trial"], "seed": r["seed"], "accuracy": r["accuracy"],
                  "test_loss": r["test_loss"], "diverged": r["diverged"],
                  **({"r2": r.get("r2")} if regression else {})} for r in rs],
        "diverged": sum(r["diverged"] for r in rs),
        "seconds": float(sum(r["seconds"] for r in rs)),
    }


def _mean_std(rs: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    """Mean and standard deviation (sample, ddof=1; 0 for one trial) of ``key`` over the trials
    that did not diverge."""
    values = np.array([r[key] for r in rs if not r["diverged"] and r.get(key) is not None], dtype=float)
    return {f"mean_{key}": float(values.mean()) if len(values) else None,
            f"std_{key}": float(values.std(ddof=1)) if len(values) > 1 else (0.0 if len(values) else None)}


def score_key(summary: list[dict[str, Any]]) -> str:
    """What the summary's networks are scored by: "r2" for regression, else "accuracy"."""
    return "r2" if any("mean_r2" in s for s in summary) else "accuracy"


def summary_csv(summary: list[dict[str, Any]]) -> str:
    """The summary as CSV: value, mean and std accuracy, then each trial's accuracy."""
    n = max((s["trials"] for s in summary), default=0)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["value", "mean_accuracy", "std_accuracy", "trials", "diverged", "seconds",
                *[f"accuracy_trial_{t}" for t in range(n)]])
    for s in summary:
        accs = ["" if t["accuracy"] is None else t["accuracy"] for t in s["runs"]]
        w.writerow([s["value"], _blank(s["mean_accuracy"]), _blank(s["std_accuracy"]), s["trials"],
                    s["diverged"], round(s["seconds"], 6), *accs])
    return buf.getvalue()


def _blank(x: float | None) -> Any:
    return "" if x is None else x
