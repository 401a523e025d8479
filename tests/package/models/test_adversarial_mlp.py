"""AdversarialMLP: scikit-learn's conventions (check_estimator), plainly and PGD-trained;
its settings checked from one table."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from inverse_lessons.models.adversarial_mlp import AdversarialMLP

# small and fast: a few epochs of a narrow network are enough for the checks' toy data
SMALL = dict(hidden_units=(16,), epochs=10, batch_size=50, learning_rate=0.02)


@parametrize_with_checks([AdversarialMLP(**SMALL),
                          AdversarialMLP(**SMALL, radius=0.1, norm="l2", pgd_steps=2)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("setting, error, message", [
    ({"hidden_units": (16, 0)}, ValueError, "hidden_units must be a sequence of integers"),
    ({"pixel_range": (1.0, 0.0)}, ValueError, r"pixel_range must be a pair \(low, high\)"),
    ({"norm": "l1"}, ValueError, "norm must be one of"),
    ({"epochs": 2.5}, TypeError, "epochs must be an integer"),
    ({"random_state": None}, TypeError, "random_state must be an integer"),
])
def test_bad_settings_are_named(setting, error, message):
    X, y = np.random.default_rng(0).random((6, 4)), [0, 1] * 3
    with pytest.raises(error, match=message):
        AdversarialMLP(**{**SMALL, **setting}).fit(X, y)


def test_no_hidden_layer_is_a_linear_model():
    X, y = np.random.default_rng(0).random((20, 4)), [0, 1] * 10
    model = AdversarialMLP(hidden_units=(), epochs=2).fit(X, y)
    assert [W.shape for W, _ in model.weights_] == [(4, 2)]
