"""Test whether one classifier's lead over another on the same images is more than chance.

Two classifiers scored on the same test images disagree on a few of them; only
those images carry information about which is better. McNemar's exact test
(McNemar 1947) asks whether the disagreements split more unevenly than a fair
coin would split them.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

__all__ = ["mcnemar"]


def _correctness(name, value):
    value = np.asarray(value)
    if value.dtype != bool:
        raise TypeError(f"{name} must be a boolean array (correct or not per image), "
                        f"got dtype {value.dtype}")
    if value.ndim != 1:
        raise ValueError(f"{name} must be 1-d (one entry per test image), got shape "
                         f"{value.shape}")
    return value


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
    a = _correctness("correct_a", correct_a)
    b = _correctness("correct_b", correct_b)
    if a.shape != b.shape:
        raise ValueError(f"correct_a and correct_b must score the same images, got shapes "
                         f"{a.shape} and {b.shape}")
    n_a_only = int(np.sum(a & ~b))
    n_b_only = int(np.sum(b & ~a))
    n = n_a_only + n_b_only
    if n == 0:
        return n_a_only, n_b_only, 1.0
    p_value = min(1.0, 2.0 * float(binom.cdf(min(n_a_only, n_b_only), n, 0.5)))
    return n_a_only, n_b_only, p_value
