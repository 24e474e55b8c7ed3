"""Training settings for a user's table chosen from its size, when the user gives none.

Ten epochs of Adam at 0.001 with batch 32 (the settings' defaults, tuned for the 2-D sets) stop
a 112-row table such as iris after 40 steps: 73.68% test accuracy where scikit-learn's
``MLPClassifier()`` reaches about 97% with 200 epochs. ``choose`` instead aims at a number of
steps that converges, at a learning rate that suits Adam on inputs of order one (standardised), and stops early
on a share of the TRAINING rows (``nn.core.early_stopping``: the test rows are never looked at),
keeping the best weights. ``choose_scaling`` decides from the training rows whether to
standardise the features at all (columns already on one scale of order one are kept as they
are). The page (``app.train.own_data``) and the command line (``--data`` without training
options) show ``TableDefaults.reasons``.

    >>> d = choose(n_train=112, n_features=4, n_classes=3)
    >>> d.settings["batch_size"], d.settings["val_share"] > 0
    (16, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from nn.core.config import RunConfig, TrainConfig

TASKS = ("classification", "regression")
# The training settings a user may give; given any, none is chosen (the user is in charge).
USER_TRAINING = tuple(f.name for f in fields(TrainConfig) if f.name not in ("seed", "report_every"))

# Adam at 0.01 on standardised inputs: Kingma & Ba's 0.001 suits large networks trained for
# many thousands of steps; a small network on a small table settles in a few thousand steps at
# 0.01 (on iris, wine and breast cancer 0.003 gave the same test accuracy in about 1.5x the
# epochs; benchmarks/bench_defaults.py measures the chosen settings).
LR = {"classification": 0.01, "regression": 0.01}
TARGET_STEPS = 2000          # optimizer steps without early stopping (sklearn: 200 epochs)
MIN_EPOCHS, MAX_EPOCHS = 20, 1000
MAX_ROW_PASSES = 5_000_000   # rows x epochs: a large table trains a few epochs, not 1000
ROWS_PER_BATCH = 8           # batch about 1/8 of the rows trained on, a power of two in:
MIN_BATCH, MAX_BATCH = 16, 256
HELD_ROWS = 30               # early stopping holds out at least this many training rows...
MIN_SHARE, MAX_SHARE = 0.1, 0.25       # ... as a share in this range
MIN_TRAIN_FOR_HOLDOUT = 60   # a smaller table trains on every row for the chosen epochs
PATIENCE_SHARE, MIN_PATIENCE = 0.1, 20 # wait 10% of the epochs (at least 20) for a better loss
# L2 weight decay WEIGHT_DECAY_ROWS / n_train: the loss is a mean over rows, so a fixed prior on
# the weights weighs 1/n against each row's term (a Gaussian prior's MAP estimate; scikit-learn
# divides its alpha by the batch the same way): 0.0089 on iris, 0.0023 on breast cancer, 1e-5 on
# 100k rows. Over 10 splits it added 1 point on iris and wine against none.
# A quantity's mean squared error (on the standardised label) is the Gaussian noise model's
# log-likelihood, whose MAP weight decay is sigma^2 / (n tau^2): a noise variance sigma^2 below 1
# (the label's own variance) over a prior variance tau^2 about 1/64 (1/fan-in of a 64-unit layer)
# puts it near 50 / n, and 50 is what diabetes (331 training rows: 0.15) asks for. There its mean
# test R^2 over 10 splits is 0.37 with classification's 1/n, 0.47 with 32/n or 50/n (a linear
# regression's 0.466); on the product's split (10 network seeds) 0.24, 0.35 and 0.37 (linear 0.359).
# On a clean non-linear table (Friedman #1, 750 rows, 5 splits) 1/n gives 0.93, 50/n about 0.87,
# still far above the linear model's 0.75.
WEIGHT_DECAY_ROWS = {"classification": 1.0, "regression": 50.0}
MAX_WEIGHT_DECAY = {"classification": 0.05, "regression": 0.2}
# Feature scaling (``choose_scaling``). Standardising puts every column at spread 1, which is right
# for columns in different units (wine: proline in the hundreds beside hue near 1) but throws away
# the relative spread of columns measured on ONE scale (iris: four lengths in cm, the petal ones
# varying most and telling the species apart; standardised, sepal width's noise weighs as much).
# Columns whose standard deviations lie within one order of magnitude of each other (a ratio of
# at most SAME_SCALE_RATIO) are taken to share a scale. They are kept as they are when that scale
# also suits the network's initialisation, which expects inputs of order one (He et al. 2015:
# weight variance 2 / fan-in keeps unit-sized inputs unit-sized): every column's spread within
# SPREAD_RANGE and its root mean square (sqrt(mean^2 + sd^2), so an offset counts) at most
# MAX_RMS. Over 10 splits iris gained 1.8 points kept as it is (97.4% against 95.5%); wine, breast
# cancer (spreads 2,500x and 200,000x apart) and diabetes (spreads 0.048, pre-scaled) are standardised.
SAME_SCALE_RATIO = 10.0
SPREAD_RANGE = (0.1, 10.0)
MAX_RMS = 10.0
STANDARDISED = "Features standardised (centred and scaled by the training rows' mean and standard deviation)"
STATS_ROWS = 4096            # rows at a time for the columns' statistics (a bounded float64 copy)


@dataclass(frozen=True)
class Scaling:
    """Whether to standardise a table's features, and why (one line)."""
    standardize: bool
    reason: str

    def words(self) -> str:
        return "features standardised" if self.standardize else "features kept as they are (not standardised)"


