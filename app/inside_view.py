"""Streamlit side of the inside view (``nn.views.inspect``): what every neuron, weight and gradient is
doing, on the Train page (live pictures, interactive figures, a Step through backprop) and on the
Draw page (each layer's activations for the drawing).

The Train page calls four hooks (``app.train_view``): ``layout`` once per run (the section's
widgets and placeholders), ``follow`` around the trainer's records (a ``HealthMonitor`` created
before the first step, updated within ``HEALTH_BUDGET`` of the training time), and ``draw`` at
each redraw. Everything that touches the model runs between training steps, in the page's run
that holds ``TrainSession.lock`` (the Step button takes the lock itself).

State: ``st.session_state["inside_state"]`` (an ``InsideState`` for the session's model: the
monitor, the stepper and the last step shown) and ``inside_kept`` (widget values, kept when the
visitor leaves the page). ``NN_INSIDE_LIVE=1`` (or ``0``) sets the live pictures' default for
every dataset (the benchmarks measure both).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import streamlit as st

from app.control_labels import page_text
from nn.data import Dataset, DatasetUnavailable
from nn.hosting import cores
from nn.runs import budget
from nn.runs.config import ConfigError
from nn.runs.slots import JOBS, BudgetRefused, Need
from nn.views.draw import predict_drawing
from nn.views.inspect import (BackpropStep, BackpropStepper, HealthMonitor, explain_input,
                              first_layer_weight_images, most_active_units, neuron_maps)
from nn.core.mlp import MLP
from nn.views.inspect import figures
from nn.views.inspect import pictures as ip
from nn.views.inspect.backprop import step_is_finite
from nn.views.inspect.step_worker import JobFailed, JobStopped, step_in_worker
from nn.views.inspect.neurons import unit_activity

STATE, KEPT, K = "inside_state", "inside_kept", "inside."
HEALTH_BUDGET = 0.01        # share of training time the health monitor may take while it trains
PICTURE_BUDGET = 0.03       # ... and the live inside pictures (at most one per MIN_GAP seconds)
MIN_GAP = 0.7
MAX_HISTORY = 1000          # health entries kept (thinned by half beyond)
NETWORK_UNITS = 12          # neurons drawn per layer (those that matter most)
SAMPLE_ROWS = 1000          # test rows for "most active" units
NEURONS, WEIGHTS, HEALTH, HISTOGRAMS, STEP = ("Neurons", "First-layer weights", "Health",
                                              "Weights vs start", "Step through backprop")
SUMMARY_NAMES = {"shape": "W shape", "Z_rms": "Z (RMS)", "A_mean": "A (mean)", "dZ_rms": "dZ (RMS)",
                 "dW_norm": "|dW|", "db_norm": "|db|", "update_norm": "|ΔW|", "update_ratio": "|ΔW| / |W|",
                 "active_share": "active ReLUs"}
UNIT_CHOICES = ("most active on the test set", "least active on the test set", "first units")

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


# --- widgets ---------------------------------------------------------------------------------------
def _keep(name: str) -> None:
    st.session_state.setdefault(KEPT, {})[name] = st.session_state[K + name]


def _restore(name: str, default: Any) -> str:
    key, kept = K + name, st.session_state.get(KEPT, {})
    if key not in st.session_state or name not in kept:
        st.session_state[key] = kept.get(name, default)
    return key


def _live_default(data: Dataset | None) -> bool:
    env = os.environ.get("NN_INSIDE_LIVE")
    if env in ("0", "1"):
        return env == "1"
    return data is not None and data.image_shape is None and data.n_features == 2


def _choices(data: Dataset | None) -> list[str]:
    first = []
    if data is not None and data.image_shape is None and data.n_features == 2:
        first = [NEURONS]
    elif data is not None and data.image_shape is not None:
        first = [WEIGHTS]
    return [*first, HEALTH, HISTOGRAMS, STEP]


def covered(s: Any) -> bool:
    """Whether the section applies: the session's model is an MLP (or, before there is one, the
    settings make one). A CNN has its own view (``app.cnn_view``: filters and feature maps)
    and gets none of this section's widgets: none of them would work for it."""
    if s.model is not None:
        return inspectable(s.model)
    from app import train_view as tv            # here: train_view imports this module
    try:
        return not tv.current_config().arch
    except (ConfigError, KeyError, ValueError):  # settings that don't fit: the page says why;
        return st.session_state.get("tw.kind") != "CNN"   # a CNN's unreadable text is still a CNN


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
    live = left.toggle("Show the inside view while training", key=_restore("live", _live_default(data)),
                       on_change=_keep, args=("live",),
                       help="Live pictures of the neurons (2-D sets) or first-layer weights (images) "
                            "and the health of each layer, redrawn about once a second.")
    options = _choices(data)
    key = _restore("view", None)
    if st.session_state[key] not in options:
        st.session_state[key] = None
    choice = right.segmented_control("Look closer (interactive)", options, key=key, on_change=_keep,
                                     args=("view",))
    slots = Slots(live, choice, None, None)
    if choice == WEIGHTS:
        a, b = st.columns([2, 1])
        slots.units = a.radio("Which units", UNIT_CHOICES, horizontal=True, key=_restore("units", UNIT_CHOICES[0]),
                              on_change=_keep, args=("units",))
        slots.n_units = b.slider("How many", 16, 64, step=8, key=_restore("n_units", 32),
                                 on_change=_keep, args=("n_units",))
    elif choice == STEP:
        _step_controls(s, slots)
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
            _update_monitor(inside, record)
            inside.spent += time.perf_counter() - now
        yield record


