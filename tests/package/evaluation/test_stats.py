"""McNemar's exact test and the paired sign test, checked against the binomial written out."""

from math import comb

import numpy as np
import pytest
from scipy.stats import binomtest

from inverse_lessons.evaluation.stats import mcnemar, sign_test


def _direct_p(b, c):
    """Two-sided exact p-value, summing the binomial(n, 1/2) probabilities by hand."""
    n = b + c
    tail = sum(comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def _scores(both, a_only, b_only, neither):
    a = [True] * both + [True] * a_only + [False] * b_only + [False] * neither
    b = [True] * both + [False] * a_only + [True] * b_only + [False] * neither
    return np.array(a), np.array(b)


@pytest.mark.parametrize("a_only, b_only", [(10, 2), (2, 10), (7, 7), (0, 6), (13, 4), (1, 0)])
def test_counts_and_p_value_match_the_binomial(a_only, b_only):
    a, b = _scores(40, a_only, b_only, 5)
    n_a, n_b, p = mcnemar(a, b)
    assert (n_a, n_b) == (a_only, b_only)
    assert p == pytest.approx(_direct_p(a_only, b_only), rel=1e-12)


def test_known_values():
    # 10 against 2: 2 * (1 + 12 + 66) / 4096
    assert mcnemar(*_scores(0, 10, 2, 0))[2] == pytest.approx(158 / 4096)
    # an even split is no evidence at all, and 6 against 0 is 2 / 64
    assert mcnemar(*_scores(3, 7, 7, 3))[2] == 1.0
    assert mcnemar(*_scores(3, 6, 0, 3))[2] == pytest.approx(2 / 64)


def test_symmetric_and_agreement_is_no_evidence():
    a, b = _scores(20, 9, 3, 4)
    assert mcnemar(a, b)[2] == mcnemar(b, a)[2]
    assert mcnemar(a, a) == (0, 0, 1.0)


def test_order_of_images_is_paired():
    # same accuracies (half right each), but A and B are right on different images
    a = np.array([True, False] * 10)
    assert mcnemar(a, ~a)[:2] == (10, 10)
    assert mcnemar(a, a)[:2] == (0, 0)


def test_bad_input():
    with pytest.raises(TypeError, match="boolean"):
        mcnemar(np.array([1, 0, 1]), np.array([True, False, True]))
    with pytest.raises(ValueError, match="same images"):
        mcnemar(np.array([True, False]), np.array([True]))
    with pytest.raises(ValueError, match="1-d"):
        mcnemar(np.ones((2, 2), bool), np.ones((2, 2), bool))


@pytest.mark.parametrize("a_larger, b_larger, ties", [(10, 2, 0), (3, 9, 4), (6, 6, 1),
                                                      (0, 7, 2), (1, 0, 0)])
def test_sign_test_counts_and_p_value_match_the_binomial(a_larger, b_larger, ties):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 1.0, a_larger + b_larger + ties)
    step = np.r_[np.full(a_larger, 0.1), np.full(b_larger, -0.1), np.zeros(ties)]
    order = rng.permutation(len(base))
    a, b = (base + step)[order], base[order]
    n_a, n_b, p = sign_test(a, b)
    assert (n_a, n_b) == (a_larger, b_larger)          # ties dropped
    assert p == pytest.approx(_direct_p(a_larger, b_larger), rel=1e-12)
    assert sign_test(b, a) == (n_b, n_a, p)            # symmetric
    assert p == pytest.approx(binomtest(n_a, n_a + n_b).pvalue if n_a + n_b else 1.0)


def test_sign_test_known_values_and_ties():
    # 9 against 1: 2 * (1 + 10) / 1024; every pair tied is no evidence
    a, b = np.r_[np.ones(9), 0.0], np.r_[np.zeros(9), 1.0]
    assert sign_test(a, b) == (9, 1, pytest.approx(22 / 1024))
    assert sign_test(a, a) == (0, 0, 1.0)
    # only the sign of each paired difference counts, not its size
    assert sign_test(np.array([5.0, 0.1]), np.array([0.0, 0.2]))[:2] == (1, 1)


def test_sign_test_bad_input():
    with pytest.raises(TypeError, match="numeric"):
        sign_test(np.array([True, False]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="same images"):
        sign_test(np.array([1.0, 2.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="1-d"):
        sign_test(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="finite"):
        sign_test(np.array([1.0, np.nan]), np.array([1.0, 0.0]))
