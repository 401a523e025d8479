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

from inverse_lessons._validation import check_choice, check_positive
from inverse_lessons.damage import add_noise, drop_block, drop_pixels
from inverse_lessons.models.fillings import FILLINGS, apply_filling, check_images, fit_fillings
from inverse_lessons.threads import one_blas_thread

__all__ = ["training_copies", "FilledClassifier"]


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
        (:func:`training_copies`).
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
    """

    def __init__(self, estimator=None, filling="KNNImputer", damaged_copies=False,
                 noise_std=None, copy_seed=0):
        self.estimator = estimator
        self.filling = filling
        self.damaged_copies = damaged_copies
        self.noise_std = noise_std
        self.copy_seed = copy_seed

    def fit(self, X, y):
        """Fit the filling on clean ``X``, then the classifier on the filled set and its copies.

        Parameters
        ----------
        X : array-like, shape (n, pixels)
            Complete training images.
        y : array-like, shape (n,)
            Their labels.

        Returns
        -------
        FilledClassifier
            self, fitted.
        """
        check_choice("filling", self.filling, FILLINGS)
        self.imputers_ = fit_fillings(X, fillings=(self.filling,))
        X_all, y_all = training_copies(X, y, missing=self.damaged_copies,
                                       noise_std=self.noise_std, seed=self.copy_seed)
        filled = apply_filling(self.imputers_, X_all, self.filling)
        estimator = SVC() if self.estimator is None else self.estimator
        with one_blas_thread():
            self.estimator_ = clone(estimator).fit(filled, y_all)
        self.classes_ = self.estimator_.classes_
        self.n_features_in_ = filled.shape[1]
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
        if not hasattr(self, "estimator_"):
            raise RuntimeError("this FilledClassifier is not fitted yet: call fit first")
        X = check_images("X", X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} pixels per image "
                             f"(as in training), got {X.shape[1]}")
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
