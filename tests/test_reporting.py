import numpy as np
import pytest

from inverse_lessons.reporting import glue_spread, most_disagreements, round_down, round_up, spread


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
