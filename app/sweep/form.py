"""The Sweep page's logic without Streamlit: the form's defaults (the moons tutorial's
experiment), its settings as a sweep, the Values text that suits each swept parameter, which
field the swept parameter overrides, where the sweep runs, messages that name the page's
controls (the engine's name the command line's flags), and what to say of a stopped sweep.
The engine is ``nn.sweep``."""
from __future__ import annotations

import re
from typing import Any

from nn.core.config import RunConfig
from nn.core.settings import SETTINGS, ConfigError
from nn.data.datasets import TOY_DATASETS
from nn.hosting import limits
from nn.runs.presets import get_preset
from nn.sweep import PARAMS, SweepConfig, default_workers, parse_values

# Each setting as its control is labelled on the page (the CLI names it by its flag instead).
LABELS = {
    "dataset": "Dataset", "n_samples": "Samples (2-D sets)", "noise": "Noise (2-D sets)",
    "features_2d": "Input features (2-D sets)",
    "trials": "Trials per value", "param": "Parameter to sweep", "values": "Values",
    "hidden": "Hidden layers", "activation": "Activation", "init": "Init", "optimizer": "Optimizer",
    "lr": "Learning rate", "batch_size": "Batch size", "epochs": "Epochs", "seed": "Seed",
    "momentum": "Momentum", "weight_decay": "Weight decay", "l1": "L1", "workers": "Local workers",
    "scheduler": "Dask scheduler address",
}
# The Values text a parameter starts with when it is chosen (each runs within the default budget).
DEFAULT_VALUES = {"hidden": "3:40", "lr": "0.0001 0.001 0.01 0.1 1", "batch_size": "10 32 100 1000 full",
                  "depth": "1:4"}
# The moons tutorial's experiment: seed-moons, 100 epochs, hidden 3..40, 3 trials.
TUTORIAL = {**get_preset("seed-moons"), "epochs": 100}
DEFAULTS = {
    "dataset": TUTORIAL["dataset"], "n_samples": 5000, "noise": 0.1, "param": "hidden",
    "values": DEFAULT_VALUES["hidden"], "trials": 3, "hidden": " ".join(map(str, TUTORIAL["hidden"])),
    "activation": TUTORIAL["activation"], "init": TUTORIAL["init"], "optimizer": TUTORIAL["optimizer"],
    "lr": TUTORIAL["lr"], "batch_size": str(TUTORIAL["batch_size"]), "epochs": TUTORIAL["epochs"],
    "momentum": 0.9, "weight_decay": 0.0, "l1": 0.0, "seed": 0, "workers": default_workers(), "scheduler": "",
    "features_2d": list(SETTINGS["features_2d"].default),
}
# The field whose value the swept parameter replaces (disabled while it is swept). Sweeping hidden
# or depth still reads Hidden layers (the number of layers, or the size of each), so it stays.
OVERRIDDEN = {"lr": "lr", "batch_size": "batch_size"}


def values_for(new_param: str, old_param: str, text: str, remembered: dict[str, str]) -> str:
    """The Values text once the swept parameter changes from ``old_param`` (whose text was
    ``text``, kept in ``remembered`` for a switch back) to ``new_param``: what was last used for
    it, else its default. Text meant for another parameter ("3:40" hidden units as learning
    rates) is never carried over."""
    if old_param in PARAMS and text.strip():
        remembered[old_param] = text
    return remembered.get(new_param) or DEFAULT_VALUES[new_param]


def which_wins(param: str) -> str:
    """What the swept parameter does to the fields below it, in one line."""
    if param == "hidden":
        return ("Each value is the size of every hidden layer; Hidden layers below gives only how many "
                "layers there are.")
    if param == "depth":
        return ("Each value is a number of hidden layers, each as wide as the first size in Hidden layers "
                "below.")
    return f"The values replace the {LABELS[OVERRIDDEN[param]]} field below, which is not used (greyed out)."


def page_message(text: str) -> str:
    """An error message with the command line's flags replaced by the page's labels:
    "values (--values) for --param lr must be ..." becomes "Values for lr must be ..."."""
    def setting(m: re.Match) -> str:
        return LABELS.get(m.group(1), m.group(1))
    text = re.sub(r"\b([a-z_]+) \(--[a-z][a-z-]*\)", setting, text)
    text = re.sub(r"--param ([a-z_]+)", r"\1", text)
    text = re.sub(r"--([a-z][a-z-]*)", lambda m: LABELS.get(m.group(1).replace("-", "_"), m.group(0)), text)
    return text[:1].upper() + text[1:]


