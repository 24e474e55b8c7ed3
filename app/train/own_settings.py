"""The Train page's training settings for the visitor's own table: chosen from the table's size
(``nn.runs.table_defaults``: steps enough to converge, Adam's rate for standardised inputs, early
stopping on held-out training rows, and whether to standardise the features at all) unless the visitor turns that off in the sidebar, or came by
a link that says how to train. The page says what was chosen and why, beside the table.

The choice is a table choice (``own.choices["auto"]``, ``app.train.own_data``): on by default,
kept across page switches and new uploads. The URL says ``train_settings=chosen`` while it is on
(the page's own links carry every setting: without it, a reload would read them as given).
"""
from __future__ import annotations

import streamlit as st

from app.train import own_data
from nn.core.config import RunConfig
from nn.runs.table_defaults import USER_TRAINING, TableDefaults, choose, scaling_of

AUTO = "auto"
QUERY_KEY, QUERY_ON = "train_settings", "chosen"
TOGGLE_HELP = ("On: the learning rate, batch size, epochs, weight decay and early stopping are "
               "chosen from your table's size, and whether to standardise its features from their "
               "spreads (what and why: beside the table). Off: the settings below and the table's "
               "'Standardise features' apply as you set them.")


def start_run() -> None:
    """On a session's first visit: a link that says how to train (a training setting, without
    ``train_settings=chosen``) turns the choosing off, so its settings apply."""
    if "train_cfg" in st.session_state or st.query_params.get(QUERY_KEY) == QUERY_ON:
        return
    if any(name in st.query_params for name in USER_TRAINING):
        own_data.choice(AUTO, False)


def query(cfg: RunConfig) -> dict[str, str]:
    """What the URL adds for the choosing (nothing when it is off or not a table)."""
    return {QUERY_KEY: QUERY_ON} if choosing(cfg.dataset) else {}


def choosing(dataset: str | None) -> bool:
    """Whether the training settings are chosen for the table (an own table, choice on)."""
    return dataset == "table" and bool(own_data.choice(AUTO, True))


def chosen_for(cfg: RunConfig | None) -> TableDefaults | None:
    """The settings chosen for ``cfg``'s table (None: not choosing, or no table ready yet)."""
    if cfg is None or not choosing(cfg.dataset):
        return None
    data = own_data.current(cfg)
    if data is None:
        return None
    return choose(len(data.y_train), data.n_features, data.n_classes, cfg.task, scaling_of(data))


def with_chosen(cfg: RunConfig) -> RunConfig:
    """``cfg`` with the table's chosen training settings, when they are chosen."""
    chosen = chosen_for(cfg)
    return cfg if chosen is None else chosen.apply(cfg)


def toggle(dataset: str) -> bool:
    """The sidebar's switch (for an own table); True when it is on: the caller then leaves the
    training widgets out."""
    if dataset != "table":
        return False
    st.toggle("Choose them for my table", key=own_data.choice_widget(AUTO, True), help=TOGGLE_HELP)
    on = choosing(dataset)
    if on:
        st.caption("Chosen from the table's size: see what and why beside the table. Turn this off "
                   "to set them yourself.")
    return on


def note(cfg: RunConfig | None) -> None:
    """What was chosen for the table, and why (beside the table)."""
    chosen = chosen_for(cfg)
    if chosen is None:
        return
    reasons = "\n".join(f"- {line}" for line in chosen.reasons)      # our words and numbers only
    st.info(f"**Training settings chosen for this table**: {chosen.summary()}.\n\n{reasons}\n\n"
            f"Turn off *Choose them for my table* in the sidebar to set them yourself.",
            icon=":material/tune:")
