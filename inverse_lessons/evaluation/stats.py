"""Test whether one classifier's lead over another on the same images is more than chance.

Two classifiers scored on the same test images disagree on a few of them; only
those images carry information about which is better. McNemar's exact test
(McNemar 1947) asks whether the disagreements split more unevenly than a fair
coin would split them. The sign test asks the same of a measured size (an
attack's smallest flip, say): on how many images is A's the larger, and on how
many B's?
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

__all__ = ["mcnemar", "sign_test"]


def _paired(name_a, value_a, name_b, value_b, *, correctness):
    """Check two 1-d arrays with one entry per image, the images in the same order.

    ``correctness=True``: booleans (correct or not); else finite numbers (sizes).
    """
    values = []
    for name, value in ((name_a, value_a), (name_b, value_b)):
        value = np.asarray(value)
        if correctness and value.dtype != bool:
            raise TypeError(f"{name} must be a boolean array (correct or not per image), "
                            f"got dtype {value.dtype}")
        if not correctness and (value.dtype == bool
                                or not np.issubdtype(value.dtype, np.number)):
            raise TypeError(f"{name} must be a numeric array (one size per image), got dtype "
                            f"{value.dtype}")
        if value.ndim != 1:
            raise ValueError(f"{name} must be 1-d (one entry per image), got shape "
                             f"{value.shape}")
        if not correctness and not np.all(np.isfinite(value)):
            raise ValueError(f"{name} must be finite (no NaN or infinity)")
        values.append(value)
    if values[0].shape != values[1].shape:
        raise ValueError(f"{name_a} and {name_b} must cover the same images, got shapes "
                         f"{values[0].shape} and {values[1].shape}")
    return values


def mcnemar(correct_a, correct_b):
    """McNemar's exact test for two classifiers scored on the same test images.

    Parameters
    ----------
    correct_a, correct_b : array of bool, shape (n_images,)
        Whether classifier A (and B) labelled each test image correctly, the
        images in the same order.

    Returns
    -------
    n_a_only : int
        Images A gets right and B gets wrong.
    n_b_only : int
        Images B gets right and A gets wrong.
    p_value : float
        Exact two-sided p-value: under the null hypothesis that both are equally
        accurate, each of the ``n = n_a_only + n_b_only`` disagreements goes either
        way with probability 1/2, so ``p = min(1, 2 P[Binomial(n, 1/2) <= min(n_a_only,
        n_b_only)])``; 1 when they never disagree.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([True] * 10 + [False] * 2)
    >>> b = np.array([False] * 10 + [True] * 2)
    >>> mcnemar(a, b)[:2]
    (10, 2)
    """
    a, b = _paired("correct_a", correct_a, "correct_b", correct_b, correctness=True)
    n_a_only = int(np.sum(a & ~b))
    n_b_only = int(np.sum(b & ~a))
    return n_a_only, n_b_only, _fair_coin_p(n_a_only, n_b_only)


def _fair_coin_p(k_a, k_b):
    """Exact two-sided p-value of a k_a : k_b split under a fair coin; 1 if empty."""
    n = k_a + k_b
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * float(binom.cdf(min(k_a, k_b), n, 0.5)))


def sign_test(values_a, values_b):
    """Exact paired sign test: is A's value the larger on more images than chance allows.

    Parameters
    ----------
    values_a, values_b : array of float, shape (n_images,)
        One measured size per image for A and for B (for example each image's
        smallest flip found against two classifiers), the images in the same order.

    Returns
    -------
    n_a_larger : int
        Images on which A's value is the larger.
    n_b_larger : int
        Images on which B's value is the larger. Ties carry no sign and are dropped.
    p_value : float
        Exact two-sided p-value: under the null hypothesis that the median paired
        difference is zero, each untied image favours either with probability 1/2,
        so ``p = min(1, 2 P[Binomial(n, 1/2) <= min(n_a_larger, n_b_larger)])`` with
        ``n = n_a_larger + n_b_larger``; 1 when every pair ties.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    >>> b = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    >>> sign_test(a, b)[:2]
    (4, 1)
    """
    a, b = _paired("values_a", values_a, "values_b", values_b, correctness=False)
    n_a_larger = int(np.sum(a > b))
    n_b_larger = int(np.sum(b > a))
    return n_a_larger, n_b_larger, _fair_coin_p(n_a_larger, n_b_larger)