def _update_monitor(inside: InsideState, record: dict | None) -> None:
    history = inside.monitor.history
    inside.monitor.update(record)
    if len(history) > MAX_HISTORY:
        history[:] = history[::2]


# --- drawing ---------------------------------------------------------------------------------------
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
        _update_monitor(inside, last)            # the model as training left it
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
        text = _readings_text(history[-1])
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
    if data.n_features == 2:
        maps = neuron_maps(model, data.X_train, 40)
        return ip.network_image(model, maps, height=600, max_units=NETWORK_UNITS), NEURON_WORDS
    return None, ""


def _colour_words(data: Dataset) -> str:
    """``COLOURS`` where the main picture is the network's diagram (2-D data), else nothing."""
    return COLOURS if data.image_shape is None and data.n_features == 2 else ""


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
            right.markdown(_readings_text(history[-1]))
        left.caption(_joined(_colour_words(data), RULE_WORDS))


def _readings_text(entry: dict) -> str:
    readings = entry["readings"]
    if not readings:
        return ":material/check_circle: No warning signs in the latest reading."
    return "\n".join(f"- :material/warning: {r['text']}" for r in readings)


def _chosen_view(slots: Slots, s: Any, inside: InsideState, data: Dataset) -> None:
    model, monitor = inside.model, inside.monitor
    if slots.choice == NEURONS:
        fig = figures.network_figure(model, neuron_maps(model, data.X_train), height=600, max_units=NETWORK_UNITS)
        st.plotly_chart(fig, width="stretch",
                        key="inside.network")
        st.caption(NEURON_WORDS + " Hover over a neuron for its incoming weights, its bias and its "
                   "formula with the numbers at the centre of the plane. " + COLOURS)
    elif slots.choice == WEIGHTS:
        picture, words = _main_picture(inside, data, slots)
        st.image(picture, caption=words)
    elif slots.choice == HEALTH:
        if not monitor.history:
            _update_monitor(inside, None)
        st.plotly_chart(figures.health_figure(monitor.history), width="stretch", key="inside.health")
        st.markdown(_readings_text(monitor.history[-1]))
        st.caption("Gradient norm: how strongly the loss pulls on each layer's weights. Update / "
                   "weight: how much the weights changed since the previous reading, against their "
                   "size. A dead ReLU is never active on a sample of the data: it no longer learns.")
    elif slots.choice == HISTOGRAMS:
        st.plotly_chart(figures.histogram_figure(monitor.histograms()), width="stretch", key="inside.hist")
        st.caption("Each layer's weights now (colour) against when this model was first shown here "
                   "(grey): training spreads them out from their random start.")
    elif slots.choice == STEP:
        _step_view(slots, inside)


