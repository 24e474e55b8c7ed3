"""The inside view's state for the session's model (``st.session_state["inside_state"]``) and
its placeholders for one run, shared by the section (``app.train.inside``) and its Step through
backprop (``app.train.step``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from nn.core.mlp import MLP
from nn.data import Dataset
from nn.views.inspect import BackpropStep, BackpropStepper, HealthMonitor

STATE, KEPT, K = "inside_state", "inside_kept", "inside."
UNIT_CHOICES = ("most active on the test set", "least active on the test set", "first units")
RULE_WORDS = ("**Learning rule**: after each minibatch, every weight moves a little against its "
              "gradient, `W ← W − lr·dW` (momentum and Adam smooth these steps), so the loss "
              "goes down.")


@dataclass
class InsideState:
    """The inside view's state for one model (discarded when the session's model changes)."""
    model: MLP
    monitor: HealthMonitor
    stepper: BackpropStepper | None = None
    stepper_key: tuple = ()
    last_step: BackpropStep | None = None
    steps_taken: int = 0
    step_error: str | None = None
    step_note: str | None = None     # why the Step's batch is smaller than the one asked for
    began: float = 0.0               # perf_counter when this run started training
    spent: float = 0.0               # seconds the monitor took since then


@dataclass
class Slots:
    """The section's placeholders and its widget values for this run."""
    live: bool
    choice: str | None
    pictures: Any
    body: Any
    units: str = UNIT_CHOICES[0]
    n_units: int = 32
    sample: int = 0
    last_picture: float = field(default=-1e9)
    picture_cost: float = 0.0
    live_slots: tuple | None = None      # (main picture, health picture, readings), made once a run
    live_readings: str = ""


def inspectable(model: Any) -> bool:
    """The inside view covers the library's fully connected networks (``nn.MLP``)."""
    return isinstance(model, MLP) and len(model.layer_sizes) >= 3


def state(s: Any, data: Dataset | None) -> InsideState | None:
    """The session's inside state for ``s.model`` (made on first need, with the monitor's start
    weights the model's weights now)."""
    ss = st.session_state
    if s.model is None or data is None or not inspectable(s.model):
        ss.pop(STATE, None)
        return None
    current = ss.get(STATE)
    if current is None or current.model is not s.model:
        current = InsideState(s.model, HealthMonitor(s.model, data.X_train, data.y_train))
        ss[STATE] = current
    return current
