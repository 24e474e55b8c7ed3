"""A trained model's final figures on its dataset, as the CLI's ``--json`` and the pages report them.

Classification: loss (cross-entropy) and accuracy. Regression: loss (the mean squared error of
what the network learns), R^2 = 1 - SSE / SST, and RMSE = sqrt(MSE) in the label's own units (a
table's label is learnt standardised, ``nn.data.tables.quantity``: RMSE = sqrt(MSE) x its scale).
"""
from __future__ import annotations

import math
from typing import Any

from nn.core.tta import tta_evaluate
from nn.data import Dataset


def label_scale(data: Dataset) -> float:
    """How many label units one unit of the network's output is (1 but for a regression table)."""
    schema = getattr(data, "schema", None) or {}
    return float(schema.get("target_scale") or 1.0)


def final_scores(model: Any, data: Dataset, tta: int = 1, report: str = "cross_entropy") -> dict[str, float]:
    """{"train_loss", "train_accuracy", "test_loss", "test_accuracy"}, the loss being ``report``'s
    (nn.core.losses); for regression {"train_loss", "train_r2", "train_rmse", "test_loss",
    "test_r2", "test_rmse"}. ``tta`` > 1: the test figures read each image as the mean prediction
    of that many shifted copies (their loss the cross-entropy)."""
    scores: dict[str, float] = {}
    for part, X, y in (("train", data.X_train, data.y_train), ("test", data.X_test, data.y_test)):
        loss, score = (tta_evaluate(model, X, y, tta) if part == "test" and tta > 1
                       else model.evaluate(X, y, report=report))
        scores[f"{part}_loss"] = loss
        if data.task == "regression":
            scores[f"{part}_r2"] = score
            scores[f"{part}_rmse"] = math.sqrt(loss) * label_scale(data)
        else:
            scores[f"{part}_accuracy"] = score
    return scores


def scores_line(scores: dict[str, float]) -> str:
    """'test accuracy 97.50%  test loss 0.0712', or 'test R² 0.981  test RMSE 0.0412  ...'."""
    if "test_r2" in scores:
        return (f"test R² {scores['test_r2']:.4f}  test RMSE {scores['test_rmse']:.4g}  "
                f"test loss {scores['test_loss']:.4f}")
    return f"test accuracy {scores['test_accuracy']:.2%}  test loss {scores['test_loss']:.4f}"
