"""The unrolled solver: against closed forms, finite differences, and bad input."""

import math

import numpy as np
import pytest

from inverse_lessons import DivergenceError, descent_path, invert, step_size_bound, tf, toy_forward
from inverse_lessons.inversion.forward_models import line_forward, square_forward


def linear(A):
    A = tf.constant(A, tf.float64)
    return lambda z: tf.linalg.matvec(A, z)


def test_toy_descent_matches_closed_form():
    # error contracts by (1 - 8 eta) per step: x_N = 2 - 5 (1 - 8 eta)^N
    for eta, n in [(0.05, 10), (0.01, 7), (0.2, 5)]:
        x = invert(toy_forward, 0.0, -3.0, step_size=eta, n_steps=n).estimate
        assert float(x) == pytest.approx(2 - 5 * (1 - 8 * eta) ** n, rel=1e-12)


def test_original_part1_number():
    x = float(invert(toy_forward, 0.0, -3.0, step_size=0.05, n_steps=10).estimate)
    assert round(x, 2) == 1.97


def test_record_path_and_losses():
    run = invert(toy_forward, 0.0, -3.0, step_size=0.05, n_steps=10, record=True)
    assert run.path.shape == (11,) and run.losses.shape == (11,)
    assert run.path[0] == -3.0 and run.path[-1] == pytest.approx(float(run.estimate))
    np.testing.assert_allclose(run.losses, (0 - (2 * run.path - 4)) ** 2, rtol=1e-12)
    assert np.all(np.diff(run.losses) < 0)


def test_converges_to_least_squares_solution():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(12, 4))
    x = rng.normal(size=12)
    eta = 0.9 * step_size_bound(linear(A), x, np.zeros(4))
    z = invert(linear(A), x, np.zeros(4), step_size=eta, n_steps=3000).estimate.numpy()
    z_ls, *_ = np.linalg.lstsq(A, x, rcond=None)
    np.testing.assert_allclose(z, z_ls, rtol=1e-8, atol=1e-10)


def test_batch_items_are_independent():
    # one step on a batch equals one step on each item alone: the inner loss
    # sums over items, it does not average them away
    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 3))
    X = rng.normal(size=(5, 6))
    fwd = lambda Z: tf.matmul(Z, tf.constant(A.T))  # noqa: E731
    batch = invert(fwd, X, np.zeros((5, 3)), step_size=0.01, n_steps=20).estimate.numpy()
    for i in range(5):
        one = invert(fwd, X[i:i + 1], np.zeros((1, 3)), step_size=0.01, n_steps=20).estimate
        np.testing.assert_allclose(batch[i], one.numpy()[0], rtol=1e-12)


def test_step_size_bound_is_exact_for_linear_models():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(7, 3))
    sigma = np.linalg.svd(A, compute_uv=False)[0]
    bound = step_size_bound(linear(A), np.zeros(7), np.zeros(3))
    assert bound == pytest.approx(1 / sigma**2, rel=1e-6)
    assert step_size_bound(toy_forward, 0.0, -3.0) == pytest.approx(0.25)


def test_divergence_is_detected_and_reported():
    with pytest.raises(DivergenceError, match=r"step_size=0.3.*below 0.25 are stable") as info:
        invert(toy_forward, 0.0, -3.0, step_size=0.3, n_steps=10)
    err = info.value
    assert err.step_size == 0.3 and err.step_size_bound == pytest.approx(0.25)
    assert len(err.path) == 11 and err.losses[-1] > err.losses[0]


def test_overflow_is_detected_before_nan_reaches_the_user():
    with pytest.raises(DivergenceError, match="non-finite"):
        invert(toy_forward, 0.0, -3.0, step_size=50.0, n_steps=2000)


def test_oscillating_but_stable_step_is_not_divergence():
    run = invert(toy_forward, 0.0, -3.0, step_size=0.2, n_steps=60, record=True)
    assert np.any(np.diff(np.sign(run.path - 2)) != 0)  # it does oscillate
    assert float(run.estimate) == pytest.approx(2.0, abs=1e-6)


