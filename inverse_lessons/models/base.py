"""What the book's classifiers share (private): labels, the training loop, softmax predictions.

``InverseNet``, ``NonlinearInverseNet`` and ``AnalysisBySynthesis`` are
scikit-learn classifiers that learn by gradient steps; the plumbing around
those steps is written once, here.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from tqdm.auto import tqdm

from inverse_lessons._tf import tf
from inverse_lessons.inversion.solver import DivergenceError

__all__ = [
    "SoftmaxPredictions",
    "adam_step",
    "encode_labels",
    "run_iterations",
    "shared_trainer",
    "training_diverged",
]


class SoftmaxPredictions:
    """``predict``, ``predict_proba`` and ``decision_function`` from ``_logits(X)`` (n, C).

    For a fitted classifier with ``classes_`` and a method ``_logits``
    returning one row of class logits per image.
    """

    def predict_proba(self, X):
        """Class probabilities (n, n_classes): the softmax of the logits."""
        logits = self._logits(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class of each image (n,)."""
        logits = self._logits(X)   # first: it checks that the model is fitted
        return self.classes_[np.argmax(logits, axis=1)]

    def decision_function(self, X):
        """Class logits (n, n_classes); for two classes the logit difference (n,)."""
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if len(self.classes_) == 2 else logits


def encode_labels(estimator, y):
    """Set ``estimator.classes_`` from the labels y (n,) and return their codes 0..C-1.

    Refuses targets that are not class labels (scikit-learn's check) and a
    single class, naming the estimator.
    """
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    estimator.classes_ = encoder.classes_
    if len(estimator.classes_) < 2:
        raise ValueError(f"{type(estimator).__name__} needs at least two classes in y; "
                         f"got one class: {estimator.classes_[0]!r}")
    return encoder.transform(y)


def training_diverged(iteration, loss, cause, *, step_size, step_size_bound=None):
    """The :class:`DivergenceError` for a non-finite training loss, saying why."""
    return DivergenceError(f"training diverged at iteration {iteration}: the loss is {loss}; "
                           f"{cause}", step_size=step_size, step_size_bound=step_size_bound)


def run_iterations(estimator, update, diverged):
    """The outer loop: ``estimator.max_iter`` calls of ``update(i)``, then ``n_iter_``.

    update : callable i -> (loss, *details), floats; one optimiser step.
    diverged : callable (i, loss, *details) -> DivergenceError, raised as soon
        as a loss is not finite.
    Sets ``loss_curve_`` (the loss of every iteration) and ``n_iter_``. A tqdm
    progress bar is shown when ``estimator.progress`` is true.
    """
    estimator.loss_curve_ = []
    for i in tqdm(range(estimator.max_iter), disable=not estimator.progress,
                  desc=type(estimator).__name__, unit="it", leave=False):
        loss, *details = update(i)
        if not math.isfinite(loss):
            raise diverged(i, loss, *details)
        estimator.loss_curve_.append(loss)
    estimator.n_iter_ = estimator.max_iter


_TRAINERS = {}
_TRAINERS_LOCK = threading.Lock()


def shared_trainer(kind, key, build):
    """The one trainer of ``kind`` for ``key`` in this process, made by ``build()`` first.

    A trainer holds an estimator's traced training step and the variables it works
    on, so every fit whose settings and data shape give the same key reuses one
    trace. kind : the trainer's class (it keeps two estimators' keys apart);
    key : hashable. Thread-safe.
    """
    with _TRAINERS_LOCK:
        if (kind, key) not in _TRAINERS:
            _TRAINERS[kind, key] = build()
        return _TRAINERS[kind, key]


def adam_step(parameters, gradients, moments, velocities, step, learning_rate,
              beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """One step of Adam (Kingma and Ba 2015) on lists of tensors, in Keras's form.

    ``step`` is the step's number t (1, 2, ...), a tensor of the parameters' dtype, as
    is ``learning_rate``; the defaults are Keras's, and so is the update, with the bias
    corrections folded into the step size: p -= alpha m / (sqrt(v) + epsilon),
    alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t). Pure: returns the new parameters,
    first and second moments (lists), for use inside a traced training step.
    """
    alpha = learning_rate * tf.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
    moments = [m + (g - m) * (1 - beta_1) for g, m in zip(gradients, moments, strict=True)]
    velocities = [v + (tf.square(g) - v) * (1 - beta_2)
                  for g, v in zip(gradients, velocities, strict=True)]
    parameters = [p - (m * alpha) / (tf.sqrt(v) + epsilon)
                  for p, m, v in zip(parameters, moments, velocities, strict=True)]
    return parameters, moments, velocities
