"""The Draw page's look inside the network: each hidden layer's activations for the drawing and
the first-layer units that pushed the prediction most (an MLP's; ``nn.views.inspect``)."""
from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from app.draw.models import KEPT
from app.keep import kept
from app.train.inside_state import inspectable
from nn.views.draw import predict_drawing
from nn.views.inspect import explain_input
from nn.views.inspect import pictures as ip


def drawing_inside(model: Any, image: np.ndarray | None, shape: tuple[int, int] = (28, 28)) -> None:
    """Each hidden layer's activations for the drawing, and the first-layer units that pushed the
    prediction most (their weights as images)."""
    if image is None or not inspectable(model) or model.layer_sizes[0] != shape[0] * shape[1]:
        return
    pred = predict_drawing(model, image)
    if pred is None:
        return
    on = st.toggle("Look inside the network", **kept("draw_inside", False, KEPT),
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
