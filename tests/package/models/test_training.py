"""The one training loop: Adam's steps, chunks invisible to the result, divergence reported."""

import numpy as np
import pytest

from inverse_lessons import DivergenceError, tf
from inverse_lessons.models.training import (
    CHUNK,
    TrainingLoop,
    optimiser_state,
    optimiser_update,
    training_diverged,
)


class Estimator:
    progress = False


def quadratic_step(params, state, batch):
    """Adam on ||p - target||^2 + weight * ||p||^2; the batch is (target, weight[, scale])."""
    target, weight, *scale = batch
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = tf.reduce_sum(tf.square(params[0] - target)) + weight * tf.reduce_sum(
            tf.square(params[0]))
        if scale:
            loss = loss * scale[0]
    params, state = optimiser_update(params, tape.gradient(loss, params), state)
    return loss, params, state


def numpy_adam(target, weight, n_steps, learning_rate, scales=None):
    """Kingma and Ba's algorithm 1 in float64 numpy, Keras's epsilon placement."""
    p, m, v, losses = np.zeros_like(target), 0 * target, 0 * target, []
    for t in range(1, n_steps + 1):
        s = 1.0 if scales is None else scales[t - 1]
        losses.append(s * (np.sum((p - target) ** 2) + weight * np.sum(p ** 2)))
        g = s * (2 * (p - target) + 2 * weight * p)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        alpha = learning_rate * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        p = p - alpha * m / (np.sqrt(v) + 1e-7)
    return np.array(losses), p


def never(*record):
    raise AssertionError("no divergence expected")


def test_a_run_across_chunks_is_adam_step_after_step():
    target = np.array([1.0, -2.0, 0.5])
    loop = TrainingLoop(quadratic_step, tf.float64)
    params = [tf.zeros(3, tf.float64)]
    n_steps = 2 * CHUNK + 7                      # ends inside a chunk
    estimator = Estimator()
    history, params, state = loop.run(
        estimator, params, optimiser_state(params, 0.05),
        (tf.constant(target), tf.constant(0.1, tf.float64)), n_steps=n_steps, diverged=never)
    losses, p = numpy_adam(target, 0.1, n_steps, 0.05)
    np.testing.assert_allclose(estimator.loss_curve_, losses, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(params[0], p, rtol=1e-12)
    assert [r[0] for r in history] == estimator.loss_curve_
    assert float(state[0]) == n_steps              # Adam's step count carries over


def test_per_step_data_reach_their_steps_in_order():
    rng = np.random.default_rng(0)
    scales = rng.uniform(0.5, 2.0, size=130)
    drawn = []

    def per_step(start, count):
        drawn.append((start, count))
        return (scales[start:start + count],)

    target = np.array([0.3, 0.7])
    estimator = Estimator()
    params = [tf.zeros(2, tf.float64)]
    TrainingLoop(quadratic_step, tf.float64).run(
        estimator, params, optimiser_state(params, 0.01),
        (tf.constant(target), tf.constant(0.0, tf.float64)), n_steps=130,
        per_step=per_step, diverged=never)
    losses, _ = numpy_adam(target, 0.0, 130, 0.01, scales)
    np.testing.assert_allclose(estimator.loss_curve_, losses, rtol=1e-12, atol=1e-14)
    assert sum(count for _, count in drawn) == 130 and drawn[0][0] == 0


def test_the_first_loss_that_is_not_finite_raises_with_the_losses_before_it():
    def step(params, state, batch):     # finite for 7 steps, then inf
        loss = tf.where(state[0] < 7, 1.0 / (state[0] + 1), np.inf)
        params, state = optimiser_update(params, [tf.ones_like(params[0])], state)
        return tf.cast(loss, tf.float64), params, state

    def diverged(i, loss):
        return training_diverged(i, loss, "a test", step_size=0.5)

    estimator = Estimator()
    params = [tf.zeros(2, tf.float64)]
    with pytest.raises(DivergenceError, match="diverged at iteration 7: the loss is inf; a test"):
        TrainingLoop(step, tf.float64).run(estimator, params, optimiser_state(params, 0.1), (),
                                           n_steps=50, diverged=diverged)
    np.testing.assert_allclose(estimator.loss_curve_, 1.0 / np.arange(1, 8))


def test_sgd_is_plain_gradient_descent():
    params = [tf.constant([1.0, 2.0])]
    state = optimiser_state(params, 0.5)
    new, state = optimiser_update(params, [tf.constant([4.0, -2.0])], state, "sgd")
    np.testing.assert_allclose(new[0], [-1.0, 3.0])
    assert float(state[0]) == 1
