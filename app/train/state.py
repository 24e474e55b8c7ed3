"""The Train page's logic without Streamlit, so tests can drive it directly (the session's
training itself is ``app.train.session``).

- ``config_to_query`` / ``config_from_query``: the whole ``RunConfig`` as URL query values, read
  against the settings table (``nn.core.settings.SETTINGS``).
- ``model_changed``, ``upload_config``: what a change of settings or an uploaded model means.
- ``history_csv``, ``format_seconds``: the page's files and words.
"""
from __future__ import annotations

import csv
import io
import math
from typing import Any, Mapping

from app.text import plain
from nn.core import Sequential
from nn.core.config import RunConfig
from nn.core.mlp import MLP
from nn.core.settings import AUGMENT_KEYS, BUILT_IN_DATASETS, OWN_DATASETS, SETTINGS, ConfigError
from nn.core.training import Record
from nn.data import TOY_DATASETS
from nn.runs.experiment import config_from_preset
from nn.runs.presets import PRESETS

TRAIN_FIELDS = ("optimizer", "lr", "batch_size", "momentum", "weight_decay", "l1", "seed", "lr_schedule",
                "augment", "val_share", "patience", "label_smoothing", "tta")
HISTORY_COLUMNS = ("epoch", "step", "seconds", "train_loss", "train_accuracy", "val_loss",
                   "val_accuracy", "end_of_epoch", "lr", "change", "train_r2", "val_r2", "holdout_loss",
                   "holdout_accuracy", "holdout_r2", "restored")
DEFAULT_PRESET = "moons"
DATASET_NAMES = BUILT_IN_DATASETS


# --- URL <-> config ------------------------------------------------------------------------------
def config_to_query(cfg: RunConfig) -> dict[str, str]:
    """Every setting as a short string, e.g. ``hidden=32-32``, ``lr=0.01``, ``batch_size=full``,
    ``arch=conv 5x5x16, pool 2, dense 128``, ``augment=2-10-0.1`` (shift, rotate, scale); a
    setting that is None (no ``arch``, no ``augment``) is left out. ``features_2d=x1-x2-x1sq``."""
    out = {}
    for name, value in cfg.to_dict().items():
        if value is None:
            continue
        if name in ("hidden", "features_2d"):
            out[name] = "-".join(str(v) for v in value)
        elif name == "augment":
            out[name] = "-".join(f"{float(value[k]):g}" for k in AUGMENT_KEYS)
        else:
            out[name] = f"{value:g}" if isinstance(value, float) else str(value)
    return out


def _parse(name: str, text: str) -> Any:
    """A URL's text for setting ``name`` as the value the setting's kind takes (``SETTINGS``)."""
    setting = SETTINGS[name]
    if text in setting.words:                     # batch_size=full
        return text
    if setting.kind == "ints":
        return [int(v) for v in text.replace(",", "-").split("-") if v.strip()]
    if setting.kind == "choices":                 # features_2d=x1-x2-x1sq
        return [v.strip() for v in text.replace(",", "-").split("-") if v.strip()]
    if setting.kind == "text":
        return None if text.strip().lower() in ("", "none", "mlp") else text
    if setting.kind == "mapping":
        return _augment(text)
    if setting.kind == "int":
        return int(text)
    if setting.kind == "float":
        return float(text)
    return text


def _augment(text: str) -> dict[str, float] | None:
    if text.strip().lower() in ("", "none", "off"):
        return None
    numbers = [float(v) for v in text.replace(",", "-").split("-") if v.strip()]
    if len(numbers) != len(AUGMENT_KEYS):
        raise ValueError(f"augment takes {len(AUGMENT_KEYS)} numbers")
    return dict(zip(AUGMENT_KEYS, numbers))


def config_from_query(params: Mapping[str, Any], default_preset: str = DEFAULT_PRESET) -> tuple[RunConfig, list[str]]:
    """The config a URL describes (``preset=`` first, then single settings) and a warning for
    each value that was unreadable or out of range (those keep the preset's value) or clamped to
    the range its widget offers (``Setting.widget_range``). Warnings are Markdown with the URL's text escaped."""
    warnings: list[str] = []
    preset = _first(params.get("preset")) or default_preset
    if preset not in PRESETS:
        warnings.append(f"Unknown preset {plain(repr(preset))} in the link; using {default_preset!r}.")
        preset = default_preset
    values = config_from_preset(preset).to_dict()
    for name in RunConfig.__dataclass_fields__:
        text = _first(params.get(name))
        if text is None:
            continue
        try:
            candidate = {**values, name: _parse(name, text)}
            RunConfig.from_dict(candidate).validate()
        except ConfigError as exc:
            if exc.param != name:          # another field is the culprit: keep this one
                values[name] = candidate[name]
                continue
            warnings.append(f"Ignored {name}={plain(repr(text))} from the link: {plain(exc)}")
        except (ValueError, OverflowError):
            warnings.append(f"Ignored {name}={plain(repr(text))} from the link: not a valid value.")
        else:
            values = candidate
            warnings += _clamp_to_widget(values, name)
    try:
        return RunConfig.from_dict(values).validate(), warnings
    except ConfigError as exc:
        warnings.append(f"The link's settings do not fit together ({plain(exc)}); using the "
                        f"{preset!r} preset.")
        return config_from_preset(preset), warnings


