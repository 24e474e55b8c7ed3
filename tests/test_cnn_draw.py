"""The shipped CNN (models/mnist-cnn.npz) on the Draw page: MNIST test digits moved and rescaled on
the 280x280 board read as the originals (issue 11's canvas figure), and the page's choice of model."""
import numpy as np
import pytest
from test_draw_robustness import board_agreement

import nn
from nn.core import Sequential
from app.draw.logic import model_choices
from nn.views.draw import (CNN_MODEL_PATH, DEFAULT_MODEL_PATH, describe_model, load_mnist_model,
                           mnist_model_problem, predict_drawing)

N_DIGITS = 1000
MIN_AGREEMENT = 0.99


@pytest.mark.mnist
def test_shipped_cnn_reads_moved_and_resized_digits_as_the_originals(mnist_path):
    agreement = board_agreement(CNN_MODEL_PATH, mnist_path, N_DIGITS)
    print(f"\nCNN agreement on {N_DIGITS} moved/resized MNIST test digits: {agreement:.1%}")
    assert agreement >= MIN_AGREEMENT


def test_shipped_cnn_is_small_and_reads_digits():
    assert CNN_MODEL_PATH.stat().st_size <= 1024 * 1024
    model = load_mnist_model(CNN_MODEL_PATH)
    assert isinstance(model, Sequential) and model.n_params < 100_000
    assert mnist_model_problem(model) is None and model.meta["preprocessing"] == "mnist-28x28/255"
    assert model.meta["history"][-1]["val_accuracy"] >= 0.99
    assert "CNN" in describe_model(model) and "MNIST test set" in describe_model(model)
    board = np.zeros((280, 280, 4), np.uint8)
    board[40:240, 130:150, :] = 255                                    # a 1
    assert predict_drawing(model, board).digit == 1


def test_a_cnn_for_other_inputs_is_refused():
    from nn.core import build_network
    small = build_network("conv 3x3x4, dense 8", (1, 8, 8), 10)
    assert "784" in mnist_model_problem(small)


def test_the_shipped_cnn_comes_before_the_shipped_mlp():
    cnn, mlp = nn.load(CNN_MODEL_PATH), nn.load(DEFAULT_MODEL_PATH)
    assert list(model_choices(None, None, cnn, mlp)) == ["Shipped default", "Shipped MLP"]
    assert list(model_choices(mlp, None, cnn, mlp))[0] == "Trained in this session"
