import numpy as np
import pytest

from inverse_lessons.evaluation.reporting import (
    damaged_test_sets,
    filled_rmse,
    glue_spread,
    largest_p,
    most_disagreements,
    round_down,
    round_up,
    spread,
)


@pytest.mark.parametrize("x", [0.012341, 3.7e-9, 0.5, 123.4, 0.0099999])
def test_rounding_keeps_the_bound_true(x):
    up, down = round_up(x), round_down(x)
    assert down <= x <= up
    # two significant digits: the step between neighbours is at most 10 % of x
    assert up - down <= 0.1 * x + 1e-15


def test_rounding_examples():
    assert round_up(0.01234) == pytest.approx(0.013)
    assert round_down(0.01234) == pytest.approx(0.012)
    assert round_up(0.01234, digits=3) == pytest.approx(0.0124)
    assert round_up(0.012) == pytest.approx(0.012)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_rounding_refuses_what_has_no_significant_digits(bad):
    with pytest.raises(ValueError, match="positive finite"):
        round_up(bad)
    with pytest.raises(ValueError, match="positive finite"):
        round_down(bad)


def test_rounding_refuses_bad_digits():
    with pytest.raises(ValueError, match="digits"):
        round_up(0.5, digits=0)


def test_spread_is_mean_and_range():
    assert spread([0.9, 0.95, 1.0]) == "0.950 (0.900-1.000)"
    assert spread([0.958]) == "0.958"                 # one value has no range
    with pytest.raises(ValueError, match="non-empty 1-d"):
        spread([])


def test_glue_spread_returns_what_it_glues():
    glued = glue_spread("acc", [0.9, 1.0])
    assert glued == {"acc_mean": pytest.approx(0.95), "acc_min": 0.9, "acc_max": 1.0}


class _Constant:
    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def predict(self, X):
        return self.labels[: len(X)]


def test_most_disagreements_counts_against_the_first_model():
    models = [_Constant([0, 1, 2, 3]), _Constant([0, 1, 2, 0]), _Constant([1, 0, 2, 0])]
    assert most_disagreements(models, np.zeros((4, 2))) == 3
    with pytest.raises(ValueError, match="empty"):
        most_disagreements([], np.zeros((4, 2)))


def test_damaged_test_sets_are_chapter_6s_conditions():
    X = np.random.default_rng(0).random((40, 64))
    sets = damaged_test_sets(X, seeds=range(2))
    assert list(sets) == ["clean", "25% missing", "50% missing", "bottom half missing",
                          "noise, σ = 0.3"]
    assert [len(v) for v in sets.values()] == [1, 2, 2, 1, 2]
    assert np.isnan(sets["50% missing"][0]).mean() == pytest.approx(0.5, abs=0.05)
    assert not np.array_equal(sets["50% missing"][0], sets["50% missing"][1], equal_nan=True)
    block = np.isnan(sets["bottom half missing"][0]).reshape(40, 8, 8)
    assert block[:, 4:].all() and not block[:, :4].any()
    noisy = sets["noise, σ = 0.3"][0]
    assert noisy.min() >= 0 and noisy.max() <= 1 and not np.isnan(noisy).any()
    with pytest.raises(ValueError, match="empty"):
        damaged_test_sets(X, seeds=[])


def test_largest_p_is_the_largest_over_the_sets():
    y = np.zeros(20, dtype=int)
    right = lambda X: y                                # noqa: E731
    wrong_on = lambda k: (lambda X: np.r_[np.ones(k, int), y[k:]])   # noqa: E731
    assert largest_p(right, right, [None, None], y) == 1.0   # no disagreement at all
    p_10 = largest_p(right, wrong_on(10), [None], y)         # 10 to 0: p = 2 / 2**10
    assert p_10 == pytest.approx(2 / 2 ** 10)
    assert largest_p(right, wrong_on(10), [None, None], y) == p_10
    with pytest.raises(ValueError, match="empty"):
        largest_p(right, right, [], y)


def test_filled_rmse_counts_only_the_missing_pixels():
    clean = np.zeros((2, 4))
    damaged = np.array([[np.nan, 1.0, 1.0, 1.0], [0.0, np.nan, 0.0, 0.0]])
    fill_with = lambda v: (lambda X: np.where(np.isnan(X), v, X))   # noqa: E731
    assert filled_rmse(fill_with(0.5), [damaged], clean) == pytest.approx(0.5)
    assert filled_rmse(fill_with(0.0), [damaged], clean) == 0.0   # observed 1s ignored
    with pytest.raises(ValueError, match="nothing was filled"):
        filled_rmse(fill_with(0.0), [clean], clean)