def batch_size(text: str) -> int | str:
    """The batch size from its text box: a whole number (ASCII digits only: "²" counts as a
    digit for str.isdigit but not for int) or 'full'; ConfigError otherwise."""
    bs = str(text).strip().lower()
    if bs == "full":
        return bs
    if not (bs.isascii() and bs.isdigit()):
        raise ConfigError("batch_size", f"Batch size: the batch size must be "
                                        f"{SETTINGS['batch_size'].allowed()}; got {text!r}")
    return int(bs)


def build_sweep(s: dict[str, Any]) -> SweepConfig:
    """The page's settings as a validated sweep; ConfigError names what is wrong. The field that
    the swept parameter overrides is not read (it is greyed out on the page)."""
    hidden = str(s["hidden"]).replace(",", " ").split()
    if not all(h.isascii() and h.isdigit() for h in hidden):       # int("²") raises ValueError
        raise ConfigError("hidden", f"Hidden layers must be whole numbers, e.g. '64' or '32 32'; "
                                    f"got {s['hidden']!r}")
    param = s["param"]
    values = parse_values(param, [s["values"]])
    run = RunConfig(dataset=s["dataset"], n_samples=int(s["n_samples"]), noise=float(s["noise"]),
                    hidden=[int(h) for h in hidden], activation=s["activation"], init=s["init"],
                    optimizer=s["optimizer"],
                    lr=float(values[0] if param == "lr" else s["lr"]),
                    batch_size=values[0] if param == "batch_size" else batch_size(s["batch_size"]),
                    epochs=int(s["epochs"]), momentum=float(s["momentum"]),
                    weight_decay=float(s["weight_decay"]), l1=float(s.get("l1", 0.0)), seed=int(s["seed"]),
                    features_2d=list(s.get("features_2d", DEFAULTS["features_2d"])))
    return SweepConfig(run, param, values, int(s["trials"])).validate()


def describe(sweep: SweepConfig) -> str:
    """The sweep in a few words, to say which settings a result belongs to."""
    values = sweep.values
    shown = ", ".join(map(str, values)) if len(values) <= 6 else \
        f"{values[0]}, {values[1]}, ..., {values[-1]} ({len(values)} values)"
    run = sweep.run
    data = f"{run.dataset}, {run.n_samples} samples" if run.dataset in TOY_DATASETS else run.dataset
    if run.dataset in TOY_DATASETS and run.features_2d != SETTINGS["features_2d"].default:
        data += f", features {' '.join(run.features_2d)}"
    return f"{sweep.param} = {shown}; {sweep.trials} trial(s) each; {data}; {run.epochs} epochs"


def stopped_text(partial: dict[str, Any], stopped: bool) -> str:
    """What to say of a sweep that ended before its last run: by Stop, or by another click."""
    how = "Stopped" if stopped else "Interrupted (another click on the page)"
    text = f"{how} after {partial['trained']} of {partial['total']} runs"
    share = partial.get("progress") or 0.0
    if partial["trained"] == 0:
        return (f"{text} (about {share:.0%} of the work done; runs finish in groups, and none had "
                "finished), so there are no results to show. Its worker processes are ended.")
    return f"{text}; its worker processes are ended. The results so far:"


def scheduler_of(settings: dict) -> str | None:
    """Where the sweep runs: in hosting mode only the operator's cluster (NN_DASK_SCHEDULER) or
    this machine, whatever was sent; locally the address typed in, if any."""
    lim = limits()
    if lim.public:
        return lim.dask_scheduler
    return str(settings.get("scheduler") or "").strip() or None


def error_text(exc: Exception, scheduler: str | None) -> str:
    """The message, naming the page's controls (not the command line's flags), and without the
    operator's cluster address in hosting mode."""
    text = page_message(str(exc))
    if limits().public and scheduler:
        text = text.replace(repr(scheduler), "(the server's cluster)").replace(scheduler, "(the server's cluster)")
    return text
