"""A classifier after a filling of missing pixels, optionally trained on damaged copies.

Chapter 8's baselines are :class:`FilledClassifier` objects: a filling
(:mod:`inverse_lessons.models.fillings`) before a scikit-learn classifier,
trained also on copies of the training images damaged as the test images are
where cross-validation found that this helps. Their settings are
:data:`inverse_lessons.models.baselines.TUNED_BASELINES`.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.svm import SVC
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from inverse_lessons._validation import (
    Boolean,
    Integer,
    Options,
    Real,
    check_params,
    check_positive,
)
from inverse_lessons.damage import add_noise, drop_block, drop_pixels
from inverse_lessons.models.fillings import FILLINGS, apply_filling, check_images, fit_fillings
from inverse_lessons.threads import one_blas_thread

__all__ = ["training_copies", "FilledClassifier"]

_CONSTRAINTS = {
    "filling": [Options(*FILLINGS)],
    "damaged_copies": [Boolean()],
    "noise_std": [None, Real(0, closed="neither")],
    "copy_seed": [Integer(0)],
}


def training_copies(X, y, *, missing=True, noise_std=None, seed=0):
    """Stack the training images with copies damaged as chapter 8's test images are.

    Parameters
    ----------
    X : array-like, shape (n, pixels)
        Complete training images.
    y : array-like, shape (n,)
        Their labels.
    missing : bool, default True
        Add two copies: one with half the pixels missing at random
        (``drop_pixels(X, 0.5, seed=seed + 1)``) and one without the bottom half
        (``drop_block``).
    noise_std : float or None, default None
        sigma > 0 adds one more copy with Gaussian noise of that standard
        deviation, clipped to [0, 1] (``add_noise(X, sigma, seed=seed + 2)``).
    seed : int, default 0
        Seed of the copies' damage.

    Returns
    -------
    X_stacked : ndarray, shape (n_copies * n, pixels)
        The clean images first; missing pixels NaN.
    y_stacked : ndarray, shape (n_copies * n,)
        The labels repeated to match.
    """
    X = check_images("X", X)
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), got {y.shape}")
    parts = [X]
    if missing:
        parts += [drop_pixels(X, 0.5, seed=seed + 1), drop_block(X)]
    if noise_std is not None:
        check_positive("noise_std", noise_std)
        parts.append(add_noise(X, noise_std, seed=seed + 2))
    return np.concatenate(parts), np.concatenate([y] * len(parts))


class FilledClassifier(ClassifierMixin, BaseEstimator):
    """A classifier after a filling, optionally trained on damaged copies.

    Parameters
    ----------
    estimator : scikit-learn classifier, default ``SVC()``
        Unfitted; cloned by :meth:`fit`.
    filling : one of :data:`FILLINGS`, default ``"KNNImputer"``
        How missing pixels (NaN) are filled in, at training and at test time;
        fitted on the clean training images only.
    damaged_copies : bool, default False
        Train also on two copies damaged as chapter 8's test images are, half
        the pixels missing and the bottom half missing, filled in the same way
        (:func:`training_copies`); needs 8x8 images (64 pixels).
    noise_std : float or None, default None
        The noise level the classifier is told: train also on a copy with
        clipped Gaussian noise of this standard deviation.
    copy_seed : int, default 0
        Seed of the copies' damage.

    Attributes
    ----------
    estimator_ : classifier
        The fitted classifier, on filled pixels.
    imputers_ : dict
        From :func:`fit_fillings`.
    classes_ : ndarray, shape (n_classes,)
        The labels seen in :meth:`fit`.
    n_features_in_ : int
        Pixels per image.

    Notes
    -----
    A scikit-learn classifier: it passes ``check_estimator`` but for one check,
    which puts NaN in the training images because NaN is allowed at prediction;
    ``fit`` needs complete training images (the fillings are fitted on them).
    """

    def __init__(self, estimator=None, filling="KNNImputer", damaged_copies=False,
                 noise_std=None, copy_seed=0):
        self.estimator = estimator
        self.filling = filling
        self.damaged_copies = damaged_copies
        self.noise_std = noise_std
        self.copy_seed = copy_seed

    def __sklearn_tags__(self):
        """Declare that NaN (a missing pixel) is allowed in X (at prediction)."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _unfitted_estimator(self):
        return SVC() if self.estimator is None else self.estimator

    def _estimator_has(method):
        """Whether the (fitted, else the given) classifier has ``method``."""
        def check(self):
            fitted = getattr(self, "estimator_", None)
            return hasattr(fitted if fitted is not None else self._unfitted_estimator(),
                           method)
        return check

    def fit(self, X, y):
        """Fit the filling on clean ``X``, then the classifier on the filled set and its copies.

        Parameters
        ----------
        X : array-like, shape (n, pixels)
            Complete training images; damaged copies need 8x8 images (64 pixels).
        y : array-like, shape (n,)
            Their labels.

        Returns
        -------
        FilledClassifier
            self, fitted.

        Raises
        ------
        ValueError, TypeError
            For a bad setting or bad data (missing pixels in ``X`` among them),
            named in the message.
        """
        check_params(self, _CONSTRAINTS)
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        check_classification_targets(y)
        self.imputers_ = fit_fillings(X, fillings=(self.filling,))
        X_all, y_all = training_copies(X, y, missing=self.damaged_copies,
                                       noise_std=self.noise_std, seed=self.copy_seed)
        filled = apply_filling(self.imputers_, X_all, self.filling)
        with one_blas_thread():
            self.estimator_ = clone(self._unfitted_estimator()).fit(filled, y_all)
        self.classes_ = self.estimator_.classes_
        return self

    def fill(self, X):
        """Fill in ``X`` as this classifier fills it.

        Parameters
        ----------
        X : array-like, shape (n, pixels)
            NaN for a missing pixel.

        Returns
        -------
        ndarray, shape (n, pixels)
            ``X`` filled in.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan",
                          dtype=np.float64)
        return apply_filling(self.imputers_, X, self.filling)

    def predict(self, X):
        """Predict the labels of images ``X``, filled in first.

        Parameters
        ----------
        X : array-like, shape (n, pixels)
            NaN for a missing pixel.

        Returns
        -------
        ndarray, shape (n,)
            Labels.
        """
        filled = self.fill(X)
        with one_blas_thread():
            return self.estimator_.predict(filled)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Predict class probabilities of images ``X``, if the classifier gives them.

        Parameters
        ----------
        X : array-like, shape (n, pixels)
            NaN for a missing pixel.

        Returns
        -------
        ndarray, shape (n, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        filled = self.fill(X)
        with one_blas_thread():
            return self.estimator_.predict_proba(filled)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Score the classes of images ``X``, if the classifier scores them.

        Parameters
        ----------
        X : array-like, shape (n, pixels)
            NaN for a missing pixel.

        Returns
        -------
        ndarray, shape (n, n_classes) or (n,)
            The classifier's ``decision_function`` on the filled images.
        """
        filled = self.fill(X)
        with one_blas_thread():
            return self.estimator_.decision_function(filled)
