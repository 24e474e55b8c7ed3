"""What every network of this library does with its logits: probabilities, predictions and
figures on a dataset, computed chunk by chunk (so a Stop can cut a long evaluation short). A
regression network (``task == "regression"``, one linear output) predicts its output, and its
figures are the mean squared error and R^2."""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from nn.core.losses import log_softmax, r2_score, reported_loss_sum


class Classifier:
    """Inference verbs for a network that provides ``logit_chunks(X, should_stop)``: the logits
    of ``X`` a chunk of rows at a time (raising ``EvaluationStopped`` when told to stop)."""
    task = "classification"


    def logit_chunks(self, X: np.ndarray, should_stop: Callable[[], bool] | None = None
                     ) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def logits(self, X: np.ndarray) -> np.ndarray:
        return _joined(list(self.logit_chunks(X)))

    def log_proba(self, X: np.ndarray, should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        """Log-probabilities of each class (chunked, like ``logit_chunks``)."""
        return _joined([log_softmax(z) for z in self.logit_chunks(X, should_stop)])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.exp(self.log_proba(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The class of each row (regression: the predicted quantity)."""
        if self.task == "regression":
            return _joined([z[:, 0] for z in self.logit_chunks(X)])
        return _joined([z.argmax(axis=1) for z in self.logit_chunks(X)])

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy on (X, y) (regression: R^2)."""
        if self.task == "regression":
            return self.evaluate(X, y)[1]
        return float((self.predict(X) == np.asarray(y)).mean())

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy on (X, y) (regression: mean squared error)."""
        return self.evaluate(X, y)[0]

    def evaluate(self, X: np.ndarray, y: np.ndarray, should_stop: Callable[[], bool] | None = None,
                 report: str = "cross_entropy") -> tuple[float, float]:
        """(mean loss, accuracy) on (X, y), the loss being ``report``'s (default cross-entropy;
        nn.core.losses) (regression: (mean squared error, R^2)), one forward pass in chunks;
        raises ``EvaluationStopped`` if ``should_stop()`` turns True between chunks."""
        y = np.asarray(y)
        if self.task == "regression":
            sse = sum(squared_errors(z, y, start) for start, z in _starts(self.logit_chunks(X, should_stop)))
            return (sse / len(y), r2_score(sse, y)) if len(y) else (float("nan"), float("nan"))
        loss_sum, correct, start = 0.0, 0, 0
        for logits in self.logit_chunks(X, should_stop):
            yc = y[start:start + len(logits)]
            logp = log_softmax(logits)
            loss_sum += reported_loss_sum(logp, yc, report)
            correct += int(np.count_nonzero(logits.argmax(axis=1) == yc))
            start += len(logits)
        n = len(y)
        return (loss_sum / n, correct / n) if n else (float("nan"), float("nan"))


def squared_errors(outputs: np.ndarray, y: np.ndarray, start: int) -> float:
    """sum (z - y)^2 of a chunk of (n, 1) outputs against y[start:start + n], in float64."""
    residuals = outputs[:, 0].astype(np.float64) - y[start:start + len(outputs)]
    return float(np.dot(residuals, residuals))


def _starts(chunks: Iterator[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    start = 0
    for z in chunks:
        yield start, z
        start += len(z)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
