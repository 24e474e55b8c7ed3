"""The Train page's settings: presets and the data, network and training widgets, their limits
and help read from the settings table (``nn.core.settings.SETTINGS``); the URL mirrors them."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import control_labels
from app.text import plain
from app.train import own_data, own_settings
from app.train.current import (DEFAULT_ARCH, DEFAULT_AUGMENT, current_config, first_visit, keep_config,
                               set_config, value, widget)
from app.train.state import config_to_query
from nn.core.config import RunConfig
from nn.core.settings import CNN_ACTIVATIONS, CNN_INITS, IMAGE_SHAPES, SETTINGS, ConfigError
from nn.data import TOY_DATASETS
from nn.data.features import FEATURE_DATASETS, LABELS as FEATURE_LABELS
from nn.hosting import limits
from nn.runs.experiment import check_config_limit, config_from_preset, count_config_params
from nn.runs.presets import MEASURED

LR_STEPS = [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
            1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
BATCH_STEPS: list[Any] = [1, 2, 4, 8, 10, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, "full"]
DATASET_LABELS = {"moons": "Two moons (2-D)", "circles": "Circles (2-D)", "xor": "XOR (2-D)",
                  "gaussian": "Two Gaussians (2-D)", "spiral": "Spiral (2-D)",
                  "reg-plane": "Plane (2-D regression)", "reg-gauss": "Six Gaussian bumps (2-D regression)",
                  "digits": "Digits 8x8",
                  "mnist": "MNIST 28x28", "fashion_mnist": "Fashion-MNIST 28x28", **own_data.LABELS}
PRESET_HELP = {"moons": "Our fast default for two moons: 2-32-32-2 ReLU, Adam.",
               "mnist": "Our fast default for MNIST: 784-256-10 ReLU, SGD with momentum.",
               "seed-moons": "The moons tutorial: 2-64-2 ReLU, plain SGD, batch 10.",
               "seed-mnist": "The MNIST tutorial: 784-5-10 sigmoid, full-batch GD, 1000 iterations.",
               "mnist-cnn": "A convolutional network for MNIST: two conv+pool blocks, dense 128, Adam "
                            "with a cosine schedule, augmented images; 99%+ in 6 epochs.",
               "mnist-fast": "Time to accuracy, fast: a small batch-normed CNN, one epoch of Adam with a "
                             "one-cycle rate, label smoothing, 3 shifted copies at test. Measured: "
                             f"{MEASURED['mnist-fast']}",
               "mnist-best": "Time to accuracy, best: a wider batch-normed CNN, augmented images, 8 "
                             "epochs, 5 shifted copies at test. Measured: "
                             f"{MEASURED['mnist-best']}"}
MEASURED_CAPTION = "Time to accuracy, measured on 2 cores (means over seeds):" + "".join(
    f"  \n{name}: {m.short()}" for name, m in MEASURED.items())
PRESETS_SHOWN = ("moons", "mnist", "seed-moons", "seed-mnist", "mnist-cnn", "mnist-fast", "mnist-best")
PHONE_ONLY = "<style>@media (min-width: 640px) {.st-key-phone_presets {display: none}}</style>"
NETWORK_KINDS = ("MLP", "CNN")
ARCH_HELP = ("Comma-separated: 'conv 5x5x16' (a 5x5 convolution, 16 filters; options 'stride 2', "
             "'pad 1' or 'pad same'), 'pool 2' (2x2 max-pooling), 'dense 128', 'bn' (batch norm of "
             "the conv or dense just before), 'dropout 0.25'. The "
             "activation follows each conv and dense layer; an output layer with one unit per class "
             f"ends the network. Default: {DEFAULT_ARCH}")
AUGMENT_HELP = ("Each minibatch's images moved by up to ±{shift:g} px, turned by up to ±{rotate:g}° "
                "and scaled by up to ±{scale:.0%}: drawings on the Draw page read better."
                .format(**DEFAULT_AUGMENT))


def _help(name: str) -> str:
    """The settings table's words for setting ``name``, as a sentence."""
    text = SETTINGS[name].help
    return text[:1].upper() + text[1:] + "."


