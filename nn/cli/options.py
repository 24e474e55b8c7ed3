"""The options that ``train`` and ``sweep`` share (dataset, network, training), each made from its
entry in the table of settings (``nn.core.settings.SETTINGS``): its flag, its choices, and help
that states what it allows and its default. ``config_from_args`` turns them into a ``RunConfig``."""
from __future__ import annotations

import argparse
from typing import Any, Callable

from nn.core.config import RunConfig
from nn.core.settings import BUILT_IN_DATASETS, SETTINGS, Setting
from nn.runs.experiment import config_from_preset
from nn.runs.presets import PRESETS

# The settings every run takes on the command line, in the order ``--help`` lists them.
RUN_SETTINGS = ("dataset", "n_samples", "noise", "features_2d", "test_size", "hidden", "activation", "init",
                "optimizer", "momentum", "weight_decay", "l1", "lr", "batch_size", "epochs", "seed")


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options shared by ``train`` and ``sweep``: dataset, network, training."""
    p.add_argument("--preset", choices=list(PRESETS), help="start from a named configuration")
    for name in RUN_SETTINGS:
        add_setting(p, name)
    p.add_argument("--json", action="store_true", help="end with one JSON line of results")


def add_setting(p: argparse.ArgumentParser, name: str, **extra: Any) -> None:
    """``--flag`` for the setting ``name``, with the table's choices and range in its help. Not
    given, it is None: the preset's value, or the default, applies."""
    s = SETTINGS[name]
    p.add_argument(s.flag, **{**_argument(s), **extra})


def _argument(s: Setting) -> dict[str, Any]:
    if s.kind == "choice":
        choices = BUILT_IN_DATASETS if s.name == "dataset" else s.choices   # own data: --data FILE
        return {"choices": choices, "help": setting_help(s, "")}
    if s.kind == "ints":
        return {"type": int, "nargs": "+", "metavar": "N", "help": setting_help(s)}
    if s.kind == "choices":                        # checked with the rest: repeats name the setting
        return {"nargs": "+", "metavar": "NAME", "help": setting_help(s)}
    return {"type": number_arg(s), "help": setting_help(s)}


def setting_help(s: Setting, allowed: str | None = None) -> str:
    """"the learning rate: a number in (0, 100] (default 0.001)" (``%`` escaped for argparse)."""
    allowed = s.allowed() if allowed is None else allowed
    default = " ".join(map(str, s.default)) if isinstance(s.default, list) else s.default
    text = f"{s.help}{': ' + allowed if allowed else ''} (default {default})"
    return text.replace("%", "%%")


def number_arg(s: Setting) -> Callable[[str], Any]:
    """Reads a number of the setting's kind, or one of its words ('full'); the range is checked
    later, with the rest of the configuration."""
    read = float if s.kind == "float" else int

    def parse(text: str) -> Any:
        if text in s.words:
            return text
        try:
            return read(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {s.allowed()}; got {text!r}") from None
    parse.__name__ = s.name          # argparse names the type in some messages
    return parse


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The run's configuration: the preset (if any), then every option given."""
    overrides = {name: getattr(args, name, None) for name in RunConfig.__dataclass_fields__}
    if args.preset:
        return config_from_preset(args.preset, **overrides)
    base = RunConfig().to_dict()
    base.update({k: v for k, v in overrides.items() if v is not None})
    return RunConfig.from_dict(base).validate()