def test_descent_path_keeps_diverging_path():
    run = descent_path(toy_forward, 0.0, -3.0, step_size=0.3, n_steps=10)
    assert run.diverged and "diverged" in run.diverged and len(run.path) == 11
    ok = descent_path(toy_forward, 0.0, -3.0, step_size=0.05, n_steps=10)
    assert ok.diverged is None


def test_non_injective_model_answer_depends_on_start():
    right = invert(square_forward, 4.0, 0.5, step_size=0.01, n_steps=300).estimate
    left = invert(square_forward, 4.0, -0.5, step_size=0.01, n_steps=300).estimate
    assert float(right) == pytest.approx(2.0) and float(left) == pytest.approx(-2.0)


def test_gradient_through_solver_matches_finite_differences():
    def estimate(a):
        return float(invert(lambda y: line_forward(y, a, 1.0), 3.0, 0.0,
                            step_size=0.05, n_steps=15, check=False).estimate)

    a = tf.Variable(1.7, dtype=tf.float64)
    with tf.GradientTape() as tape:
        z = invert(lambda y: line_forward(y, a, 1.0), 3.0, 0.0, step_size=0.05,
                   n_steps=15, check=False).estimate
    auto = float(tape.gradient(z, a))
    h = 1e-6
    fd = (estimate(1.7 + h) - estimate(1.7 - h)) / (2 * h)
    assert auto == pytest.approx(fd, rel=1e-7)


def test_works_inside_tf_function():
    @tf.function
    def solve(x):
        return invert(toy_forward, x, tf.constant(-3.0, tf.float64), step_size=0.05,
                      n_steps=10).estimate

    assert float(solve(tf.constant(0.0, tf.float64))) == pytest.approx(2 - 5 * 0.6**10)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(step_size=0.0), ValueError, "step_size must be positive"),
        (dict(step_size=-0.1), ValueError, "step_size must be positive"),
        (dict(step_size=math.nan), ValueError, "step_size must be positive and finite"),
        (dict(step_size="0.1"), TypeError, "step_size must be a real number"),
        (dict(n_steps=0), ValueError, "n_steps must be >= 1"),
        (dict(n_steps=2.5), TypeError, "n_steps must be an integer"),
        (dict(n_steps=True), TypeError, "n_steps must be an integer"),
        (dict(observation=np.nan), ValueError, "observation contains non-finite"),
        (dict(initial=np.inf), ValueError, "initial contains non-finite"),
        (dict(observation="zero"), TypeError, "observation must be numeric"),
        (dict(observation=np.zeros(3)), ValueError, r"forward\(initial\) has shape \(\)"),
        (dict(forward=2.0), TypeError, "forward must be callable"),
    ],
)
def test_bad_input_is_named(kwargs, error, pattern):
    args = dict(forward=toy_forward, observation=0.0, initial=-3.0, step_size=0.05, n_steps=10)
    args.update(kwargs)
    forward, observation = args.pop("forward"), args.pop("observation")
    initial = args.pop("initial")
    with pytest.raises(error, match=pattern):
        invert(forward, observation, initial, **args)


def test_gradient_descent_is_the_plain_iteration():
    # on L(z) = (z - 3)^2 each step contracts the error by 1 - 2 eta, exactly
    from inverse_lessons.inversion.solver import gradient_descent, gradient_of

    gradient = gradient_of(lambda z: tf.reduce_sum((z - 3.0) ** 2))
    z = gradient_descent(gradient, tf.constant([0.0, 5.0], tf.float64), step_size=0.1,
                         n_steps=7)
    np.testing.assert_allclose(z.numpy(), 3.0 + 0.8**7 * np.array([-3.0, 2.0]), rtol=1e-13)
    same = gradient_descent(gradient, tf.constant(1.5, tf.float64), step_size=0.1, n_steps=0)
    assert float(same) == 1.5
