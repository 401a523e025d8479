"""Damaged images and the baselines that have to fill them in."""

import numpy as np
import pytest

from inverse_lessons.damage import (
    add_noise,
    drop_block,
    drop_pixels,
    fill_missing,
    with_damaged_copies,
)
from inverse_lessons.data import load_digits_split

X_TRAIN, Y_TRAIN, X_TEST, Y_TEST = load_digits_split()


def test_drop_pixels_fraction_and_determinism():
    damaged = drop_pixels(X_TEST, 0.5, seed=3)
    assert abs(np.isnan(damaged).mean() - 0.5) < 0.01
    np.testing.assert_array_equal(np.isnan(damaged), np.isnan(drop_pixels(X_TEST, 0.5, seed=3)))
    assert not np.isnan(X_TEST).any()                       # the input is untouched
    seen = ~np.isnan(damaged)
    np.testing.assert_array_equal(damaged[seen], X_TEST[seen])


def test_drop_block_removes_the_bottom_half():
    damaged = drop_block(X_TEST).reshape(-1, 8, 8)
    assert np.isnan(damaged[:, 4:]).all() and not np.isnan(damaged[:, :4]).any()


def test_add_noise_is_clipped():
    noisy = add_noise(X_TEST, 0.3, seed=0)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert 0.1 < np.abs(noisy - X_TEST).mean() < 0.3


def test_damaged_copies_stack_with_labels():
    X, y = with_damaged_copies(X_TRAIN[:10], Y_TRAIN[:10], fractions=(0.0, 0.5))
    assert X.shape == (20, 64) and list(y) == list(Y_TRAIN[:10]) * 2
    assert not np.isnan(X[:10]).any() and np.isnan(X[10:]).any()


@pytest.mark.parametrize("call, pattern", [
    (lambda: drop_pixels(X_TEST, 1.5), "fraction must be between 0 and 1"),
    (lambda: drop_block(X_TEST, rows=(5, 9)), "rows must satisfy"),
    (lambda: drop_block(X_TEST[:, :10]), "must have 64 pixels"),
    (lambda: add_noise(X_TEST, -1.0), "sigma must be non-negative"),
    (lambda: drop_pixels(X_TEST[0], 0.5), "X must be a 2-d array"),
])
def test_bad_damage_arguments(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_fill_missing():
    X = np.array([[np.nan, 1.0], [2.0, np.nan]])
    np.testing.assert_array_equal(fill_missing(X, 0.0), [[0.0, 1.0], [2.0, 0.0]])
    np.testing.assert_array_equal(fill_missing(X, np.array([5.0, 6.0])), [[5.0, 1.0], [2.0, 6.0]])
