"""Fill in missing pixels four ways, each fitted on complete training images only.

- ``"zero"``: a missing pixel is blank paper, 0;
- ``"mean"``: the training mean of that pixel;
- ``"KNNImputer"``: scikit-learn's ``KNNImputer(n_neighbors=5)``, the mean of that
  pixel over the 5 training images nearest on the observed pixels;
- ``"IterativeImputer"``: scikit-learn's ``IterativeImputer``, each pixel regressed
  on the others by Bayesian ridge regression, for 5 rounds, clipped to the
  training pixel range.

The baselines of chapters 6 and 8 (:mod:`inverse_lessons.models.baselines`,
:mod:`inverse_lessons.models.filled_classifier`) fill damaged images through here.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (makes it importable)
from sklearn.impute import IterativeImputer, KNNImputer

from inverse_lessons._validation import check_choice
from inverse_lessons.damage import fill_missing
from inverse_lessons.threads import one_blas_thread

__all__ = ["FILLINGS", "fit_fillings", "apply_filling", "check_images"]

#: The four fillings, in the order tables show them.
FILLINGS = ("zero", "mean", "KNNImputer", "IterativeImputer")


def fit_fillings(X_train, fillings=FILLINGS):
    """Fit the fillings on complete training images.

    The imputers are scikit-learn's, used through ``fit`` and ``transform``:
    ``KNNImputer(n_neighbors=5)``, and ``IterativeImputer(max_iter=5, tol=0)``
    clipped to the training pixel range. A tolerance of 0 makes it run all five
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
    with one_blas_thread(), warnings.catch_warnings():
        # tol=0 runs all five rounds; a complete training set never "converges" by
        # IterativeImputer's test, which it says in a warning we expect
        warnings.simplefilter("ignore", ConvergenceWarning)
        for filling in FILLINGS:           # in this order, whatever was asked
            if filling not in fillings:
                continue
            if filling == "zero":
                imputers[filling] = 0.0
            elif filling == "mean":
                imputers[filling] = X_train.mean(axis=0)
            elif filling == "KNNImputer":
                imputers[filling] = KNNImputer(n_neighbors=5).fit(X_train)
            else:
                imputers[filling] = IterativeImputer(
                    max_iter=5, tol=0.0, random_state=0, min_value=X_train.min(),
                    max_value=X_train.max()).fit(X_train)
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
