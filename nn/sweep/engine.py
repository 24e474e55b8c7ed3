"""Temporary: the names that app/sweep/form.py (the Sweep page's form) still imports from here.
The engine was split by stage (see nn/sweep/__init__.py); delete this file once the form imports
them from ``nn.sweep``."""
from nn.sweep.config import PARAMS, SweepConfig
from nn.sweep.values import parse_values

__all__ = ["PARAMS", "SweepConfig", "parse_values"]
