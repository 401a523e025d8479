"""The nonlinear generator: differentiable inversion, multi-start, the estimator's contract."""

import numpy as np
import pytest
from sklearn.base import clone

from inverse_lessons._tf import tf
from inverse_lessons.data import load_digits_split
from inverse_lessons.nonlinear import (
    NonlinearInverseNet,
    invert_decoder,
    make_decoder,
    multi_start_inversion,
)

X_TRAIN, Y_TRAIN, X_TEST, Y_TEST = load_digits_split()


def test_inversion_lowers_the_loss_and_is_differentiable():
    decoder = make_decoder(5, seed=0)
    X = tf.constant(X_TEST[:20], tf.float32)
    Z0 = tf.zeros((20, 5))
    Z = invert_decoder(decoder, X, Z0, n_steps=30, step_size=0.05)
    before = tf.reduce_sum(tf.square(X - decoder(Z0)))
    after = tf.reduce_sum(tf.square(X - decoder(Z)))
    assert float(after) < float(before)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(invert_decoder(decoder, X, Z0, n_steps=5, step_size=0.05))
    grads = tape.gradient(value, decoder.trainable_variables)
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)


def test_inversion_gradient_matches_finite_differences():
    decoder = make_decoder(3, seed=1, dtype="float64")
    X = tf.constant(X_TEST[:4])
    bias = decoder.layers[-1].bias

    def objective():
        Z = invert_decoder(decoder, X, tf.zeros((4, 3), tf.float64), n_steps=3, step_size=0.05)
        return float(tf.reduce_sum(Z))

    with tf.GradientTape() as tape:
        value = tf.reduce_sum(invert_decoder(decoder, X, tf.zeros((4, 3), tf.float64),
                                             n_steps=3, step_size=0.05))
    auto = tape.gradient(value, bias).numpy()
    original = bias.numpy().copy()
    h = 1e-6
    for p in (0, 7, 40):
        step = h * np.eye(64)[p]
        bias.assign(original + step)
        up = objective()
        bias.assign(original - step)
        down = objective()
        bias.assign(original)
        assert auto[p] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


def test_multi_start_keeps_the_best_start():
    decoder = make_decoder(4, seed=2)
    Z, losses = multi_start_inversion(decoder, X_TEST[:10], n_latent=4, n_starts=5,
                                      n_steps=10, step_size=0.05, seed=0)
    assert Z.shape == (10, 4) and losses.shape == (5, 10)
    final = np.sum((X_TEST[:10] - decoder(tf.constant(Z)).numpy()) ** 2, axis=1)
    np.testing.assert_allclose(final, losses.min(axis=0), rtol=1e-4)


def test_estimator_contract():
    model = NonlinearInverseNet(max_iter=30, progress=False, random_state=0)
    assert clone(model).get_params() == model.get_params()
    model.fit(X_TRAIN[:300], Y_TRAIN[:300])
    assert len(model.loss_curve_) == 30 and model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.invert(X_TEST[:5]).shape == (5, 10)
    assert model.reconstruct(X_TEST[:5]).shape == (5, 64)
    np.testing.assert_allclose(model.predict_proba(X_TEST[:5]).sum(axis=1), 1.0, rtol=1e-6)
    assert set(model.predict(X_TEST)) <= set(range(10))
    again = NonlinearInverseNet(max_iter=30, progress=False, random_state=0).fit(
        X_TRAIN[:300], Y_TRAIN[:300])
    np.testing.assert_allclose(again.loss_curve_, model.loss_curve_, rtol=1e-5)


@pytest.mark.parametrize("params, error, pattern", [
    (dict(start="random"), ValueError, "start must be one of"),
    (dict(inner_steps=0), ValueError, "inner_steps must be >= 1"),
    (dict(inner_step_size=-1.0), ValueError, "inner_step_size must be positive"),
    (dict(hidden=1.5), TypeError, "hidden must be an integer"),
])
def test_bad_parameters(params, error, pattern):
    with pytest.raises(error, match=pattern):
        NonlinearInverseNet(max_iter=2, progress=False, **params).fit(X_TRAIN[:50], Y_TRAIN[:50])


def test_bad_data():
    with pytest.raises(ValueError, match="at least two classes"):
        NonlinearInverseNet(max_iter=2, progress=False).fit(X_TRAIN[:20], np.zeros(20))
    with pytest.raises(ValueError, match="NaN"):
        NonlinearInverseNet(max_iter=2, progress=False).fit(
            np.where(X_TRAIN[:20] > 0.5, np.nan, X_TRAIN[:20]), Y_TRAIN[:20])
