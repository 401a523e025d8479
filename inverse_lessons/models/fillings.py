"""Fill in missing pixels four ways, each fitted on complete training images only.

- ``"zero"``: a missing pixel is blank paper, 0;
- ``"mean"``: the training mean of that pixel;
- ``"KNNImputer"``: scikit-learn's ``KNNImputer(n_neighbors=5)``, the mean of that
  pixel over the 5 training images nearest on the observed pixels;
- ``"IterativeImputer"``: scikit-learn's ``IterativeImputer``, each pixel regressed
  on the others by Bayesian ridge regression, for 5 rounds, clipped to the
  training pixel range.

The two imputers are computed here as scikit-learn computes them, in fewer steps
(:class:`NearestImagesFilling`, :class:`RegressionFilling`): the same numbers, checked
against scikit-learn's classes by the tests. The baselines of chapters 6 and 8
(:mod:`inverse_lessons.models.baselines`,
:mod:`inverse_lessons.models.filled_classifier`) fill damaged images through here.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import BayesianRidge
from sklearn.metrics.pairwise import nan_euclidean_distances

from inverse_lessons._validation import check_choice
from inverse_lessons.damage import fill_missing
from inverse_lessons.threads import one_blas_thread

__all__ = ["FILLINGS", "fit_fillings", "apply_filling", "check_images",
           "NearestImagesFilling", "RegressionFilling"]

#: The four fillings, in the order tables show them.
FILLINGS = ("zero", "mean", "KNNImputer", "IterativeImputer")


class NearestImagesFilling:
    """``KNNImputer`` of scikit-learn on complete training images, one image at a time.

    A missing pixel of an image becomes the mean of that pixel over the
    ``n_neighbors`` training images nearest to it by ``nan_euclidean_distances``
    (the distance on the observed pixels, scaled up for the missing ones); an
    image with no pixel observed gets the training mean. Since every training
    image is complete, the neighbours of an image are the same for all its
    missing pixels: one distance matrix and one average per image, where
    ``KNNImputer.transform`` repeats the neighbour search pixel by pixel.

    Parameters
    ----------
    n_neighbors : int, default 5
        Neighbours averaged (at most the number of training images).

    Attributes
    ----------
    X_train_ : ndarray, shape (n, pixels)
        The training images.
    """

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    def fit(self, X_train):
        """Keep the complete training images ``X_train`` (n, pixels); return self."""
        self.X_train_ = np.array(X_train, dtype=np.float64)
        return self

    def transform(self, X):
        """Fill in ``X`` (n, pixels), NaN for a missing pixel; return a filled copy."""
        X = np.array(X, dtype=np.float64)
        missing = np.isnan(X)
        rows = np.flatnonzero(missing.any(axis=1))
        if not len(rows):
            return X
        distances = nan_euclidean_distances(X[rows], self.X_train_)
        k = min(self.n_neighbors, len(self.X_train_))
        nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
        drawn = self.X_train_[nearest].mean(axis=1)          # (rows, pixels)
        blank = np.isnan(distances).all(axis=1)               # nothing observed
        drawn[blank] = [column.mean() for column in self.X_train_.T]
        X[rows] = np.where(missing[rows], drawn, X[rows])
        return X


class RegressionFilling:
    """``IterativeImputer`` of scikit-learn (``BayesianRidge``) on complete training images.

    Each pixel has a Bayesian ridge regression on the other pixels, fitted on
    the training images. A damaged image starts with its missing pixels at the
    training means; then, for ``n_rounds`` rounds, pixel by pixel in order, each
    missing pixel is set to its regression's prediction from the image as it
    stands, clipped to [``min_value``, ``max_value``]. On complete training
    images ``IterativeImputer(max_iter=n_rounds, tol=0)`` fits the same
    regressions in every round (nothing changes between rounds), so they are
    fitted once here, and applied as it applies them.

    Parameters
    ----------
    n_rounds : int, default 5
        Rounds of the filling.
    min_value, max_value : float
        The clip of a filled pixel (the training pixel range, say).

    Attributes
    ----------
    means_ : ndarray, shape (pixels,)
        The training mean of each pixel, the first filling.
    regressions_ : list of BayesianRidge
        Pixel ``j``'s regression on the other pixels, in pixel order (none for
        images of one pixel).
    """

    def __init__(self, n_rounds=5, min_value=-np.inf, max_value=np.inf):
        self.n_rounds = n_rounds
        self.min_value = min_value
        self.max_value = max_value

    def fit(self, X_train):
        """Fit the regressions on complete training images ``X_train`` (n, pixels)."""
        X_train = np.asarray(X_train, dtype=np.float64)
        self.means_ = X_train.mean(axis=0)
        # C order, as IterativeImputer passes it: the same fit to the last bit
        # (one pixel: nothing to regress on, and the filling stays the mean)
        self.regressions_ = [BayesianRidge().fit(np.ascontiguousarray(X_train[:, others]),
                                                 X_train[:, j])
                             for j, others in enumerate(_other_pixels(X_train.shape[1]))
                             if X_train.shape[1] > 1]
        return self

    def transform(self, X):
        """Fill in ``X`` (n, pixels), NaN for a missing pixel; return a filled copy."""
        X = np.asarray(X, dtype=np.float64)
        missing = np.isnan(X)
        filled = np.where(missing, self.means_, X)
        if missing.all():              # as IterativeImputer: the means only
            return filled
        # BayesianRidge.predict is X @ coef_ + intercept_; computed so, without
        # its input checks, which cost more than the product here
        steps = [(j, others, self.regressions_[j].coef_, self.regressions_[j].intercept_)
                 for j, others in enumerate(_other_pixels(X.shape[1]))
                 if self.regressions_ and missing[:, j].any()]
        for _ in range(self.n_rounds):
            for j, others, coef, intercept in steps:
                rows = missing[:, j]
                predicted = np.ascontiguousarray(filled[rows][:, others]) @ coef + intercept
                filled[rows, j] = np.clip(predicted, self.min_value, self.max_value)
        return filled


def _other_pixels(n_pixels):
    """For each pixel j, the indices of the others, in order."""
    return [np.concatenate([np.arange(j), np.arange(j + 1, n_pixels)])
            for j in range(n_pixels)]


def fit_fillings(X_train, fillings=FILLINGS):
    """Fit the fillings on complete training images.

    The imputers fill as scikit-learn's ``KNNImputer(n_neighbors=5)`` and
    ``IterativeImputer(max_iter=5, tol=0)`` clipped to the training pixel range
    do (:class:`NearestImagesFilling`, :class:`RegressionFilling`), with ``fit``
    and ``transform``. A tolerance of 0 makes ``IterativeImputer`` run all five
    rounds when it fills a damaged image (with any positive tolerance, a complete
    training set stops its fit after one round, and so its filling too).

    Parameters
    ----------
    X_train : array-like, shape (n, pixels)
        Complete training images (no NaN).
    fillings : sequence of str, default FILLINGS
        Which of :data:`FILLINGS` to fit.

    Returns
    -------
    dict of str to imputer or fill value
        By filling: a fitted imputer, or the fill value (0.0 for zero, the
        training mean of each pixel for mean), for :func:`apply_filling`.

    Raises
    ------
    ValueError
        If ``X_train`` has missing pixels or a filling is unknown.
    """
    X_train = check_images("X_train", X_train)
    if np.isnan(X_train).any():
        raise ValueError("X_train must be complete (no NaN): the fillings are fitted "
                         "on clean images")
    for filling in fillings:
        check_choice("filling", filling, FILLINGS)
    imputers = {}
    # Small problems: one thread is as fast, and much faster on a busy machine.
    with one_blas_thread():
        for filling in FILLINGS:           # in this order, whatever was asked
            if filling not in fillings:
                continue
            if filling == "zero":
                imputers[filling] = 0.0
            elif filling == "mean":
                imputers[filling] = X_train.mean(axis=0)
            elif filling == "KNNImputer":
                imputers[filling] = NearestImagesFilling(n_neighbors=5).fit(X_train)
            else:
                imputers[filling] = RegressionFilling(
                    n_rounds=5, min_value=X_train.min(), max_value=X_train.max()).fit(X_train)
    return imputers


def apply_filling(imputers, X, filling):
    """Fill in the missing pixels of ``X`` with a fitted filling.

    Observed pixels are kept as they are; images with nothing missing come back
    unchanged.

    Parameters
    ----------
    imputers : dict
        From :func:`fit_fillings`.
    X : array-like, shape (n, pixels)
        NaN for a missing pixel.
    filling : str
        One of the keys of ``imputers``.

    Returns
    -------
    ndarray, shape (n, pixels)
        ``X`` filled in.
    """
    check_choice("filling", filling, tuple(imputers))
    X = check_images("X", X)
    imputer = imputers[filling]
    if not hasattr(imputer, "transform"):
        return fill_missing(X, imputer)
    if not np.isnan(X).any():
        return X
    with one_blas_thread():
        return imputer.transform(X)


def check_images(name, X):
    """Check that ``X`` is a 2-d array of images; NaN allowed, infinities not.

    Parameters
    ----------
    name : str
        The argument's name, for the error message.
    X : array-like, shape (n, pixels)
        Images as rows, NaN for a missing pixel.

    Returns
    -------
    ndarray of float64, shape (n, pixels)
        ``X`` as an array.

    Raises
    ------
    ValueError
        If ``X`` is not 2-d or holds an infinity.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array of images (n, pixels), "
                         f"got shape {X.shape}")
    if np.isinf(X).any():
        raise ValueError(f"{name} must not contain infinities (NaN marks a missing pixel)")
    return X
