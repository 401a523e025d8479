"""Chapter 2's model: the hand-derived recursion against autodiff and finite differences."""

import numpy as np
import pytest

from inverse_lessons import tf
from inverse_lessons.inversion.solver import DivergenceError
from inverse_lessons.models.line_model import (
    exact_fit,
    exact_fit_slopes,
    gradient_autodiff,
    gradient_recursion,
    predict,
    train,
    training_loss,
    training_pairs,
)

X, Y = training_pairs()


@pytest.mark.parametrize("a, b, n, eta, start", [
    (1.0, 0.0, 20, 0.05, 0.0), (2.5, -3.0, 10, 0.05, 0.0),
    (0.7, 1.2, 5, 0.1, 0.5), (1.9, -4.1, 40, 0.02, -1.0),
])
def test_recursion_matches_autodiff_to_rounding(a, b, n, eta, start):
    kw = dict(n_steps=n, step_size=eta, start=start)
    rec = gradient_recursion(X, Y, a, b, **kw)
    auto = gradient_autodiff(X, Y, a, b, **kw)
    np.testing.assert_allclose(rec, auto, rtol=1e-12, atol=1e-12 * np.abs(rec).max())


def test_recursion_matches_finite_differences():
    kw = dict(n_steps=20, step_size=0.05)
    a, b, h = 1.3, -2.0, 1e-6
    T = lambda a, b: float(training_loss(X, Y, a, b, **kw))  # noqa: E731
    fd = [(T(a + h, b) - T(a - h, b)) / (2 * h), (T(a, b + h) - T(a, b - h)) / (2 * h)]
    np.testing.assert_allclose(gradient_recursion(X, Y, a, b, **kw), fd, rtol=1e-6)


def test_prediction_is_exact_at_the_exact_fit():
    a, b = exact_fit(n_steps=20, step_size=0.05)
    assert round(a, 5) == 1.99993 and b == pytest.approx(-4.0)
    np.testing.assert_allclose(predict(X, a, b, n_steps=20, step_size=0.05).numpy(), Y,
                               atol=1e-12)
    a10, _ = exact_fit(n_steps=10, step_size=0.05)
    assert round(a10, 5) == 1.98680


def test_exact_fit_with_another_start_moves_b():
    a, b = exact_fit(n_steps=20, step_size=0.05, start=1.0)
    np.testing.assert_allclose(predict(X, a, b, n_steps=20, step_size=0.05, start=1.0).numpy(),
                               Y, atol=1e-12)
    assert b != pytest.approx(-4.0)


@pytest.mark.parametrize("gradient", ["autodiff", "recursion"])
def test_training_reaches_the_exact_fit(gradient):
    run = train(X, Y, gradient=gradient, n_iterations=2500)
    a, b = exact_fit(n_steps=20, step_size=0.05)
    assert run.a == pytest.approx(a, abs=1e-8) and run.b == pytest.approx(b, abs=1e-8)
    assert run.losses[-1] < 1e-15 < run.losses[0]
    assert run.path.shape == (2501, 2)


def test_mismatched_gradient_stops_at_the_wrong_place():
    run = train(X, Y, gradient="recursion", gradient_steps=10)
    assert run.a == pytest.approx(exact_fit(n_steps=10, step_size=0.05)[0], abs=1e-8)
    assert run.losses[-1] > 1e-4  # the 20-step loss is not minimised


def test_both_trainings_follow_the_same_path():
    a = train(X, Y, gradient="autodiff", n_iterations=50).path
    r = train(X, Y, gradient="recursion", n_iterations=50).path
    np.testing.assert_allclose(a, r, rtol=1e-10)


def test_a_is_clipped_below():
    run = train(X, Y, a0=0.6, b0=5.0, a_min=0.5, n_iterations=30, learning_rate=0.05)
    assert run.path[:, 0].min() >= 0.5


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(gradient="magic"), ValueError, "gradient must be"),
    (dict(derivative_steps=10), ValueError, "derivative_steps needs gradient='recursion'"),
    (dict(gradient="recursion", derivative_steps=21), ValueError,
     "derivative_steps must be at most n_steps=20"),
    (dict(gradient="recursion", derivative_steps=1.5), TypeError,
     "derivative_steps must be an integer"),
    (dict(n_steps=0), ValueError, "n_steps"),
    (dict(learning_rate=-1.0), ValueError, "learning_rate must be positive"),
    (dict(gradient_steps=0), ValueError, "gradient_steps must be >= 1"),
    (dict(x=np.zeros((2, 2))), ValueError, "x must be a 1-d array"),
    (dict(y=np.zeros(3)), ValueError, "y must have the shape of x"),
    (dict(x=np.array([1.0, np.nan, 0, 0, 0])), ValueError, "x contains non-finite"),
])
def test_train_rejects_bad_input(kwargs, error, pattern):
    args = dict(x=X, y=Y)
    args.update(kwargs)
    with pytest.raises(error, match=pattern):
        train(args.pop("x"), args.pop("y"), n_iterations=3, **args)


def test_vectorised_losses_match_tensorflow():
    from inverse_lessons.models.line_model import training_losses
    thetas = np.array([[1.0, 0.0], [2.0, -4.0], [0.8, 3.0]])
    want = [float(training_loss(X, Y, a, b, n_steps=20, step_size=0.05)) for a, b in thetas]
    np.testing.assert_allclose(training_losses(X, Y, thetas, n_steps=20, step_size=0.05), want,
                               rtol=1e-12, atol=1e-300)
    with pytest.raises(ValueError, match=r"thetas must have shape \(m, 2\)"):
        training_losses(X, Y, np.zeros(3), n_steps=20, step_size=0.05)


