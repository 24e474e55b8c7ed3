"""Streamlit side of the inside view (``nn.views.inspect``): what every neuron, weight and gradient is
doing, on the Train page (live pictures, interactive figures, a Step through backprop) and on the
Draw page (each layer's activations for the drawing, ``app.draw.inside``). The Step through
backprop is ``app.train.step``.

The Train page calls four hooks (``app.train.training``, ``app.train.live``): ``layout`` once per run (the section's
widgets and placeholders), ``follow`` around the trainer's records (a ``HealthMonitor`` created
before the first step, updated within ``HEALTH_BUDGET`` of the training time), and ``draw`` at
each redraw. Everything that touches the model runs between training steps, in the page's run
that holds ``TrainSession.lock`` (the Step button takes the lock itself).

State: ``st.session_state["inside_state"]`` (an ``InsideState`` for the session's model: the
monitor, the stepper and the last step shown) and ``inside_kept`` (widget values, kept when the
visitor leaves the page: ``app.keep``). ``NN_INSIDE_LIVE=1`` (or ``0``) sets the live pictures' default for
every dataset (the benchmarks measure both).
"""
from __future__ import annotations

import os
import time
from typing import Any, Iterator

import numpy as np
import streamlit as st

from app.keep import kept
from app.train import step
from app.train.current import W, current_config
from app.train.inside_state import K, KEPT, RULE_WORDS, STATE, UNIT_CHOICES, InsideState, Slots, inspectable, state
from nn.core.mlp import MLP
from nn.core.settings import ConfigError
from nn.data import Dataset
from nn.views.inspect import first_layer_weight_images, neuron_maps
from nn.views.inspect import figures
from nn.views.inspect import pictures as ip
from nn.views.inspect.neurons import unit_activity

HEALTH_BUDGET = 0.01        # share of training time the health monitor may take while it trains
PICTURE_BUDGET = 0.03       # ... and the live inside pictures (at most one per MIN_GAP seconds)
MIN_GAP = 0.7
MAX_HISTORY = 1000          # health entries kept (thinned by half beyond)
NETWORK_UNITS = 12          # neurons drawn per layer (those that matter most)
SAMPLE_ROWS = 1000          # test rows for "most active" units
NEURONS, WEIGHTS, HEALTH, HISTOGRAMS, STEP = ("Neurons", "First-layer weights", "Health",
                                              "Weights vs start", "Step through backprop")

# Said only under the network's diagram (2-D data), the one picture with lines: the weight tiles
# (images) have their own words and a table's network (iris) has no main picture
COLOURS = ("**Colours**: red is positive (a neuron's high output, a positive weight), blue is "
           "negative, white is zero. Thicker, darker lines are larger weights.")
NEURON_WORDS = ("Each small square is one neuron's output over the same plane as the decision "
                "boundary: a neuron computes `a = f(w1·x1 + w2·x2 + … + b)`, a weighted sum of the "
                "layer before plus its **bias** `b` (its own offset: it moves where the neuron "
                "switches on), passed through the activation `f`.")
HEALTH_WORDS = ("Health per layer: gradient size, how much the weights move per record, dead or "
                "saturated units.")


def _live_default(data: Dataset | None) -> bool:
    env = os.environ.get("NN_INSIDE_LIVE")
    if env in ("0", "1"):
        return env == "1"
    return data is not None and data.two_d


def _choices(data: Dataset | None) -> list[str]:
    first = []
    if data is not None and data.two_d:
        first = [NEURONS]
    elif data is not None and data.image_shape is not None:
        first = [WEIGHTS]
    return [*first, HEALTH, HISTOGRAMS, STEP]


def covered(s: Any) -> bool:
    """Whether the section applies: the session's model is an MLP (or, before there is one, the
    settings make one). A CNN has its own view (``app.train.cnn_view``: filters and feature maps)
    and gets none of this section's widgets: none of them would work for it."""
    if s.model is not None:
        return inspectable(s.model)
    try:
        return not current_config().arch
    except (ConfigError, KeyError, ValueError):  # settings that don't fit: the page says why;
        return st.session_state.get(W + "kind") != "CNN"   # a CNN's unreadable text is still a CNN


