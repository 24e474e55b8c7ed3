"""The drawing plane's logic, without Streamlit: what a click on the plane does to the points.
The plane's selection events come from the browser, so they are read as untrusted (any shape,
any value); app/train/own_data.py draws the plane and calls in here."""
from __future__ import annotations

import math
from typing import Any

from nn.data.tables import Points
from nn.views.table_figures import PLANE_RANGE

POINT_CLASSES = 4                    # classes offered on the drawing plane
REMOVE_WITHIN = 0.3                  # a click removes the nearest point within this distance


def apply_click(points: Points, mode: str | int, x: float, y: float) -> str | None:
    """Add a point of class ``mode`` at (x, y) on the plane, or remove the nearest one
    (``mode='remove'``). Returns a message for the user when nothing changed."""
    try:
        if mode == "remove":
            gone = points.remove_nearest(x, y, max_distance=REMOVE_WITHIN)
            return None if gone else "No point near there to remove."
        points.add(x, y, int(mode), bounds=PLANE_RANGE)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def selection(event: Any) -> dict:
    selection = event.get("selection") if isinstance(event, dict) else None
    return selection if isinstance(selection, dict) else {}


def clicked_point(event: Any) -> tuple[float, float] | None:
    """(x, y) of the first point of a plane's selection event; None for an event the chart
    never sends (the browser's message is untrusted: any shape, any value may come)."""
    picked = selection(event).get("points")
    point = picked[0] if isinstance(picked, list) and picked else None
    if not isinstance(point, dict):
        return None
    x, y = point.get("x"), point.get("y")
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y))
    return (float(x), float(y)) if ok else None
