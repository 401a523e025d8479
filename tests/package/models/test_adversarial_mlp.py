"""AdversarialMLP: scikit-learn's conventions (check_estimator), plainly and PGD-trained;
its settings checked from one table; its training (Keras's Adam over unequal
mini-batches, the loss curve, divergence)."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from inverse_lessons import DivergenceError, tf
from inverse_lessons.data import load_digits_split
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


def test_training_is_keras_adam_over_the_same_unequal_batches():
    # 97 images in 4 batches: 25, 24, 24, 24 rows; written out with Keras's Adam
    X, y = (a[:97] for a in load_digits_split()[:2])
    model = AdversarialMLP(hidden_units=(8,), epochs=3, batch_size=20, random_state=1)
    model.fit(X, y)
    rng = np.random.default_rng(1)
    variables = []
    for fan_in, fan_out in [(64, 8), (8, 10)]:
        W = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))
        variables += [tf.Variable(W, dtype=tf.float32), tf.Variable(tf.zeros(fan_out))]
    adam = tf.keras.optimizers.Adam(model.learning_rate)
    Xf = X.astype(np.float32)
    for _ in range(3):
        for rows in np.array_split(rng.permutation(97), 4):
            with tf.GradientTape() as tape:
                logits = tf.nn.relu(Xf[rows] @ variables[0] + variables[1])
                logits = logits @ variables[2] + variables[3]
                total = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=y[rows].astype(np.int32), logits=logits))
                total += model.weight_decay * tf.add_n(
                    [tf.reduce_sum(tf.square(W)) for W in variables[::2]])
            adam.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
    for ours, theirs in zip([w for pair in model.weights_ for w in pair], variables,
                            strict=True):
        np.testing.assert_array_equal(ours, theirs.numpy())


def test_the_loss_curve_has_the_loss_of_every_step():
    X, y = (a[:97] for a in load_digits_split()[:2])
    model = AdversarialMLP(**{**SMALL, "batch_size": 20}, radius=0.1, pgd_steps=2).fit(X, y)
    assert len(model.loss_curve_) == SMALL["epochs"] * 4
    assert np.all(np.isfinite(model.loss_curve_))
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_divergence_is_detected():
    X, y = (a[:200] for a in load_digits_split()[:2])
    model = AdversarialMLP(**{**SMALL, "learning_rate": 1e30})
    with pytest.raises(DivergenceError, match="learning_rate"):
        model.fit(X, y)
    assert len(model.loss_curve_) < SMALL["epochs"] * 4      # the finite losses before it
    assert np.all(np.isfinite(model.loss_curve_))