def layout(s: Any, data: Dataset | None) -> Slots | None:
    """The section's heading, its widgets (drawn once per run) and placeholders (None: not for
    this network, see ``covered``)."""
    current = st.session_state.get(STATE)
    if current is not None and current.model is not s.model:      # reset, a new or uploaded model
        st.session_state.pop(STATE)
    if not covered(s):
        return None
    st.subheader("Inside the network")
    left, right = st.columns([1, 2.4])
    live = left.toggle("Show the inside view while training", **kept(K + "live", _live_default(data), KEPT),
                       help="Live pictures of the neurons (2-D sets) or first-layer weights (images) "
                            "and the health of each layer, redrawn about once a second.")
    options = _choices(data)
    view = kept(K + "view", None, KEPT)
    if st.session_state[view["key"]] not in options:
        st.session_state[view["key"]] = None
    choice = right.segmented_control("Look closer (interactive)", options, **view)
    slots = Slots(live, choice, None, None)
    if choice == WEIGHTS:
        a, b = st.columns([2, 1])
        slots.units = a.radio("Which units", UNIT_CHOICES, horizontal=True,
                              **kept(K + "units", UNIT_CHOICES[0], KEPT))
        slots.n_units = b.slider("How many", 16, 64, step=8, **kept(K + "n_units", 32, KEPT))
    elif choice == STEP:
        step.controls(s, slots)
    slots.pictures, slots.body = st.empty(), st.empty()
    if s.model is None and choice != STEP:
        slots.pictures.caption("Train a network (or take a Step in 'Step through backprop') to look "
                               "inside it.")
    return slots


def follow(s: Any, data: Dataset, records: Iterator[dict]) -> Iterator[dict]:
    """The trainer's ``records``, passed through; the health monitor is made before the first
    step and updated as they come, within ``HEALTH_BUDGET`` of the time."""
    inside = state(s, data)
    if inside is None:
        yield from records
        return
    inside.began, inside.spent = time.perf_counter(), 0.0
    for record in records:
        now = time.perf_counter()
        if inside.spent <= HEALTH_BUDGET * (now - inside.began):
            update_monitor(inside, record)
            inside.spent += time.perf_counter() - now
        yield record


def update_monitor(inside: InsideState, record: dict | None) -> None:
    history = inside.monitor.history
    inside.monitor.update(record)
    if len(history) > MAX_HISTORY:
        history[:] = history[::2]


def draw(slots: Slots | None, s: Any, data: Dataset | None, final: bool) -> None:
    """The live pictures while training runs (when on, within ``PICTURE_BUDGET``); when it
    stops, the chosen interactive view, else the same still pictures."""
    if slots is None or (s.model is not None and not inspectable(s.model)):
        return
    inside = state(s, data)
    if inside is None:
        if slots.choice != STEP:
            slots.pictures.caption("Train a network (or take a Step in 'Step through backprop') "
                                   "to look inside it.")
        return
    if not final:
        if slots.live:
            _live_pictures(slots, inside, data)
        return
    last = s.history[-1] if s.history else None
    if last is not None and (not inside.monitor.history or inside.monitor.history[-1]["step"] != last["step"]):
        update_monitor(inside, last)            # the model as training left it
    if slots.choice is None:
        _still_pictures(slots.pictures, inside, data, slots)
    else:
        slots.pictures.empty()
        with slots.body.container():
            _chosen_view(slots, s, inside, data)


def _live_pictures(slots: Slots, inside: InsideState, data: Dataset) -> None:
    """Redraw only the two pictures (and the readings when they change): the layout and its
    captions are sent once a run, since every element sent costs the browser work while the
    laptop's cores train."""
    now = time.perf_counter()
    if now - slots.last_picture < max(MIN_GAP, slots.picture_cost / PICTURE_BUDGET):
        return
    picture, words = _main_picture(inside, data, slots)
    history = inside.monitor.history
    if slots.live_slots is None:
        with slots.pictures.container():
            left, right = st.columns([1.5, 1])
            slots.live_slots = (left.empty(), right.empty(), right.empty())
            if words:                          # none for a table's network (no main picture)
                left.caption(_joined(words, _colour_words(data)))
            right.caption(HEALTH_WORDS)
    main, health, readings = slots.live_slots
    if picture is not None:
        main.image(picture)
    if history:
        health.image(ip.health_image(history))
        text = readings_text(history[-1])
        if text != slots.live_readings:
            readings.markdown(text)
            slots.live_readings = text
    slots.last_picture = time.perf_counter()
    slots.picture_cost = slots.last_picture - now


