"""Command line: ``python -m nn train ...`` (and ``python -m nn sweep ...``)."""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from nn.cli.data_options import add_data_options, check_data_options, chosen_settings, table_from_args
from nn.cli.options import add_run_options, add_setting, config_from_args
from nn.cli.sweep import add_sweep_parser
from nn.core.settings import ConfigError
from nn.core.training import Trainer, TrainingDiverged
from nn.data import DatasetUnavailable
from nn.files.io import save
from nn.runs.experiment import bn_piece_note, build_trainer, check_config_limit, load_data
from nn.runs.presets import TUTORIAL_TRACE
from nn.runs.scores import final_scores, scores_line

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {value}")
    return value


def save_path(text: str) -> str:
    """Where ``--save`` will write (NumPy adds ``.npz`` when missing: say so), checked before
    training so that a bad path does not cost the trained model."""
    path = text if text.endswith(".npz") else text + ".npz"
    folder = Path(path).parent
    if Path(text).is_dir() or Path(path).is_dir():
        raise ConfigError("save", f"--save: {text} is a folder; give a file name such as {Path(text) / 'model.npz'}")
    if not folder.is_dir():
        raise ConfigError("save", f"--save: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ConfigError("save", f"--save: cannot write to the folder {folder}")
    return path


def add_cnn_options(p: argparse.ArgumentParser) -> None:
    """A convolutional network instead of the MLP (``train`` only; the sweep trains MLPs)."""
    from nn.core import arch as core_arch
    syntax = core_arch.__doc__.split("\n\n")[2].strip()     # the items' syntax, one per line
    p.add_argument("--arch", metavar="TEXT",
                   help="a convolutional network for image datasets instead of --hidden, e.g. "
                        "--arch \"conv 5x5x16, pool 2, conv 3x3x32, pool 2, dense 128\". Items, "
                        "comma-separated: " + "; ".join(_syntax_line(line) for line in syntax.splitlines())
                        + ". The activation follows each conv and dense layer; a dense output layer "
                          "with one unit per class ends the network (preset mnist-cnn)")
    add_setting(p, "lr_schedule")
    add_setting(p, "label_smoothing")
    add_setting(p, "tta")


def _syntax_line(line: str) -> str:
    """'    conv 5x5x16     a 5x5 convolution ...' -> 'conv 5x5x16: a 5x5 convolution ...'"""
    return ": ".join(" ".join(part.split()) for part in re.split(r"\s{2,}", line.strip(), maxsplit=1)).replace("``", "'")


def _train_command(args: argparse.Namespace) -> int:
    check_data_options(args)
    if args.data:
        args.dataset = "table"                      # so that --task regression is checked against it
    cfg = config_from_args(args)
    table = chosen = None
    if args.data:                                   # the user's own table (nn.cli.data_options)
        cfg, table = table_from_args(args, cfg)
        cfg, chosen = chosen_settings(args, cfg, table)
        if chosen:
            print(f"Training settings chosen for this table (give any training option to choose "
                  f"them yourself): {chosen['summary']}.", file=sys.stderr if args.json else sys.stdout)
    check_config_limit(cfg, table)                  # before loading or building anything
    note = bn_piece_note(cfg, table)
    if note:
        print(note, file=sys.stderr if args.json else sys.stdout)
    save_to = save_path(args.save) if args.save else None
    data = table if table is not None else load_data(cfg)
    trainer = build_trainer(cfg, data)
    log_every = args.log_every if args.log_every is not None else max(1, math.ceil(cfg.epochs / 50))
    monitor = None
    if args.health:                                 # per-layer health after each epoch (nn.views.inspect)
        from nn.views.inspect import HealthMonitor
        monitor = HealthMonitor(trainer.model, data.X_train, data.y_train)
    trace = args.trace or args.preset in TUTORIAL_TRACE
    diverged = _train_with_progress(trainer, cfg.epochs, log_every, quiet=args.json, monitor=monitor,
                                    trace=trace)
    model = trainer.model
    scores = final_scores(model, data, cfg.tta, report=cfg.reported_loss)
    if save_to:
        save(model, save_to)
    summary: dict[str, Any] = {
        "dataset": data.name, "layers": model.layer_sizes, "activation": model.activation,
        "arch": model.meta.get("arch"), "task": data.task,
        "preset": args.preset, "epochs": trainer.epochs_done, "n_params": model.n_params,
        **scores,
        "train_seconds": round(trainer.seconds, 4),
        "seconds_per_epoch": round(trainer.seconds / max(trainer.epochs_done, 1), 6),
        "saved": save_to, "diverged": diverged, "config": cfg.to_dict(),
        "health": monitor.history if monitor else None, "history": trainer.history,
        "table_defaults": chosen, "early_stopping": _early_stopping(trainer),
    }
    print(f"{scores_line(scores)}  trained in "
          f"{trainer.seconds:.2f} s ({summary['seconds_per_epoch']:.3f} s/epoch)"
          + (f"  saved to {save_to}" if save_to else ""), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(summary))
    return EXIT_DIVERGED if diverged else 0


def _early_stopping(trainer: Trainer) -> dict[str, Any] | None:
    """What early stopping did (None when it was off): held-out rows, best epoch, why it stopped."""
    if trainer.early is None:
        return None
    return {"held_out_rows": len(trainer._held_rows), "best_epoch": trainer.early.best_epoch,
            "best_holdout_loss": trainer.early.best_loss if trainer.early.best_epoch is not None else None,
            "stopped_early": trainer.stopped_early}


def _train_with_progress(trainer: Trainer, epochs: int, log_every: int, quiet: bool,
                         monitor: Any = None, trace: bool = False) -> str | None:
    """Run the trainer with a progress bar on stderr and a line every ``log_every`` epochs;
    return the divergence message, if any. A ``monitor`` (``nn.views.inspect.HealthMonitor``) is
    updated after each epoch and its figures printed under the epoch line. ``trace``: the MNIST
    tutorial's lines instead (``_trace_line``), from the first epoch on."""
    from tqdm import tqdm
    out = sys.stderr if quiet else sys.stdout
    first = trainer.epochs_done
    # disable=None: no bar when stderr is not a terminal
    with tqdm(total=epochs, unit="epoch", file=sys.stderr, dynamic_ncols=True, leave=False,
              disable=None) as bar:
        try:
            for rec in trainer.run(epochs):
                bar.n = round(rec["epoch"] - first, 2)
                bar.set_postfix(loss=f"{rec['train_loss']:.4f}", refresh=False)
                bar.refresh()
                done = rec["epoch"] - first
                offset = 1 if trace else 0          # the tutorial's first line is its first step's
                shown = rec["end_of_epoch"] and ((done - offset) % log_every == 0 or done >= epochs)
                if shown:
                    bar.write(_trace_line(rec) if trace else _epoch_line(rec, first + epochs), file=out)
                if monitor is not None and rec["end_of_epoch"]:
                    entry = monitor.update(rec)
                    if shown:
                        from nn.views.inspect import format_health_line
                        bar.write(format_health_line(entry), file=out)
        except TrainingDiverged as exc:
            bar.write(f"error: {exc}", file=sys.stderr)
            return str(exc)
    if trainer.stopped_early:
        print(trainer.stopped_early, file=out)
    return None


def _trace_line(rec: dict[str, Any]) -> str:
    """The MNIST tutorial's line, every digit of both losses (a float's repr): the training loss
    of the step's forward pass, the validation loss after its update (``Trainer``'s record)."""
    return f"Training {rec['train_loss']}, Validation {rec['val_loss']}"


def _epoch_line(rec: dict[str, Any], last_epoch: int) -> str:
    if "train_r2" in rec:                               # regression: R² instead of accuracy
        line = f"epoch {rec['epoch']}/{last_epoch}  loss {rec['train_loss']:.4f}  R² {rec['train_r2']:.4f}"
        if rec["val_loss"] is not None:
            line += f"  test loss {rec['val_loss']:.4f}  test R² {rec['val_r2']:.4f}"
        return line + f"  {rec['seconds']:.2f}s"
    line = (f"epoch {rec['epoch']}/{last_epoch}  loss {rec['train_loss']:.4f}  "
            f"acc {rec['train_accuracy']:.2%}")
    if rec["val_loss"] is not None:
        line += f"  test loss {rec['val_loss']:.4f}  test acc {rec['val_accuracy']:.2%}"
    if rec.get("holdout_loss") is not None:
        line += f"  held-out loss {rec['holdout_loss']:.4f}"
    return line + f"  {rec['seconds']:.2f}s"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one network",
                           description="Train one network and report its test accuracy.")
    add_run_options(train)
    add_cnn_options(train)
    add_data_options(train)
    for name in ("val_share", "patience"):          # early stopping (Trainer; the sweep has none)
        add_setting(train, name)
    train.add_argument("--save", metavar="PATH",
                       help="save the trained model to PATH (.npz is added if missing)")
    train.add_argument("--log-every", type=positive_int, metavar="K",
                       help="print a line every K epochs (default: about 50 lines in all)")
    for name in ("dtype", "reported_loss"):
        add_setting(train, name)
    train.add_argument("--trace", action="store_true",
                       help="print the MNIST tutorial's lines, 'Training <loss>, Validation <loss>' "
                            "with every digit, from the first epoch on, every --log-every epochs "
                            f"(on by default for {', '.join(TUTORIAL_TRACE)})")
    train.add_argument("--health", action="store_true",
                       help="per-layer gradient norms, update/weight ratios, dead ReLUs and saturated "
                            "units after each epoch, with a reading of classic failures; --json gains "
                            "a 'health' list (one entry per epoch)")
    train.set_defaults(func=_train_command, parser=train)
    add_sweep_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        args.parser.error(str(exc))       # exits 2, naming the option and the allowed values
    except (DatasetUnavailable, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0
