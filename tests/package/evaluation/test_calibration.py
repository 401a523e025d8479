"""Expected calibration error and the reliability table, against sums written out."""

import numpy as np
import pytest

from inverse_lessons.evaluation.calibration import expected_calibration_error, reliability


def test_reliability_bins_by_confidence_and_averages_each_bin():
    # confidences 0.95, 0.95 (one right, one wrong), 0.6 (right): 2 bins of width 1/2
    proba = np.array([[0.95, 0.05], [0.05, 0.95], [0.4, 0.6]])
    y = np.array([0, 0, 1])
    confidence, accuracy, counts = reliability(proba, y, n_bins=2)
    np.testing.assert_array_equal(counts, [0, 3])
    assert np.isnan(confidence[0]) and np.isnan(accuracy[0])
    assert confidence[1] == pytest.approx((0.95 + 0.95 + 0.6) / 3)
    assert accuracy[1] == pytest.approx(2 / 3)
    # with 10 bins: 0.6 in (0.5, 0.6], 0.95 in (0.9, 1.0]
    confidence, accuracy, counts = reliability(proba, y, n_bins=10)
    assert counts[5] == 1 and counts[9] == 2 and counts.sum() == 3
    ece = expected_calibration_error(proba, y, n_bins=10)
    assert ece == pytest.approx(1 / 3 * abs(1 - 0.6) + 2 / 3 * abs(0.5 - 0.95))


def test_a_classifier_that_is_always_sure_has_its_error_rate_as_ece():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 200)
    predicted = np.where(rng.random(200) < 0.9, labels, (labels + 1) % 10)
    proba = np.eye(10)[predicted]
    assert expected_calibration_error(proba, labels) == pytest.approx(
        np.mean(predicted != labels))


def test_calibrated_probabilities_have_a_small_ece():
    # labels drawn from the predicted probabilities themselves: calibrated by design
    rng = np.random.default_rng(1)
    logits = 3 * rng.standard_normal((20000, 4))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=p) for p in proba])
    assert expected_calibration_error(proba, y) < 0.02
    # the same probabilities pushed towards certainty are not
    sharp = proba ** 4 / (proba ** 4).sum(axis=1, keepdims=True)
    assert expected_calibration_error(sharp, y) > 0.05


def test_classes_name_the_columns():
    proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert expected_calibration_error(proba, np.array([3, 7]), classes=[3, 7]) == \
        pytest.approx(expected_calibration_error(proba, np.array([0, 1])))


@pytest.mark.parametrize("proba, y, kwargs, pattern", [
    (np.ones(3), np.zeros(3), {}, "2-d"),
    (np.array([[0.5, 0.6]]), np.zeros(1), {}, "sum to 1"),
    (np.array([[np.nan, 1.0]]), np.zeros(1), {}, "finite"),
    (np.array([[0.5, 0.5]]), np.zeros(2), {}, "y must have shape"),
    (np.array([[0.5, 0.5]]), np.zeros(1), {"n_bins": 0}, "n_bins"),
    (np.array([[0.5, 0.5]]), np.zeros(1), {"classes": [1]}, "classes"),
])
def test_bad_input_is_a_clear_error(proba, y, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        expected_calibration_error(proba, y, **kwargs)
