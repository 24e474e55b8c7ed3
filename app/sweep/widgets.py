"""The Sweep page's form (Streamlit side): the parameter to sweep, then the form of the rest of
the configuration, its limits read from the settings table; values kept across page switches
(``app.keep``) in ``sweep_settings`` (saved when Run is pressed)."""
from __future__ import annotations

import streamlit as st

from app.keep import restore
from app.sweep.form import DEFAULT_VALUES, DEFAULTS, OVERRIDDEN, values_for, which_wins
from nn.core.settings import SETTINGS
from nn.data import DATASETS
from nn.data.features import LABELS as FEATURE_LABELS
from nn.hosting import limits
from nn.sweep import MAX_TRIALS, PARAMS
from nn.sweep.budget import duration, megabytes
from nn.sweep.plots import LABELS

LR_FLOOR = 1e-6          # the learning rate's bound 0 is open: the box starts above it
SAVED = "sweep_settings"


def _range(name: str) -> tuple[float, float] | tuple[int, int]:
    """The range a number box for setting ``name`` offers (``Setting.widget_range``), whole
    numbers for a whole-number setting (a widget takes one numeric type)."""
    setting = SETTINGS[name]
    kind = int if setting.kind in ("int", "ints") else float
    low, high = setting.widget_range
    return kind(low), kind(high)


def keep_settings() -> None:
    """Widget values vanish when the user leaves the page: restore them from a plain key."""
    saved = st.session_state.setdefault(SAVED, dict(DEFAULTS))
    saved["workers"] = max(1, min(int(saved.get("workers") or 1), limits().max_workers))
    for name, value in saved.items():     # a form's widgets: what was typed, not submitted, stays
        restore(f"sw_{name}", value, resend=False)


def param_changed() -> None:
    """The swept parameter changed: Values gets the text last used for the new one, or its
    default (hidden units "3:40" are no learning rates); the old one's text is kept for a switch
    back. Kept in the saved settings too, so that leaving the page keeps the pair together."""
    saved = st.session_state[SAVED]
    new = st.session_state["sw_param"]
    remembered = st.session_state.setdefault("sweep_values_by_param", {})
    text = values_for(new, saved.get("param", DEFAULTS["param"]), str(st.session_state.get("sw_values", "")),
                      remembered)
    st.session_state["sw_values"] = text
    saved["param"], saved["values"] = new, text


def param_ui() -> str:
    """The parameter to sweep, outside the form so that the form follows it at once: Values
    gets a text for it and the field it overrides is greyed out."""
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    param = c1.selectbox("Parameter to sweep", PARAMS, key="sw_param", on_change=param_changed,
                         help=", ".join(f"{p}: {LABELS[p]}" for p in PARAMS))
    c2.caption(which_wins(param))
    return param


def settings_form(param: str) -> dict | None:
    """The widgets; the settings when Run is pressed."""
    swept = OVERRIDDEN.get(param)
    with st.form("sweep_form"):
        c1, c2 = st.columns([3, 1])
        c1.text_input("Values (numbers, and ranges START:STOP or START:STOP:STEP)", key="sw_values",
                      help="Examples: " + "; ".join(f"{p}: {v}" for p, v in DEFAULT_VALUES.items()))
        c2.number_input("Trials per value", 1, MAX_TRIALS, key="sw_trials")
        st.markdown("**The rest of the configuration**")
        c1, c2, c3, _ = st.columns(4)
        c1.selectbox("Dataset", DATASETS, key="sw_dataset")
        c2.number_input("Samples (2-D sets)", *_range("n_samples"), step=500, key="sw_n_samples")
        c3.number_input("Noise (2-D sets)", *_range("noise"), step=0.05, key="sw_noise")
        st.multiselect("Input features (2-D sets)", SETTINGS["features_2d"].choices, key="sw_features_2d",
                       format_func=FEATURE_LABELS.get, help=SETTINGS["features_2d"].help)
        c1, c2, c3, c4 = st.columns(4)
        c1.text_input("Hidden layers", key="sw_hidden", help="sizes, e.g. '64' or '32 32'. Sweeping "
                      "hidden sets every layer to the value; sweeping depth repeats the first size")
        c2.selectbox("Activation", SETTINGS["activation"].choices, key="sw_activation")
        c3.selectbox("Init", SETTINGS["init"].choices, key="sw_init", help=SETTINGS["init"].help)
        c4.selectbox("Optimizer", SETTINGS["optimizer"].choices, key="sw_optimizer")
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("Learning rate", LR_FLOOR, _range("lr")[1], format="%g", key="sw_lr", disabled=swept == "lr",
                        help="not used: the learning rate is swept (see Values)" if swept == "lr" else None)
        c2.text_input("Batch size", key="sw_batch_size", disabled=swept == "batch_size",
                      help="not used: the batch size is swept (see Values)" if swept == "batch_size"
                      else "a whole number or 'full'")
        c3.number_input("Epochs", *_range("epochs"), key="sw_epochs")
        c4.number_input("Seed (trial t uses seed + t)", *_range("seed"), key="sw_seed")
        lim = limits()
        with st.expander("Momentum, weight decay, L1, workers" + ("" if lim.public else ", Dask cluster")):
            c1, c2, c5, c3, c4 = st.columns(5)
            c1.number_input("Momentum", *_range("momentum"), key="sw_momentum")
            c2.number_input("Weight decay", *_range("weight_decay"), format="%g", key="sw_weight_decay")
            c5.number_input("L1", *_range("l1"), format="%g", key="sw_l1")
            c3.number_input(f"Local workers (at most {lim.max_workers})", 1, lim.max_workers,
                            key="sw_workers", help="processes on this machine, one per core at most")
            if not lim.public:     # hosting mode: no visitor picks a server to talk to (see below)
                c4.text_input("Dask scheduler address", key="sw_scheduler", placeholder="tcp://host:8786",
                              help="empty: run on this machine's cores. Results from the cluster are "
                                   "unpickled here, which runs code: use only a cluster you trust fully.")
        # a sweep on this page is also one job of the server's budget (nn.runs.slots): its
        # memory is held to the smallest of the sweep's, a job's, a visitor's and the server's
        memory_mb = min(lim.max_sweep_memory_mb, lim.max_job_mb, lim.client_mb, lim.budget_mb)
        st.caption(f"Limits of this server: about {duration(lim.max_sweep_seconds)} of work for one "
                   f"core and {megabytes(memory_mb)} of memory per sweep; the estimate "
                   f"is shown when it starts. A sweep takes one job slot per worker. {lim.describe()}")
        run = st.form_submit_button("Run sweep", type="primary", key="sw_run")
    settings = {name: st.session_state.get(f"sw_{name}", DEFAULTS[name]) for name in DEFAULTS}
    if run:
        st.session_state[SAVED] = dict(settings)
        return settings
    return None