def choose_scaling(mean: np.ndarray, sd: np.ndarray) -> Scaling:
    """Standardise unless the columns share a scale of order one (see ``SAME_SCALE_RATIO``);
    ``mean`` and ``sd`` are each feature column's over the TRAINING rows."""
    mean, sd = np.asarray(mean, dtype=np.float64), np.asarray(sd, dtype=np.float64)
    low, high = float(sd.min()), float(sd.max())
    rms = float(np.sqrt(mean ** 2 + sd ** 2).max())
    spreads = f"{low:.3g} to {high:.3g}" if len(sd) > 1 else f"{high:.3g}"
    if high > SAME_SCALE_RATIO * low:
        return Scaling(True, f"{STANDARDISED}: their spreads ({spreads}) differ by more than "
                             f"a factor of {SAME_SCALE_RATIO:g}, so the columns do not share one scale.")
    if not (SPREAD_RANGE[0] <= low and high <= SPREAD_RANGE[1] and rms <= MAX_RMS):
        return Scaling(True, f"{STANDARDISED}: the columns share a scale, but not one of order one, "
                             f"which the network's first weights expect (spreads {spreads}, "
                             f"{SPREAD_RANGE[0]:g} to {SPREAD_RANGE[1]:g} wanted; sizes up to "
                             f"{rms:.3g}, at most {MAX_RMS:g} wanted).")
    return Scaling(False, f"Features kept as they are: their spreads ({spreads}) are within a "
                          f"factor of {SAME_SCALE_RATIO:g} of each other and of order one (sizes up to "
                          f"{rms:.3g}), so the columns share a scale the network takes as it is, and "
                          f"the ones that vary most keep their larger say (standardising would give "
                          f"every column the same spread).")


def scaling_of(data: Any) -> Scaling:
    """``choose_scaling`` for a table ``Dataset`` as built (standardised or not: its schema's
    ``mean`` and ``scale`` map the training rows back to the table's own units)."""
    mean, sd = _column_stats(data.X_train)
    if data.schema.get("standardize"):
        scale = np.asarray(data.schema["scale"], dtype=np.float64)
        mean, sd = mean * scale + np.asarray(data.schema["mean"], dtype=np.float64), sd * scale
    return choose_scaling(mean, sd)


def _column_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation (float64, STATS_ROWS rows at a time)."""
    total, squares = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    for start in range(0, len(X), STATS_ROWS):
        part = np.asarray(X[start:start + STATS_ROWS], dtype=np.float64)
        total += part.sum(axis=0)
        squares += (part * part).sum(axis=0)
    mean = total / max(len(X), 1)
    return mean, np.sqrt(np.maximum(squares / max(len(X), 1) - mean * mean, 0.0))


@dataclass(frozen=True)
class TableDefaults:
    """The chosen training settings and, one line each, why; ``scaling`` when the features'
    scaling was chosen too."""
    settings: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    scaling: Scaling | None = None

    def apply(self, cfg: RunConfig) -> RunConfig:
        """``cfg`` with these settings (validated against the settings table)."""
        return RunConfig.from_dict({**cfg.to_dict(), **self.settings}).validate()

    def summary(self) -> str:
        """'Adam, learning rate 0.01, batch 16, weight decay 0.0089, up to 334 epochs, early
        stopping on 25% of the training rows (patience 33 epochs, the best weights kept)'"""
        s = self.settings
        stop = (f", early stopping on {s['val_share']:.0%} of the training rows (patience "
                f"{s['patience']} epochs, the best weights kept)" if s["val_share"] else
                ", no early stopping")
        return (f"{s['optimizer'].capitalize()}, learning rate {s['lr']:g}, batch {s['batch_size']}, "
                f"weight decay {s['weight_decay']:g}, up to {s['epochs']} epochs{stop}"
                + (f"; {self.scaling.words()}" if self.scaling else ""))