def _limits(name: str) -> tuple[Any, Any]:
    """The range a number widget for setting ``name`` offers (``Setting.widget_range``), whole
    numbers for a whole-number setting (a widget takes one numeric type)."""
    setting = SETTINGS[name]
    kind = int if setting.kind in ("int", "ints") else float
    return tuple(kind(v) for v in setting.widget_range)


def _steps(name: str, steps: list[Any]) -> list[Any]:
    """The steps of a select slider that the setting allows."""
    return [v for v in steps if SETTINGS[name].item_ok(v)]


def _apply_preset(name: str) -> None:
    set_config(config_from_preset(name))


def _options(values: list[Any], current: Any) -> list[Any]:
    if current in values:
        return values
    if isinstance(current, str):
        return values + [current]
    numbers = sorted([v for v in values if not isinstance(v, str)] + [current])
    return numbers + [v for v in values if isinstance(v, str)]


def phone_presets() -> None:
    """The presets above the buttons on a narrow screen, where the sidebar starts collapsed (on
    a wide one they are in the sidebar, and this row is hidden by CSS)."""
    st.html(PHONE_ONLY)
    with st.container(horizontal=True, key="phone_presets"):
        for name in PRESETS_SHOWN:
            st.button(name, key=f"phone.preset.{name}", help=PRESET_HELP[name], on_click=_apply_preset,
                      args=(name,), type="tertiary", width="content")


def sidebar() -> tuple[RunConfig | None, list[str]]:
    """Draw the settings; return the config (None if invalid) and messages for the user."""
    messages = first_visit()
    with st.sidebar:
        st.subheader("Presets")
        cols = st.columns(2)
        for i, name in enumerate(PRESETS_SHOWN):
            cols[i % 2].button(name, key=f"preset.{name}", help=PRESET_HELP[name],
                               on_click=_apply_preset, args=(name,), width="stretch")
        st.caption(MEASURED_CAPTION)
        _data_widgets()
        _network_widgets()
        network_note = st.empty()          # the parameter limit, next to the network settings
        _training_widgets()
    try:
        cfg = current_config()
        check_config_limit(cfg, own_data.current(cfg))
    except ConfigError as exc:
        if exc.param in ("hidden", "arch"):
            network_note.error(control_labels.page_text(plain(exc, limit=400)), icon=":material/block:")
        messages.append(f"Invalid setting **{exc.param}**: {plain(exc, limit=400)}")
        return None, messages
    limit = limits().max_params
    network_note.caption(f"{count_config_params(cfg, own_data.current(cfg)):,} parameters (this server's limit: {limit:,})")
    keep_config(cfg)
    query = {**config_to_query(cfg), **own_settings.query(cfg)}
    if {k: st.query_params.get(k) for k in st.query_params} != query:
        st.query_params.from_dict(query)            # the URL always reproduces the settings
    return cfg, messages


def _data_widgets() -> None:
    st.subheader("Data")
    st.selectbox("Dataset", list(DATASET_LABELS), key=widget("dataset"), format_func=DATASET_LABELS.get)
    name = value("dataset")
    if name in TOY_DATASETS:
        st.number_input("Number of samples", *_limits("n_samples"), step=500, key=widget("n_samples"))
        st.slider("Noise", *_limits("noise"), step=0.01, key=widget("noise"))
    if name in FEATURE_DATASETS:
        _feature_widgets()
    if name in (*TOY_DATASETS, "digits", *own_data.LABELS):
        st.slider("Test share", *_limits("test_size"), step=0.05, key=widget("test_size"))
    else:
        st.caption("Official split: 60,000 training and 10,000 test images.")


def _feature_widgets() -> None:
    """A tick per input feature of a 2-D set (``features_2d``), as Playground offers them."""
    st.caption("Input features", help=_help("features_2d"))
    with st.container(horizontal=True, key="features_2d"):
        for name in SETTINGS["features_2d"].choices:
            st.checkbox(FEATURE_LABELS[name], key=widget(f"f_{name}"))


