"""nn.views.inspect's still pictures and Plotly figures: sizes, what they show, and that they follow
the weights."""
from __future__ import annotations

import numpy as np
import pytest

import nn
from nn.data import load_dataset
from nn.views.inspect import figures, health, neurons
from nn.views.inspect import pictures as ip
from nn.core.settings import SETTINGS
from nn.views.plots import hex_rgb


@pytest.fixture(scope="module")
def moons():
    d = load_dataset("moons", n_samples=400)
    return d.X_train, d.y_train


def _count(img: np.ndarray, rgb) -> int:
    return int((img == np.asarray(rgb, np.uint8)).all(axis=-1).sum())


def test_diverging_colours():
    c = ip.diverging(np.array([-1.0, 0.0, 1.0, 5.0]))
    assert c[0].tolist() == hex_rgb("#4393c3").tolist() and c[2].tolist() == hex_rgb("#d6604d").tolist()
    assert c[1].tolist() == hex_rgb("#f7f7f7").tolist() and c[3].tolist() == c[2].tolist()


def test_network_picture_has_its_size_and_follows_the_weights(moons):
    X, _ = moons
    model = nn.MLP([2, 4, 3, 2], seed=0)
    img = ip.network_image(model, neurons.neuron_maps(model, X, grid=20), width=500, height=400)
    assert img.shape == (400, 500, 3) and img.dtype == np.uint8
    layout = ip.network_layout([2, 4, 3, 1], 500, 400)
    x, y = layout.columns[1][0]
    assert not (img[y + 2:y + layout.tile - 2, x + 2:x + layout.tile - 2] == 255).all()   # a heatmap, not blank
    model.params[0] *= -1                                        # flip the first layer's weights
    flipped = ip.network_image(model, neurons.neuron_maps(model, X, grid=20), width=500, height=400)
    assert (flipped != img).any(axis=-1).mean() > 0.01


def test_network_picture_colours_connections_by_sign(moons):
    X, _ = moons
    model = nn.MLP([2, 3, 2], seed=0)
    model.params[0][:] = 1.0                                     # every input weight positive
    model.params[2][:] = [[0.0, 1.0]] * 3
    img = ip.network_image(model, neurons.neuron_maps(model, X, grid=10), width=400, height=300)
    strong_pos, strong_neg = ip.diverging(np.array([1.0]))[0], ip.diverging(np.array([-1.0]))[0]
    assert _count(img, strong_pos) > 100
    model.params[0][:] = -1.0
    img = ip.network_image(model, neurons.neuron_maps(model, X, grid=10), width=400, height=300)
    assert _count(img, strong_neg) > 100


def test_network_picture_shows_at_most_max_units(moons):
    X, _ = moons
    model = nn.MLP([2, 40, 2], seed=0)
    maps = neurons.neuron_maps(model, X, grid=10)
    units = ip.shown_units(model, maps, max_units=12)
    assert len(units[0]) == 12 and np.all(np.diff(units[0]) > 0)
    model.params[2][7] = 100.0                                   # unit 7 matters most: always shown
    assert 7 in ip.shown_units(model, maps, max_units=1)[0]
    assert ip.network_image(model, maps, max_units=12).shape == (560, 720, 3)


def test_weights_picture(moons):
    model = nn.MLP([64, 20, 10], seed=0)
    units = [0, 5, 9, 19, 3]
    img = ip.weights_image(neurons.first_layer_weight_images(model, (8, 8), units), units, cols=4, tile=40)
    k = 5                                                        # 40 / 8 pixels per weight
    assert img.dtype == np.uint8 and img.shape[1] == 4 * (8 * k + 6) + 6
    assert img.shape[0] == 28 + 2 * (8 * k + 16 + 6)
    model.params[0][:, 5] *= -1
    again = ip.weights_image(neurons.first_layer_weight_images(model, (8, 8), units), units, cols=4, tile=40)
    changed = (again != img).any(axis=-1)
    assert changed[:, : 8 * k + 12].sum() == 0 and changed.sum() > 100   # only the second tile