def _clamp_to_widget(values: dict[str, Any], name: str) -> list[str]:
    """Where a widget offers less than the library accepts (a slider cannot reach momentum's open
    bound 1), a link's value is clamped to the widget's range with a warning naming it."""
    setting = SETTINGS[name]
    if setting.widget is None:
        return []
    low, high = setting.widget_range
    value = values[name]
    if low <= value <= high:
        return []
    values[name] = min(max(value, low), high)
    return [f"{name}={value:g} from the link is outside the page's range ({low:g} to {high:g}); "
            f"using {values[name]:g}."]


def _first(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return None if value is None else str(value)


def model_changed(old: RunConfig, new: RunConfig) -> list[str]:
    """Settings that shape the network or its data and differ between ``old`` and ``new``."""
    fields = ["dataset", "arch", "activation", "init", "task"]
    if old.arch is None and new.arch is None:
        fields.insert(1, "hidden")           # a CNN has no hidden sizes of this kind
    if old.dataset == new.dataset and old.dataset in TOY_DATASETS:
        fields += ["n_samples", "noise", "test_size", "features_2d"]
    elif old.dataset == new.dataset == "points":
        fields.append("features_2d")
    elif old.dataset == new.dataset == "digits":
        fields.append("test_size")
    a, b = old.to_dict(), new.to_dict()
    return [f for f in fields if a[f] != b[f]]


def model_settings(model: MLP | Sequential) -> dict[str, Any]:
    """The settings that describe ``model``'s network (for a model read from a file): ``hidden``
    for an MLP, ``arch`` for a ``Sequential`` (ValueError if it has no architecture text)."""
    if isinstance(model, Sequential):
        arch = model.meta.get("arch")
        if not isinstance(arch, str):
            raise ValueError("this network file does not say its architecture ('arch'), so the page "
                             "cannot show or continue its settings")
        init = model.init if model.init in ("he", "xavier") else "he"
        return dict(arch=arch, activation=model.activation, init=init)
    return dict(hidden=model.layer_sizes[1:-1], activation=model.activation, init=model.init,
                arch=None, augment=None)


def upload_config(model: MLP | Sequential, current: RunConfig) -> tuple[RunConfig, str | None]:
    """The settings to use an uploaded ``model`` with, and a note when they switch the dataset.

    A model file records the dataset and settings it was trained with (``meta['config']``): the
    page takes them, so the model is evaluated and continued on its own data, never on whatever
    dataset the page happened to show. A file without them keeps the page's settings. A model
    trained on the visitor's own table or points needs that data chosen first (ValueError)."""
    saved = model.meta.get("config")
    cfg = current
    if isinstance(saved, dict):
        try:
            cfg = RunConfig.from_dict({**current.to_dict(), **saved}).validate()
        except (ConfigError, TypeError, ValueError):
            cfg = current
    elif model.meta.get("dataset") in DATASET_NAMES:
        cfg = RunConfig.from_dict({**current.to_dict(), "dataset": model.meta["dataset"]})
    if cfg.dataset in OWN_DATASETS and cfg.dataset != current.dataset:
        what = "table" if cfg.dataset == "table" else "drawn points"
        raise ValueError(f"this model was trained on your own {what}: choose that dataset (and "
                         f"give it the same data) first, then upload the model again")
    cfg = RunConfig.from_dict({**cfg.to_dict(), **model_settings(model)}).validate()
    note = None
    if cfg.dataset != current.dataset:
        note = (f"Switched to **{cfg.dataset}**, the dataset this model was trained on, with the "
                f"settings it was trained with.")
    return cfg, note


def describe_network(model: MLP | Sequential) -> str:
    """'784-256-10' for an MLP, 'CNN conv 5x5x16, pool 2, ... (80,202 parameters)' otherwise."""
    if isinstance(model, Sequential):
        return f"CNN {model.meta.get('arch') or 'network'} ({model.n_params:,} parameters)"
    return "-".join(map(str, model.layer_sizes))


def history_csv(history: list[Record]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


def format_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def layers_text(model: MLP | Sequential | None) -> str:
    """'784-256-10' for an MLP (its layer sizes), 'cnn' for any other network (file names)."""
    return "-".join(map(str, model.layer_sizes)) if isinstance(model, MLP) else "cnn"
