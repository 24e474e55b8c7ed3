"""The Train page's training settings for the visitor's own table: chosen from the table's size
(``nn.runs.table_defaults``: steps enough to converge, Adam's rate for standardised inputs, early
stopping on held-out training rows) unless the visitor turns that off in the sidebar, or came by
a link that says how to train. The page says what was chosen and why, beside the table.

The choice is a table choice (``own.choices["auto"]``, ``app.train.own_data``): on by default,
kept across page switches and new uploads.
"""
from __future__ import annotations

import streamlit as st

from app.train import own_data
from nn.core.config import RunConfig
from nn.runs.table_defaults import TableDefaults, choose

AUTO = "auto"
TOGGLE_HELP = ("On: the learning rate, batch size, epochs, weight decay and early stopping are "
               "chosen from your table's size (what and why: beside the table). Off: the settings "
               "below apply as you set them.")


def choosing(dataset: str | None) -> bool:
    """Whether the training settings are chosen for the table (own table, choice on)."""
    return dataset == "table" and bool(own_data.choice(AUTO, True))


def chosen_for(cfg: RunConfig | None) -> TableDefaults | None:
    """The settings chosen for ``cfg``'s table (None: not choosing, or no table ready yet)."""
    if cfg is None or not choosing(cfg.dataset):
        return None
    data = own_data.current(cfg)
    if data is None:
        return None
    return choose(len(data.y_train), data.n_features, data.n_classes)


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
