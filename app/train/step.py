"""The inside view's Step through backprop: one minibatch step of the session's optimizer on its
model (a new network from the settings if there is none), every number of it shown."""
from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from app import jobs
from app.control_labels import page_text
from app.keep import kept
from app.train.current import PAGE_ERROR, current_config, dataset, keep_model, session
from app.train.inside_state import K, KEPT, RULE_WORDS, STATE, InsideState, Slots, state
from nn.core.settings import ConfigError
from nn.data import Dataset, DatasetUnavailable
from nn.hosting import cores
from nn.runs import budget
from nn.runs.slots import JOBS, Need
from nn.views.inspect import BackpropStepper
from nn.views.inspect.backprop import step_is_finite
from nn.views.inspect.step_worker import JobFailed, JobStopped, step_in_worker

SUMMARY_NAMES = {"shape": "W shape", "Z_rms": "Z (RMS)", "A_mean": "A (mean)", "dZ_rms": "dZ (RMS)",
                 "dW_norm": "|dW|", "db_norm": "|db|", "update_norm": "|ΔW|", "update_ratio": "|ΔW| / |W|",
                 "active_share": "active ReLUs"}


def controls(s: Any, slots: Slots) -> None:
    a, b, c = st.columns([1, 1, 3])
    a.button("Step", key=K + "step", icon=":material/skip_next:", on_click=_on_step, disabled=s.running,
             width="stretch", help="One minibatch step of the optimizer on this model (a new one from "
                                   "the settings if there is none)")
    inside = st.session_state.get(STATE)
    m = inside.last_step.m if inside is not None and inside.last_step is not None else 1
    sample = kept(K + "sample", 0, KEPT)
    st.session_state[sample["key"]] = min(int(st.session_state[sample["key"]]), m - 1)
    slots.sample = int(b.number_input("Sample shown", 0, max(m - 1, 0), step=1, **sample,
                                      help="Row of the minibatch whose numbers are shown"))
    c.caption("Step uses the same optimizer as Train and Continue (its momentum or Adam state "
              "included): Continue goes on from here. Steps taken here are not counted in the "
              "epochs or the history.")


def _on_step() -> None:
    s = session()
    if s.running or not s.lock.acquire(timeout=10):
        return
    try:
        if s.model is None:
            cfg = current_config()
            s.new_model(cfg, dataset(cfg))        # a fresh network from the settings, not trained
            keep_model(s)
        data = dataset(s.cfg)
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
            st.session_state[PAGE_ERROR] = f"Step: {exc}"
    finally:
        s.lock.release()


def _step_in_slot(inside: InsideState, stepper: BackpropStepper, sizes: list[int]) -> None:
    """One Step, admitted like any job (its memory from the network's sizes and its capped
    batch); a busy server says so instead of queueing a click. A Step estimated above
    ``budget.STEP_IN_PROCESS_MB`` or ``STEP_IN_PROCESS_SECONDS`` runs in a worker process
    under a hard limit (``step_worker``); Stop or a closed tab ends it within ``POLL``."""
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


def view(slots: Slots, inside: InsideState) -> None:
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
                   f"equations, starting from `{_output_rule(view)}` at the output and carried back through "
                   "each layer's weights and the slope of its activation. " + RULE_WORDS)
    else:
        rows = [{SUMMARY_NAMES.get(k, k): (f"{v:.3g}" if isinstance(v, float) else v) for k, v in row.items()}
                for row in view.summaries()]
        st.table(rows)
        p = view.layers[-1].A[i]
        said = (f"predicted {float(p[0]):.3g} (actual {float(view.y[i]):.3g})" if view.regression
                else f"predicted {int(p.argmax())} with probability {float(p.max()):.2%}")
        st.markdown(f"Sample {i}: {said}; `dZ{len(view.layers)} = {_output_rule(view)[5:]}` = "
                    f"{np.array2string(view.layers[-1].dZ[i], precision=2)}")
        st.caption("Too many neurons to show each number: per layer, the typical size (RMS) of Z and "
                   "dZ, the norms of the gradients dW and db, and how much the step changed W "
                   "(update / weight). " + RULE_WORDS)


def _output_rule(view: Any) -> str:
    """The output layer's backward rule: softmax with cross-entropy, or a linear output with the
    squared error (``nn.views.inspect.backprop``)."""
    return "dZ = 2 (A − Y)" if view.regression else "dZ = A − Y"