# --- step through backprop -------------------------------------------------------------------------
def _step_controls(s: Any, slots: Slots) -> None:
    a, b, c = st.columns([1, 1, 3])
    a.button("Step", key=K + "step", icon=":material/skip_next:", on_click=_on_step, disabled=s.running,
             width="stretch", help="One minibatch step of the optimizer on this model (a new one from "
                                   "the settings if there is none)")
    inside = st.session_state.get(STATE)
    m = inside.last_step.m if inside is not None and inside.last_step is not None else 1
    key = _restore("sample", 0)
    st.session_state[key] = min(int(st.session_state[key]), m - 1)
    slots.sample = int(b.number_input("Sample shown", 0, max(m - 1, 0), step=1, key=key, on_change=_keep,
                                      args=("sample",), help="Row of the minibatch whose numbers are shown"))
    c.caption("Step uses the same optimizer as Train and Continue (its momentum or Adam state "
              "included): Continue goes on from here. Steps taken here are not counted in the "
              "epochs or the history.")


def _on_step() -> None:
    from app import train_view as tv            # here: train_view imports this module
    s = tv.session()
    if s.running or not s.lock.acquire(timeout=10):
        return
    try:
        if s.model is None:
            cfg = tv.current_config()
            s.new_model(cfg, tv.dataset(cfg))     # a fresh network from the settings, not trained
            tv.keep_model(s)
        data = tv.dataset(s.cfg)
        inside = state(s, data)
        if inside is None:
            return
        stepper = _stepper(inside, s, data)
        stepper.optimizer = s.trainer.optimizer   # the trainer's, even if it made a new one since
        inside.last_step = None                   # the previous Step's arrays go before this one's
        _step_in_slot(inside, stepper, s.model.layer_sizes)
        s.model_moved()
    except (JobFailed, JobStopped) as exc:         # a worker's Step: nothing changed
        words = "Step stopped" if isinstance(exc, JobStopped) else f"Step: {exc}"
        st.session_state[STATE].step_error = f"{words}. The model and its optimizer are unchanged."
    except (ConfigError, ValueError, DatasetUnavailable) as exc:
        if STATE in st.session_state:
            st.session_state[STATE].step_error = str(exc)
        else:
            st.session_state["train_data_error"] = f"Step: {exc}"
    finally:
        s.lock.release()


def _step_in_slot(inside: InsideState, stepper: BackpropStepper, sizes: list[int]) -> None:
    """One Step, admitted like any job (its memory from the network's sizes and its capped
    batch); a busy server says so instead of queueing a click. A Step estimated above
    ``budget.STEP_IN_PROCESS_MB`` or ``STEP_IN_PROCESS_SECONDS`` runs in a worker process
    under a hard limit (``step_worker``); Stop or a closed tab ends it within ``POLL``."""
    from app import jobs
    rows = stepper.batch_size
    place = JOBS.slot(Need(1, budget.step_bytes(sizes, rows), jobs.client_id(), "a Step"))
    with place as slot:
        if not slot.try_acquire(timeout=2.0):
            raise ValueError("The server is busy with other visitors' jobs: press Step again in a "
                             "moment.")
        sample = min(int(st.session_state.get(K + "sample", 0)), rows - 1)
        with np.errstate(over="ignore", invalid="ignore"):
            if budget.step_in_worker(sizes, rows):
                used, _ = JOBS.used()
                blas = cores() if used <= 1 and JOBS.waiting == 0 else 1
                view = step_in_worker(stepper, sample, memory_bytes=budget.step_worker_bytes(sizes, rows),
                                      cpu_seconds=budget.step_cpu_seconds(sizes, rows) * blas,
                                      blas_threads=blas, should_stop=jobs.interrupted)
            else:
                view = stepper.step(sample=sample).compact()
    inside.last_step, inside.steps_taken = view, inside.steps_taken + 1
    inside.step_error = None


def _stepper(inside: InsideState, s: Any, data: Dataset) -> BackpropStepper:
    """The Step's stepper; its batch is capped to what one Step may cost (``budget.step_batch``)."""
    cfg = s.cfg.train_config()
    n = len(data.y_train)
    asked = n if cfg.batch_size == "full" else min(int(cfg.batch_size), n)
    rows = budget.step_batch(inside.model.layer_sizes, asked)
    inside.step_note = None if rows == asked else (
        f"A Step on this server takes at most {rows:,} rows (about {budget.STEP_MB} MB and "
        f"{budget.STEP_SECONDS:g} s of work): this one uses {rows:,} of the {asked:,} in your batch.")
    cfg.batch_size = rows
    key = (id(s.trainer), rows, cfg.seed)
    if inside.stepper is None or inside.stepper_key != key:
        inside.stepper = BackpropStepper(inside.model, data.X_train, data.y_train, cfg, optimizer=s.trainer.optimizer)
        inside.stepper_key = key
    return inside.stepper


