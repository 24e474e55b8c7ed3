"""Plot builders: plain data in, plotly figures out, with the content the Train page relies on."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from nn.runs.experiment import build_model, config_from_preset, load_data
from nn.views import plots

HISTORY = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 1 - 0.5 / e,
            "val_accuracy": 1 - 0.6 / e} for e in range(1, 6)]


def test_curves_have_train_and_validation():
    fig = plots.loss_figure(HISTORY)
    assert [t.name for t in fig.data] == ["training (smoothed)", "validation (test set)"]
    assert fig.layout.yaxis.type == "log"
    assert list(fig.data[0].x) == [1, 2, 3, 4, 5] and fig.data[1].y[-1] == 1.2 / 5
    acc = plots.accuracy_figure(HISTORY)
    assert acc.layout.yaxis.tickformat == ".0%" and len(acc.data[0].y) == 5


def _running_means(step_losses: list[float], per_epoch: int, every: int) -> list[dict]:
    """Records as the Trainer writes them: each epoch's running mean so far, every ``every`` steps."""
    records = []
    for i in range(0, len(step_losses), every):
        epoch, pos = divmod(i + every, per_epoch)
        start = (i // per_epoch) * per_epoch
        mean = float(np.mean(step_losses[start:i + every]))
        end = pos == 0
        records.append({"epoch": epoch if end else epoch + pos / per_epoch, "train_loss": mean,
                        "end_of_epoch": end, "val_loss": None})
    return records


def test_the_training_line_does_not_restart_each_epoch():
    """Issue 19: the running mean restarts every epoch (it jumps back up at each epoch's start);
    the smoothed line follows the steps' losses across epochs."""
    steps = [2.0 * 0.99 ** i for i in range(400)]           # a loss falling smoothly, 100 steps an epoch
    history = _running_means(steps, per_epoch=100, every=10)
    raw = [r["train_loss"] for r in history]
    raw_jump = max(a - b for a, b in zip(raw, raw[1:]))      # the running mean restarting
    x, y = plots.smoothed_training(history, "loss")
    assert all(b < a for a, b in zip(y, y[1:]))             # falls all the way...
    assert max(a - b for a, b in zip(y, y[1:])) < raw_jump / 4   # ... without a step at epoch starts
    assert abs(y[-1] - np.mean(steps[-10:])) < 0.05         # near the latest steps, not the epoch mean
    fig = plots.loss_figure(history)
    assert list(fig.data[0].y) == y


def test_a_record_per_epoch_is_shown_almost_as_it_is():
    x, y = plots.smoothed_training(HISTORY, "loss")
    assert x == [1, 2, 3, 4, 5] and np.allclose(y, [1 / e for e in range(1, 6)], rtol=0.05)


def test_curves_skip_missing_validation_and_thin_long_histories():
    long = [{"epoch": i / 10, "train_loss": 1.0, "val_loss": None} for i in range(5000)]
    fig = plots.loss_figure(long)
    assert len(fig.data[0].x) <= 400 and fig.data[0].x[-1] == long[-1]["epoch"]
    assert len(fig.data[1].x) == 0


def test_decision_boundary_is_a_probability_heatmap_with_points():
    cfg = config_from_preset("moons", n_samples=400)
    data = load_data(cfg)
    model = build_model(cfg, data)
    fig = plots.decision_boundary_figure(model.predict_proba, data.X_train, data.y_train,
                                         data.X_test, data.y_test, grid=50)
    heat = fig.data[0]
    assert isinstance(heat, go.Heatmap) and np.asarray(heat.z).shape == (50, 50)
    assert 0 <= np.min(heat.z) and np.max(heat.z) <= 1
    assert {t.name.split()[0] for t in fig.data[1:]} == {"train", "test"}
    model.params[-1][:] = [100.0, -100.0]              # now class 0 everywhere
    fig = plots.decision_boundary_figure(model.predict_proba, data.X_train, data.y_train, grid=50)
    assert np.max(fig.data[0].z) < 0.01 and len(fig.data) == 2


def test_image_grid_marks_right_and_wrong():
    images = np.random.default_rng(0).random((20, 8, 8))
    y_true = np.arange(20) % 10
    y_pred = y_true.copy()
    y_pred[[3, 7]] = 0                                  # two wrong
    fig = plots.image_grid_figure(images, y_true, y_pred, np.full(20, 0.9))
    texts = [a.text for a in fig.layout.annotations]
    assert len(texts) == 20 and sum("true" in t for t in texts) == 2
    assert "18 of 20 right" in fig.layout.title.text
    assert "right" not in plots.image_grid_figure(images, y_true, y_pred, np.full(20, 0.9), count_right=False,
                                                  title="Wrong ones").layout.title.text
    colors = {a.font.color for a in fig.layout.annotations}
    assert colors == {plots.RIGHT, plots.WRONG}
    assert fig.data[0].source.startswith("data:image/png;base64,")


def test_confusion_matrix_counts_and_most_confident_wrong():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    cm = plots.confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    fig = plots.confusion_matrix_figure(y_true, y_pred, 3, ["a", "b", "c"])
    assert np.asarray(fig.data[0].z).sum() == 6 and "accuracy 66.67%" in fig.layout.title.text
    proba = np.array([[0.9, 0.1, 0], [0.4, 0.6, 0], [0.1, 0.9, 0], [0, 1, 0], [0, 0, 1], [0.99, 0, 0.01]])
    assert plots.most_confident_wrong(proba, y_true, k=5).tolist() == [5, 1]