def _network_widgets() -> None:
    st.subheader("Network")
    if value("dataset") in IMAGE_SHAPES:
        st.segmented_control("Kind", NETWORK_KINDS, key=widget("kind"), required=True,
                             help="MLP: fully connected layers. CNN: convolutional layers that "
                                  "slide small filters over the image, then dense layers.")
        if value("kind") == "CNN":
            _cnn_widgets()
            return
    st.slider("Hidden layers", *SETTINGS["hidden"].count, key=widget("layers"))
    n = value("layers")
    cols = st.columns(min(n, 3))
    for i in range(n):
        cols[i % len(cols)].number_input(f"Layer {i + 1} size", *_limits("hidden"), step=1, key=widget(f"h{i}"))
    c1, c2 = st.columns(2)
    c1.selectbox("Activation", SETTINGS["activation"].choices, key=widget("activation"))
    c2.selectbox("Initialisation", SETTINGS["init"].choices, key=widget("init"), help=_help("init"))


def _cnn_widgets() -> None:
    st.text_input("Architecture", key=widget("arch"), max_chars=2000, help=ARCH_HELP)
    for name, allowed in (("activation", CNN_ACTIVATIONS), ("init", CNN_INITS)):
        key = widget(name)
        if st.session_state[key] not in allowed:           # e.g. the MLP's 'small' init
            st.session_state[key] = allowed[0]
    c1, c2 = st.columns(2)
    c1.selectbox("Activation", CNN_ACTIVATIONS, key=widget("activation"))
    c2.selectbox("Initialisation", CNN_INITS, key=widget("init"),
                 help="he: N(0, 2/fan_in); xavier: Glorot uniform U(-a, a), a = sqrt(6/(fan_in + fan_out))")
    st.checkbox("Augment the training images", key=widget("augment_on"), help=AUGMENT_HELP)
    st.number_input("Test-time augmentation (copies)", *_limits("tta"), step=1, key=widget("tta"),
                    help=_help("tta"))


def _training_widgets() -> None:
    st.subheader("Training")
    if own_settings.toggle(value("dataset")):        # chosen from the table's size
        return
    st.selectbox("Optimizer", SETTINGS["optimizer"].choices, key=widget("optimizer"))
    if value("optimizer") == "momentum":
        st.slider("Momentum", *_limits("momentum"), step=0.001, format="%.3f", key=widget("momentum"))
    lr, batch = widget("lr"), widget("batch_size")
    st.select_slider("Learning rate (log scale)", _options(_steps("lr", LR_STEPS), value("lr")), key=lr,
                     format_func=lambda v: f"{v:g}")
    st.select_slider("Batch size", _options(_steps("batch_size", BATCH_STEPS), value("batch_size")),
                     key=batch, help="'full' = full-batch gradient descent (one step per epoch)")
    st.selectbox("Learning-rate schedule", SETTINGS["lr_schedule"].choices, key=widget("lr_schedule"),
                  help="cosine: epoch e of E trains at lr·(1 + cos(πe/E))/2, from the full rate "
                       "down towards 0. onecycle: step by step from lr/10 up to lr over the first "
                       "quarter of the steps, then down towards 0")
    c1, c2 = st.columns(2)
    c1.number_input("Epochs", *_limits("epochs"), step=1, key=widget("epochs"))
    c2.number_input("Seed", *_limits("seed"), step=1, key=widget("seed"))
    st.number_input("Weight decay (L2)", *_limits("weight_decay"), step=1e-4, format="%.4f",
                    key=widget("weight_decay"))
    st.number_input("L1 regularization", *_limits("l1"), step=1e-4, format="%.4f", key=widget("l1"),
                    help=_help("l1"))
    c1, c2 = st.columns(2)                          # early stopping (nn.core.early_stopping)
    c1.number_input("Held-out share", *_limits("val_share"), step=0.05, key=widget("val_share"),
                    help=_help("val_share"))
    c2.number_input("Patience (epochs)", *_limits("patience"), step=1, key=widget("patience"),
                    help=_help("patience"))
    st.number_input("Label smoothing", *_limits("label_smoothing"), step=0.05, format="%.2f",
                    key=widget("label_smoothing"), help=_help("label_smoothing"))
