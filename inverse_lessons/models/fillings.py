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
Inside a :func:`shared_fillings` block, an imputer fitted on the same training
images, or a set of images filled by the same imputer, is computed once and reused.
"""

from __future__ import annotations

import hashlib
import warnings
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (makes it importable)
from sklearn.impute import IterativeImputer, KNNImputer

from inverse_lessons._validation import check_choice
from inverse_lessons.damage import fill_missing
from inverse_lessons.threads import one_blas_thread

__all__ = ["FILLINGS", "fit_fillings", "apply_filling", "check_images", "shared_fillings"]

#: The four fillings, in the order tables show them.
FILLINGS = ("zero", "mean", "KNNImputer", "IterativeImputer")

# The memo of the open shared_fillings block (None outside one): fitted imputers by
# (filling, images), and filled images by (imputer, images).
_SHARED = ContextVar("shared_fillings", default=None)


@contextmanager
def shared_fillings():
    """Fit each imputer once per training set, and fill each set of images once, in a block.

    Fitting an imputer and filling images with it are deterministic, so doing
    either twice on the same images gives the same arrays, and chapter 8 would
    do both twice: its baselines fit a ``KNNImputer`` on the same training images
    for two classifiers, plain and told the noise level, and fill the same
    damaged copies for both; logistic regression and k-NN fill the same test
    images with it. Inside this block, :func:`fit_fillings` returns the imputer it
    already fitted on identical images (the same object), and
    :func:`apply_filling` returns a copy of the filling it already made of
    identical images with that imputer. Images are identical when their
    bytes are; the zero and mean fillings, which cost nothing, are not kept.

    Everything computed in the block is kept until the block ends (an outer
    block's memo, if blocks are nested). A fitted imputer is shared by whoever
    asks for it, so it must not be refitted in place; nothing in the package does.

    Yields
    ------
    None
        Use it as ``with shared_fillings(): ...``.
    """
    token = _SHARED.set({}) if _SHARED.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _SHARED.reset(token)


def _images_key(X):
    """Identify images by their shape and the digest of their bytes."""
    return X.shape, hashlib.blake2b(np.ascontiguousarray(X)).digest()


def fit_fillings(X_train, fillings=FILLINGS):
    """Fit the fillings on complete training images.

    The imputers are scikit-learn's, used through ``fit`` and ``transform``:
    ``KNNImputer(n_neighbors=5)``, and ``IterativeImputer(max_iter=5, tol=0)``
    clipped to the training pixel range. A tolerance of 0 makes it run all five
    rounds when it fills a damaged image (with any positive tolerance, a complete
    training set stops its fit after one round, and so its filling too). Inside
    a :func:`shared_fillings` block, an imputer already fitted there on the same
    images is returned again rather than refitted.

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
    shared = _SHARED.get()      # the imputers fitted on these images in the block
    memo = {} if shared is None else shared.setdefault(("fit", _images_key(X_train)), {})
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
            elif filling in memo:
                imputers[filling] = memo[filling]
            elif filling == "KNNImputer":
                imputers[filling] = memo[filling] = KNNImputer(n_neighbors=5).fit(X_train)
            else:
                imputers[filling] = memo[filling] = IterativeImputer(
                    max_iter=5, tol=0.0, random_state=0, min_value=X_train.min(),
                    max_value=X_train.max()).fit(X_train)
    return imputers


def apply_filling(imputers, X, filling):
    """Fill in the missing pixels of ``X`` with a fitted filling.

    Observed pixels are kept as they are; images with nothing missing come back
    unchanged. Inside a :func:`shared_fillings` block, a filling already made
    there of the same images with the same imputer is returned again (a copy).

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
    shared = _SHARED.get()
    key = None if shared is None else ("fill", id(imputer), _images_key(X))
    if key is not None and key in shared:
        return shared[key][1].copy()
    with one_blas_thread():
        filled = imputer.transform(X)
    if key is not None:         # the imputer kept with its filling: its id stays its own
        shared[key] = imputer, filled.copy()
    return filled


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