def test_health_and_histogram_pictures(moons):
    X, y = moons
    model = nn.MLP([2, 8, 8, 2], seed=0)
    monitor = health.HealthMonitor(model, X, y)
    for record in nn.Trainer(model, X, y, config=nn.TrainConfig(lr=0.01, epochs=3)).run():
        monitor.update(record)
    img = ip.health_image(monitor.history, width=400, panel_height=100)
    assert img.shape == (22 + 3 * 100, 400, 3)                   # grad, update, dead (relu)
    assert _count(img, hex_rgb(ip.LAYER_COLORS[2])) > 20          # layer 3's line
    shorter = ip.health_image(monitor.history[:2], width=400, panel_height=100)
    assert (shorter != img).any()
    hist = ip.histograms_image(monitor.histograms(), width=300, panel_height=80)
    assert hist.shape == (3 * 80, 300, 3) and _count(hist, hex_rgb("#c8c8cc")) > 50


def test_network_figure_hover_has_every_neurons_formula(moons):
    X, _ = moons
    model = nn.MLP([2, 4, 3, 2], activation="tanh", seed=0)
    fig = figures.network_figure(model, neurons.neuron_maps(model, X, grid=10), point=[0.5, -0.25])
    texts = fig.data[1].hovertext
    assert len(texts) == 2 + 4 + 3 + 1
    assert "a1_1 = tanh(" in texts[2] and "bias:" in texts[2] and "a2_3 = tanh(" in texts[8]
    assert "p(class 1)" in texts[-1]
    assert fig.data[0].source.startswith("data:image/png;base64,")


def test_health_and_histogram_figures(moons):
    X, y = moons
    model = nn.MLP([2, 8, 2], activation="sigmoid", init="xavier", seed=0)
    monitor = health.HealthMonitor(model, X, y)
    for record in nn.Trainer(model, X, y, config=nn.TrainConfig(lr=0.01, epochs=2)).run():
        monitor.update(record)
    fig = figures.health_figure(monitor.history)
    assert len(fig.data) == 3 * 2                                # grad, update, saturation x 2 layers
    assert list(fig.data[0].y) == [e["layers"][0]["grad_norm"] for e in monitor.history]
    hist = figures.histogram_figure(monitor.histograms())
    assert len(hist.data) == 4 and sum(hist.data[1].y) == 16


def test_pushes_picture_and_inside_pictures(moons):
    X, y = moons
    digits = nn.MLP([64, 16, 10], seed=0)
    x = np.random.default_rng(0).random(64)
    ex = neurons.explain_input(digits, x, top=4)
    img = ip.pushes_image(digits, ex, (8, 8), cols=4, tile=40)
    direct = ip.weights_image(neurons.first_layer_weight_images(digits, (8, 8), ex.top_units), ex.top_units,
                              cols=4, tile=40)
    assert img.shape == direct.shape and (img != direct).any()          # same tiles, other captions
    pics = ip.inside_pictures(digits, None, np.random.default_rng(1).random((50, 64)), image_shape=(8, 8))
    assert set(pics) == {"weights"}
    model = nn.MLP([2, 6, 2], seed=0)
    monitor = health.HealthMonitor(model, X, y)
    monitor.update()
    pics = ip.inside_pictures(model, monitor, X)
    assert set(pics) == {"network", "health"} and pics["network"].shape == (560, 720, 3)


@pytest.mark.parametrize("depth", [1, 5, 8, SETTINGS["hidden"].count[1]])
@pytest.mark.parametrize("width", [720, 480])
def test_network_picture_column_titles_never_overlap(moons, depth, width):
    """Issue 19: with 5 or more hidden layers the titles ran into each other."""
    from PIL import Image, ImageDraw
    model = nn.MLP([2, *[64] * depth, 2], seed=0)
    maps = neurons.neuron_maps(model, moons[0], 20)
    units = ip.shown_units(model, maps, 12)
    layout = ip.network_layout([2, *(len(u) for u in units), 1], width, 600)
    pen = ImageDraw.Draw(Image.new("RGB", (width, 600)))
    _, size, boxes = ip.title_boxes(pen, layout, model, units)
    assert size >= 7
    for (l0, _, r0, _), (l1, _, r1, _) in zip(boxes, boxes[1:]):
        assert r0 + 2 <= l1                           # a gap between neighbours
    assert boxes[0][0] >= 0 and boxes[-1][2] <= width
    assert all(bottom <= ip.HEAD for _, _, _, bottom in boxes)      # above the tiles
