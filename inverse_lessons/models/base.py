"""What the book's classifiers share: their labels and their predictions.

``InverseNet``, ``NonlinearInverseNet`` and ``AnalysisBySynthesis`` are
scikit-learn classifiers; their predictions from class scores and their
label handling are written once, here. Their one training loop and one Adam
live in :mod:`inverse_lessons.models.training`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets

__all__ = ["PosteriorPredictions", "SoftmaxPredictions", "encode_labels"]


class SoftmaxPredictions:
    """Predictions of a classifier from its class logits.

    A mixin for a fitted classifier with ``classes_`` and a method
    ``_logits(X)`` returning one row of class logits per image (n, C).
    """

    def predict_proba(self, X):
        """Return the class probabilities, the softmax of the logits.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Images, one per row.

        Returns
        -------
        ndarray of shape (n, n_classes)
            Each row sums to one.
        """
        logits = self._logits(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Return the most probable class of each image.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Images, one per row.

        Returns
        -------
        ndarray of shape (n,)
            Labels from ``classes_``.
        """
        logits = self._logits(X)   # first: it checks that the model is fitted
        return self.classes_[np.argmax(logits, axis=1)]

    def decision_function(self, X):
        """Return the class logits.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Images, one per row.

        Returns
        -------
        ndarray of shape (n, n_classes), or (n,) for two classes
            The logits; for two classes their difference, as scikit-learn expects.
        """
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if len(self.classes_) == 2 else logits


class PosteriorPredictions:
    """Predictions of a generative classifier from its log joint, log p(x | c) + log p(c).

    A mixin for a fitted classifier with ``classes_`` and a method
    ``_log_joint(X)`` returning, per image, the log-likelihood of each class
    plus its log prior (n, C).
    """

    def decision_function(self, X):
        """Compute log p(x | c) + log p(c), the unnormalised log posterior.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Images, one per row.

        Returns
        -------
        ndarray of shape (n, C), or (n,) for two classes
            For two classes the difference of the two columns, as
            scikit-learn expects.
        """
        scores = self._log_joint(X)
        return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def predict_log_proba(self, X):
        """Compute the log posterior over classes, log p(c | x).

        Parameters
        ----------
        X : array-like of shape (n, d)
            Images, one per row.

        Returns
        -------
        ndarray of shape (n, C)
        """
        scores = self._log_joint(X)
        return scores - logsumexp(scores, axis=1, keepdims=True)

    def predict_proba(self, X):
        """Compute the posterior over classes, p(c | x).

        Parameters
        ----------
        X : array-like of shape (n, d)
            Images, one per row.

        Returns
        -------
        ndarray of shape (n, C)
            Rows sum to one.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Predict the most probable class of each image.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Images, one per row.

        Returns
        -------
        ndarray of shape (n,)
            Labels from ``classes_``.
        """
        scores = self._log_joint(X)
        return self.classes_[np.argmax(scores, axis=1)]


def encode_labels(estimator, y):
    """Set ``estimator.classes_`` from the labels and return their codes.

    Parameters
    ----------
    estimator : object
        The classifier being fitted; its ``classes_`` is set.
    y : array-like of shape (n,)
        Class labels.

    Returns
    -------
    ndarray of shape (n,)
        The codes 0, ..., C - 1 of the labels.

    Raises
    ------
    ValueError
        If y is not class labels (scikit-learn's check) or holds a single
        class; the message names the estimator.
    """
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    estimator.classes_ = encoder.classes_
    if len(estimator.classes_) < 2:
        raise ValueError(f"{type(estimator).__name__} needs at least two classes in y; "
                         f"got one class: {estimator.classes_[0]!r}")
    return encoder.transform(y)
