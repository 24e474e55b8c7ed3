"""A sweep's values: what each swept parameter allows (read from the table of settings,
``nn.core.settings``), checking a list of values, and reading them from text ("3:40", "0.01 0.1").

``depth`` is not a setting of its own: it is the number of hidden layers, so its range is the
table's ``SETTINGS["hidden"].count``; a ``hidden`` value is one layer's size.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from nn.core.settings import SETTINGS, ConfigError, Setting

MAX_VALUES = 500


def value_setting(param: str) -> Setting:
    """What one value of ``param`` must be, as a setting: ``hidden`` one layer's size, ``depth``
    a number of hidden layers (``lr`` and ``batch_size`` as in the table)."""
    hidden = SETTINGS["hidden"]
    if param == "depth":
        low, high = hidden.count
        return Setting("depth", "int", len(hidden.default), "the number of hidden layers", low=low, high=high)
    if param == "hidden":
        return Setting("hidden", "int", hidden.default[0], "one hidden layer's size", low=hidden.low,
                       high=hidden.high)
    return SETTINGS[param]


def allowed(param: str) -> str:
    """What ``param``'s values may be, in words: "whole numbers from 1 to 4096"."""
    s = value_setting(param)
    low, high = _text(s.low), _text(s.high)
    if s.kind == "float":
        below, above = ("<" if s.open_low else "<="), ("<" if s.open_high else "<=")
        return f"numbers with {low} {below} {param} {above} {high}"
    words = "".join(f" or {w!r}" for w in s.words)
    return f"whole numbers from {low} to {high}{words}"


def _text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def value_ok(param: str, v: Any) -> bool:
    return value_setting(param).item_ok(v)


def check_values(param: str, values: Sequence[Any]) -> list[Any]:
    """The values as a list, or ConfigError naming --values and what ``param`` allows."""
    values = list(values)
    if not 1 <= len(values) <= MAX_VALUES:
        raise ConfigError("values", f"values (--values) takes 1 to {MAX_VALUES} values; got {len(values)}")
    if len(set(map(str, values))) != len(values):
        raise ConfigError("values", f"values (--values) must not repeat; got {values}")
    for v in values:
        if not value_ok(param, v):
            raise ConfigError("values", f"values (--values) for --param {param} must be {allowed(param)}; "
                                        f"got {v!r}")
    return [_plain(param, v) for v in values]


def _plain(param: str, v: Any) -> Any:
    """A Python number (not a NumPy one), or the word as it is."""
    if isinstance(v, str):
        return v
    return float(v) if value_setting(param).kind == "float" else int(v)


def parse_values(param: str, tokens: Sequence[str]) -> list[Any]:
    """Values from text: numbers, and inclusive ranges ``START:STOP`` or ``START:STOP:STEP``
    (``3:40`` is 3, 4, ..., 40; ``0.01:0.05:0.01`` is 0.01, 0.02, ..., 0.05). ConfigError naming
    --values: text that is not a number or a range, a range that leaves what ``param`` allows
    (out of range) or that gives more than MAX_VALUES values."""
    out: list[Any] = []
    for token in (t for tok in tokens for t in str(tok).replace(",", " ").split()):
        try:
            out += _parse_range(param, token) if ":" in token else [_number(param, token)]
        except ConfigError:
            raise                         # readable, but out of range or too many: it says so
        except ValueError as exc:
            why = f": {exc}" if str(exc).startswith("a range") else ""
            raise ConfigError("values", f"values (--values) for --param {param} must be {allowed(param)}, "
                                        f"or ranges START:STOP[:STEP]; could not read {token!r}{why}") from None
    return check_values(param, out)


def _number(param: str, text: str) -> Any:
    s = value_setting(param)
    if text in s.words:
        return text
    return float(text) if s.kind == "float" else int(text)


def _parse_range(param: str, token: str) -> list[Any]:
    parts = [_number(param, p) for p in token.split(":")]
    if len(parts) not in (2, 3) or any(isinstance(p, str) for p in parts):
        raise ValueError(token)
    start, stop = parts[0], parts[1]
    step = parts[2] if len(parts) == 3 else 1
    if not all(math.isfinite(x) for x in parts):
        raise ValueError(token)
    if stop < start or step <= 0:
        raise ValueError("a range needs START <= STOP and a STEP above 0")
    for end in (start, stop):
        if not value_ok(param, end):
            raise ConfigError("values", f"values (--values): {token} is out of range for --param "
                                        f"{param}, which takes {allowed(param)} ({end:g} is not)")
    return _range(param, token, start, stop, step)


def _range(param: str, token: str, start: Any, stop: Any, step: Any) -> list[Any]:
    """START, START + STEP, ... up to STOP; ConfigError if that is more than MAX_VALUES."""
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > MAX_VALUES:
        hint = ""
        if param != "lr":
            hint = f" (e.g. {start}:{stop}:{math.ceil((stop - start + 1) / MAX_VALUES)})"
        raise ConfigError("values", f"values (--values): {token} gives {count} values for --param "
                                    f"{param}, and a sweep takes at most {MAX_VALUES}: use a larger "
                                    f"step{hint} or a shorter range")
    if param == "lr":
        return [float(f"{start + i * step:.12g}") for i in range(count)]
    return [start + i * step for i in range(count)]
