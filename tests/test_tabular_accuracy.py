"""Real tables (scikit-learn's bundled iris, wine and breast cancer, written to CSV here) through
read_table -> dataset_from_table -> our MLP, against scikit-learn's MLPClassifier with the same
hidden sizes, epochs (max_iter), batch size, learning rate and split.

A test split of 38 rows (iris) moves 2.6 points per row, so each side's accuracy is the mean
over five initialisation seeds; ours must be at least scikit-learn's minus one point."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

import nn
from nn.data.tables import dataset_from_table, read_table

HIDDEN, EPOCHS, BATCH, LR = (64,), 200, 32, 1e-3
SEEDS = range(5)


def csv_of(loader) -> bytes:
    bunch = loader(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["class"] = np.asarray(bunch.target_names)[bunch.target]
    return frame.to_csv(index=False).encode()


def ours(data, seed: int) -> float:
    model = nn.MLP([data.n_features, *HIDDEN, data.n_classes], activation="relu", seed=seed)
    config = nn.TrainConfig(optimizer="adam", lr=LR, batch_size=BATCH, epochs=EPOCHS, seed=seed)
    for _ in nn.Trainer(model, data.X_train, data.y_train, config=config).run():
        pass
    return model.score(data.X_test, data.y_test)


def theirs(data, seed: int) -> float:
    clf = MLPClassifier(hidden_layer_sizes=HIDDEN, activation="relu", solver="adam",
                        learning_rate_init=LR, batch_size=BATCH, max_iter=EPOCHS, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data.X_train, data.y_train)
    return clf.score(data.X_test, data.y_test)


@pytest.mark.parametrize("name, loader", [("iris", datasets.load_iris),
                                          ("wine", datasets.load_wine),
                                          ("breast_cancer", datasets.load_breast_cancer)])
def test_accuracy_at_least_scikit_learns(name, loader, tmp_path):
    path = tmp_path / f"{name}.csv"
    path.write_bytes(csv_of(loader))
    data = dataset_from_table(read_table(path), "class", test_size=0.25, seed=0, name=path.name)
    assert data.n_classes == len(loader().target_names)
    mine = np.mean([ours(data, s) for s in SEEDS])
    sk = np.mean([theirs(data, s) for s in SEEDS])
    print(f"{name}: nn {mine:.4f}  scikit-learn {sk:.4f}")
    assert mine >= sk - 0.01, f"{name}: nn {mine:.4f} < scikit-learn {sk:.4f} - 1 point"
    assert mine >= 0.9