def choose(n_train: int, n_features: int, n_classes: int, task: str = "classification",
           scaling: Scaling | None = None) -> TableDefaults:
    """Training settings for a table of ``n_train`` training rows (its test rows are not
    counted: they are never trained or stopped on). ``task``: one of ``TASKS`` (regression uses
    the same rules, the held-out loss then its mean squared error, with a stronger weight decay:
    ``WEIGHT_DECAY_ROWS``). ``scaling``: the features' scaling when it was chosen too
    (``choose_scaling``; its reason comes first)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of: {', '.join(TASKS)}; got {task!r}")
    n_train = max(int(n_train), 1)
    share = _holdout_share(n_train)
    n_fit = max(1, n_train - round(share * n_train))
    batch = _batch(n_fit)
    steps_per_epoch = math.ceil(n_fit / batch)
    epochs = _epochs(n_fit, steps_per_epoch)
    patience = min(epochs, max(MIN_PATIENCE, round(PATIENCE_SHARE * epochs)))
    settings = dict(optimizer="adam", lr=LR[task], lr_schedule="constant", batch_size=batch,
                    epochs=epochs, weight_decay=_weight_decay(n_train, task), l1=0.0, val_share=share,
                    patience=patience)
    reasons = _reasons(n_train, n_fit, batch, steps_per_epoch, epochs, share, patience, task)
    return TableDefaults(settings, ([scaling.reason] if scaling else []) + reasons, scaling)


def _weight_decay(n_train: int, task: str) -> float:
    return float(f"{min(MAX_WEIGHT_DECAY[task], WEIGHT_DECAY_ROWS[task] / n_train):.2g}")


def _holdout_share(n_train: int) -> float:
    if n_train < MIN_TRAIN_FOR_HOLDOUT:
        return 0.0
    return round(min(MAX_SHARE, max(MIN_SHARE, HELD_ROWS / n_train)), 2)


def _batch(n_fit: int) -> int:
    """A power of two near n_fit / ROWS_PER_BATCH, from MIN_BATCH to MAX_BATCH."""
    target = max(n_fit / ROWS_PER_BATCH, 1.0)
    return int(min(MAX_BATCH, max(MIN_BATCH, 2 ** round(math.log2(target)))))


def _epochs(n_fit: int, steps_per_epoch: int) -> int:
    """About TARGET_STEPS steps in MIN_EPOCHS to MAX_EPOCHS epochs, and fewer epochs for a
    table so large that MAX_ROW_PASSES rows would not fit in MIN_EPOCHS (at least one)."""
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TARGET_STEPS / steps_per_epoch)))
    return int(max(1, min(epochs, MAX_ROW_PASSES // n_fit)))


def _large(n_fit: int) -> bool:
    """Whether MAX_ROW_PASSES cut the epochs."""
    return MAX_ROW_PASSES // n_fit < MIN_EPOCHS


def _reasons(n_train: int, n_fit: int, batch: int, steps_per_epoch: int, epochs: int, share: float,
             patience: int, task: str) -> list[str]:
    lines = [f"Learning rate {LR[task]:g}: Adam on inputs of order one settles within a few thousand "
             f"steps at this rate (the usual 0.001 suits long runs on large data).",
             f"Batch {batch} ({steps_per_epoch} steps per epoch on {n_fit:,} rows) and up to "
             f"{epochs} epochs: about {min(steps_per_epoch * epochs, 10**9):,} steps, enough to converge"
             + (" (fewer for a large table, to stay within a few minutes)." if _large(n_fit) else "."),
             _weight_decay_reason(n_train, task)]
    if share:
        lines.append(f"Early stopping: {n_train - n_fit:,} of the {n_train:,} training rows "
                     f"({share:.0%}) are held out; training stops when their loss has not improved "
                     f"for {patience} epochs, and the model keeps the weights where it was lowest. "
                     f"The test rows are never used for this.")
    else:
        lines.append(f"No early stopping: {n_train:,} training rows are too few to hold some out "
                     f"(it starts at {MIN_TRAIN_FOR_HOLDOUT}).")
    return lines


def _weight_decay_reason(n_train: int, task: str) -> str:
    if task == "regression":
        return (f"Weight decay {_weight_decay(n_train, task):g} (about 50 / {n_train:,} training rows): "
                f"a quantity's noise is easy to learn by heart on a small table; this pull towards "
                f"small weights keeps the network near the smooth trend and fades as the table grows.")
    return (f"Weight decay {_weight_decay(n_train, task):g} (about 1 / {n_train:,} training rows): a "
            f"light pull towards small weights that fades as the table grows.")