def test_exact_fit_refuses_when_none_exists():
    # h has slope (1 - r^N)/a <= 0.344 < 1/2 for N = 2, eta = 0.05: no line fits
    with pytest.raises(ValueError, match=r"no exact fit with stable inner steps .* n_steps=2 "):
        exact_fit(n_steps=2, step_size=0.05)


def test_exact_fit_second_root_is_found_by_training_from_below():
    # with 10 steps the fixed-point equation has a second, small root
    run = train(X, Y, a0=1.0, n_steps=10, gradient="recursion")
    assert 0.5 < run.a < 0.7 and run.losses[-1] < 1e-15


def test_exact_fit_slopes_are_all_the_roots():
    # a = 2 (1 - (1 - 0.1 a^2)^N): two roots for N = 10 and 20, none for N = 2
    for n, want in [(10, [0.58061, 1.98680]), (20, [0.26741, 1.99993])]:
        slopes = exact_fit_slopes(n_steps=n, step_size=0.05)
        np.testing.assert_allclose(slopes, want, atol=1e-5)
        np.testing.assert_allclose(2 * (1 - (1 - 0.1 * slopes**2) ** n), slopes, rtol=1e-12)
    assert exact_fit_slopes(n_steps=2, step_size=0.05).shape == (0,)
    assert exact_fit(n_steps=20, step_size=0.05)[0] == exact_fit_slopes(
        n_steps=20, step_size=0.05)[-1]


def test_full_derivative_steps_is_the_gradient():
    kw = dict(n_steps=20, step_size=0.05, start=0.3)
    np.testing.assert_array_equal(gradient_recursion(X, Y, 1.7, -2.0, derivative_steps=20, **kw),
                                  gradient_recursion(X, Y, 1.7, -2.0, **kw))


def test_truncated_derivative_against_an_independent_reference():
    # -2 sum (y - h_20(x)) dh_10/dtheta, with dh_10/dtheta from TensorFlow's jacobian
    a, b, kw = 1.7, -2.0, dict(step_size=0.05, start=0.3)
    theta = tf.Variable([a, b], dtype=tf.float64)
    with tf.GradientTape() as tape:
        h10 = predict(X, theta[0], theta[1], n_steps=10, **kw)
    jac = tape.jacobian(h10, theta).numpy()             # shape (5, 2)
    residual = Y - predict(X, a, b, n_steps=20, **kw).numpy()
    want = -2 * residual @ jac
    got = gradient_recursion(X, Y, a, b, n_steps=20, derivative_steps=10, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    full = gradient_autodiff(X, Y, a, b, n_steps=20, **kw)
    assert np.max(np.abs(got - full)) > 1e-3 * np.max(np.abs(full))  # not the gradient of T


def test_truncated_derivative_vanishes_at_the_exact_fit():
    a, b = exact_fit(n_steps=20, step_size=0.05, start=2.0)
    g = gradient_recursion(X, Y, a, b, n_steps=20, step_size=0.05, start=2.0,
                           derivative_steps=10)
    assert np.max(np.abs(g)) < 1e-10


def test_truncated_derivative_has_a_rest_point_that_is_no_fit():
    # the converse fails: the truncated vector also vanishes where T's gradient does not
    from scipy.optimize import root

    kw = dict(n_steps=20, step_size=0.05, start=2.0)

    def truncated(theta):
        return gradient_recursion(X, Y, *theta, derivative_steps=10, **kw)

    sol = root(truncated, x0=[1.13, -3.84])
    a, b = sol.x
    assert sol.success and np.max(np.abs(truncated(sol.x))) < 1e-10
    assert a == pytest.approx(1.1318, abs=1e-3) and b == pytest.approx(-3.844, abs=1e-3)
    true = gradient_recursion(X, Y, a, b, **kw)
    assert abs(true[0]) > 1 and abs(true[1]) < 1e-9   # b-parts vanish together, a-parts not
    # the closed form h = r^N y0 + (1 - r^N)(x - b)/a misses the targets there
    rn = (1 - 2 * 0.05 * a * a) ** 20
    h = rn * 2.0 + (1 - rn) * (X - b) / a
    assert np.sum((Y - h) ** 2) > 1


def test_the_original_post_is_reproduced_to_every_printed_digit():
    # the original: 20 steps to predict, 10 in the derivative recursion, inner start left
    # over from its inversion demo (x = 0 from -2.5092, 20 steps), a0 drawn with seed 42
    start = float(predict([0.0], 2.0, -4.0, n_steps=20, step_size=0.05,
                          start=-2.50919762305275)[0])
    assert start == pytest.approx(1.9998351365905256, abs=1e-15)
    run = train(X, Y, a0=3.4014286128198323, b0=0.0, start=start, gradient="recursion",
                derivative_steps=10)
    assert run.a == pytest.approx(1.9999268051752905, abs=1e-13)
    assert run.b == pytest.approx(-3.9998536215926457, abs=1e-13)


def test_autodiff_training_with_fewer_steps_fits_the_other_model():
    run = train(X, Y, gradient="autodiff", gradient_steps=10)
    assert run.a == pytest.approx(exact_fit(n_steps=10, step_size=0.05)[0], abs=1e-8)
    assert run.losses[-1] > 1e-4  # the 20-step loss is not minimised


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
@pytest.mark.parametrize("gradient", ["autodiff", "recursion"])
def test_divergent_training_is_reported(gradient):
    with pytest.raises(DivergenceError, match="training diverged at iteration"):
        train(X, Y, gradient=gradient, learning_rate=5.0, n_iterations=200)


def test_repeated_autodiff_training_raises_no_retracing_notice(tf_log_messages):
    for i in range(7):
        train(X, Y, a0=1.0 + 0.1 * i, n_iterations=5)
    assert not [m for m in tf_log_messages if "retracing" in m]