def _step_view(slots: Slots, inside: InsideState) -> None:
    if inside.step_error:
        st.error(page_text(inside.step_error))       # controls' labels, not CLI flags
    if inside.step_note:
        st.info(inside.step_note)
    view = inside.last_step
    if view is None:
        st.info("Press **Step** to run one minibatch step and see every number of backpropagation.")
        return
    view.sample = min(slots.sample, view.m - 1)
    i = view.sample
    if not step_is_finite(view):
        st.warning("This step made the loss or the weights infinite: the learning rate is too high "
                   "for this network. Press **Train** for a fresh model, or **Reset**.")
    st.markdown(f"**Step {inside.steps_taken}** on a minibatch of {view.m} samples, {view.optimizer} "
                f"with learning rate {view.lr:g}: batch loss **{view.loss:.4f}**. Numbers below for "
                f"sample {i} (label {int(view.y[i])}, loss {view.sample_loss():.4f}).")
    if view.small:
        eqs = view.equations()
        groups = {"Forward": [], "Backward": [], "Update": []}
        for e in eqs:
            part = ("Update" if " before" in e.name or " after" in e.name else
                    "Backward" if e.name.startswith("d") else "Forward")
            groups[part].append(e)
        cols = st.columns(3)
        for col, (title, items) in zip(cols, groups.items()):
            col.markdown(f"**{title}**")
            col.code("\n\n".join(f"{e.formula}\n= {e.text}" for e in items), language=None, wrap_lines=True)
        st.caption("Forward: each layer's `Z = A·W + b` and `A = f(Z)`. Backward: the tutorials' "
                   "equations, starting from `dZ = A − Y` at the output and carried back through "
                   "each layer's weights and the slope of its activation. " + RULE_WORDS)
    else:
        rows = [{SUMMARY_NAMES.get(k, k): (f"{v:.3g}" if isinstance(v, float) else v) for k, v in row.items()}
                for row in view.summaries()]
        st.table(rows)
        p = view.layers[-1].A[i]
        st.markdown(f"Sample {i}: predicted {int(p.argmax())} with probability {float(p.max()):.2%}; "
                    f"`dZ{len(view.layers)} = A − Y` = {np.array2string(view.layers[-1].dZ[i], precision=2)}")
        st.caption("Too many neurons to show each number: per layer, the typical size (RMS) of Z and "
                   "dZ, the norms of the gradients dW and db, and how much the step changed W "
                   "(update / weight). " + RULE_WORDS)


# --- the Draw page ---------------------------------------------------------------------------------
def drawing_inside(model: Any, image: np.ndarray | None, shape: tuple[int, int] = (28, 28)) -> None:
    """Each hidden layer's activations for the drawing, and the first-layer units that pushed the
    prediction most (their weights as images)."""
    if image is None or not inspectable(model) or model.layer_sizes[0] != shape[0] * shape[1]:
        return
    pred = predict_drawing(model, image)
    if pred is None:
        return
    key = "draw_inside"
    if key not in st.session_state:              # widget keys are dropped when the visitor leaves
        st.session_state[key] = st.session_state.get("draw_inside_kept", False)
    on = st.toggle("Look inside the network", key=key, on_change=_keep_draw_toggle,
                   help="Each layer's activations for this drawing and the units that pushed the "
                        "prediction most")
    if not on:
        return
    ex = explain_input(model, pred.image.ravel())
    with st.container():
        st.image(ip.activations_image(ex, model.activation),
                 caption="Each square is one hidden unit's output for this drawing (red: high, white: "
                         "zero, blue: negative; each layer on its own scale). Outlined: the units that "
                         "pushed the prediction most.")
        st.image(ip.pushes_image(model, ex, shape),
                 caption=f"The first-layer units that pushed '{ex.predicted}' most: their incoming "
                         "weights (red where ink raises the unit, blue where it lowers it) and their "
                         "push, the unit's output times how much it raises this digit's score above "
                         "the others.")


def _keep_draw_toggle() -> None:
    st.session_state["draw_inside_kept"] = st.session_state["draw_inside"]