def _units(model: MLP, data: Dataset, how: str, n: int) -> np.ndarray:
    n = min(n, model.layer_sizes[1])
    if how == UNIT_CHOICES[2]:
        return np.arange(n)
    activity = unit_activity(model, data.X_test[:SAMPLE_ROWS])
    order = np.argsort(activity if how == UNIT_CHOICES[1] else -activity, kind="stable")
    return order[:n]


def _main_picture(inside: InsideState, data: Dataset, slots: Slots) -> tuple[np.ndarray | None, str]:
    """The main picture and the words that describe it; none for data that is neither images
    nor 2-D."""
    model = inside.model
    if data.image_shape is not None:
        units = _units(model, data, slots.units, slots.n_units)
        img = ip.weights_image(first_layer_weight_images(model, data.image_shape, units), units,
                               title=f"First-layer weights, {slots.units} ({len(units)} units)")
        return img, ("Each tile is one first-layer unit's incoming weights, laid out like the image: "
                     "ink on a red pixel raises the unit's input, ink on a blue pixel lowers it. They "
                     "start as noise and become strokes as the network learns.")
    if data.two_d:
        maps = neuron_maps(model, data.plane_train, 40)
        return ip.network_image(model, maps, height=600, max_units=NETWORK_UNITS), NEURON_WORDS
    return None, ""


def _colour_words(data: Dataset) -> str:
    """``COLOURS`` where the main picture is the network's diagram (2-D data), else nothing."""
    return COLOURS if data.two_d else ""


def _joined(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _still_pictures(slot: Any, inside: InsideState, data: Dataset, slots: Slots) -> None:
    picture, words = _main_picture(inside, data, slots)
    history = inside.monitor.history
    with slot.container():
        left, right = st.columns([1.5, 1])
        if picture is not None:
            left.image(picture, caption=words)
        if history:
            right.image(ip.health_image(history), caption=HEALTH_WORDS)
            right.markdown(readings_text(history[-1]))
        left.caption(_joined(_colour_words(data), RULE_WORDS))


def readings_text(entry: dict) -> str:
    readings = entry["readings"]
    if not readings:
        return ":material/check_circle: No warning signs in the latest reading."
    return "\n".join(f"- :material/warning: {r['text']}" for r in readings)


def _chosen_view(slots: Slots, s: Any, inside: InsideState, data: Dataset) -> None:
    model, monitor = inside.model, inside.monitor
    if slots.choice == NEURONS:
        fig = figures.network_figure(model, neuron_maps(model, data.plane_train), height=600, max_units=NETWORK_UNITS)
        st.plotly_chart(fig, width="stretch",
                        key="inside.network")
        st.caption(NEURON_WORDS + " Hover over a neuron for its incoming weights, its bias and its "
                   "formula with the numbers at the centre of the plane. " + COLOURS)
    elif slots.choice == WEIGHTS:
        picture, words = _main_picture(inside, data, slots)
        st.image(picture, caption=words)
    elif slots.choice == HEALTH:
        if not monitor.history:
            update_monitor(inside, None)
        st.plotly_chart(figures.health_figure(monitor.history), width="stretch", key="inside.health")
        st.markdown(readings_text(monitor.history[-1]))
        st.caption("Gradient norm: how strongly the loss pulls on each layer's weights. Update / "
                   "weight: how much the weights changed since the previous reading, against their "
                   "size. A dead ReLU is never active on a sample of the data: it no longer learns.")
    elif slots.choice == HISTOGRAMS:
        st.plotly_chart(figures.histogram_figure(monitor.histograms()), width="stretch", key="inside.hist")
        st.caption("Each layer's weights now (colour) against when this model was first shown here "
                   "(grey): training spreads them out from their random start.")
    elif slots.choice == STEP:
        step.view(slots, inside)
