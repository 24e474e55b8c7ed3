"""A sweep's configuration (``SweepConfig``): the base ``RunConfig``, the parameter to vary, its
values, the trials per value and the float precision; checked in one place (``validate``).

Trial t of every value uses seed ``seed + t`` for both initialisation and shuffling, so trial t of
value v is exactly what ``python -m nn train <base options> --<param> v --seed <seed + t>`` trains.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nn.core.settings import SETTINGS, ConfigError
from nn.core.config import RunConfig
from nn.sweep.values import check_values

PARAMS = ("hidden", "lr", "batch_size", "depth")
DTYPES = SETTINGS["dtype"].choices
MAX_TRIALS = 100
MAX_SEED = SETTINGS["seed"].high


@dataclass
class SweepConfig:
    """A sweep: the base configuration, the parameter to vary, its values, trials per value."""
    run: RunConfig
    param: str = "hidden"
    values: list[Any] = field(default_factory=lambda: list(range(3, 41)))
    trials: int = 3
    dtype: str = SETTINGS["dtype"].default

    def validate(self) -> "SweepConfig":
        """This sweep, its values made plain lists of numbers; ConfigError naming the option."""
        if self.param not in PARAMS:
            raise ConfigError("param", f"param (--param) must be one of: {', '.join(PARAMS)}; "
                                       f"got {self.param!r}")
        self.values = check_values(self.param, self.values)
        _check_trials(self.trials)
        SETTINGS["dtype"].check(self.dtype)
        self.run.validate()
        if self.run.arch is not None:
            raise ConfigError("arch", "a sweep trains MLPs (networks in lockstep); a network given by "
                                      f"--arch ({self.run.arch!r}) cannot be swept")
        if self.run.seed + self.trials - 1 > MAX_SEED:
            raise ConfigError("seed", f"seed (--seed) plus trials must stay below 2**32; got "
                                      f"{self.run.seed} + {self.trials}")
        return self

    def trial_seed(self, trial: int) -> int:
        return self.run.seed + trial

    def config_for(self, value: Any) -> RunConfig:
        """The base configuration with the swept parameter set to ``value``."""
        values = self.run.to_dict()
        if self.param == "hidden":
            values["hidden"] = [value] * len(self.run.hidden)     # every hidden layer
        elif self.param == "depth":
            values["hidden"] = [self.run.hidden[0]] * value        # ``value`` layers of the first width
        else:
            values[self.param] = value
        return RunConfig.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.param, "values": list(self.values), "trials": self.trials,
                "dtype": self.dtype, "run": self.run.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SweepConfig":
        return cls(RunConfig.from_dict(d["run"]), d["param"], list(d["values"]), d["trials"], d["dtype"])


def _check_trials(trials: Any) -> None:
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or not 1 <= trials <= MAX_TRIALS:
        raise ConfigError("trials", f"trials (--trials) must be a whole number from 1 to "
                                    f"{MAX_TRIALS}; got {trials!r}")
