"""Streamlit side of the Train page's CNN view: the first conv layer's filters and, for one test
image, each conv layer's feature maps, redrawn as still pictures while a CNN trains
(``nn.views.cnn_pictures``). Shown only when the session's model is a convolutional network,
which then gets this view instead of ``app.train.inside``'s section (its health and Step cover
fully connected networks only, so none of its widgets is shown for a CNN)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from nn.data import Dataset
from nn.views.cnn_pictures import conv_layers, feature_maps_image, filters_image

K = "cnn."                        # widget keys
KEPT = "cnn_kept"                 # their values, kept across page switches
BUDGET = 0.03                     # share of the training time the live pictures may take
MIN_GAP = 1.0                     # seconds between two live redraws at least


@dataclass
class Slots:
    filters: Any
    maps: Any
    index: int
    last: float = -1e9
    cost: float = 0.0


def shown(s: Any, data: Dataset | None) -> bool:
    """The view applies: the session holds a CNN trained on an image dataset."""
    return data is not None and data.image_shape is not None and bool(conv_layers(s.model))


def _keep() -> None:
    st.session_state[KEPT] = st.session_state[K + "index"]


def layout(s: Any, data: Dataset | None) -> Slots | None:
    """The section's heading, the test-image choice and two placeholders (None: no CNN)."""
    if not shown(s, data):
        return None
    st.subheader("Inside the CNN: filters and feature maps")
    key = K + "index"
    if key not in st.session_state:
        st.session_state[key] = min(st.session_state.get(KEPT, 0), len(data.X_test) - 1)
    index = st.number_input("Test image shown", 0, len(data.X_test) - 1, step=1, key=key,
                            on_change=_keep, help="Which test image's feature maps to show")
    st.caption("Left: what each first-layer filter looks for. Right: what each conv layer "
               "computes for this image (bright: strong response). They change as the network learns. "
               "The health per layer and Step through backprop cover fully connected networks (MLPs): "
               "choose Kind MLP to see them.")
    left, right = st.columns([1, 1])
    return Slots(left.empty(), right.empty(), int(index))


def draw(slots: Slots | None, s: Any, data: Dataset | None, final: bool) -> None:
    """Redraw the pictures: always when training stops, else within ``BUDGET`` of the time."""
    if slots is None or not shown(s, data):
        return
    now = time.perf_counter()
    if not final and now - slots.last < max(MIN_GAP, slots.cost / BUDGET):
        return
    slots.filters.image(filters_image(s.model, width=480))
    slots.maps.image(feature_maps_image(s.model, data.X_test[slots.index], data.image_shape, width=480),
                     caption=f"Test image {slots.index}, labelled {data.label(int(data.y_test[slots.index]))}")
    slots.last = time.perf_counter()
    slots.cost = slots.last - now
