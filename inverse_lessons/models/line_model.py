"""Train a line through its own inversion (chapter 2).

The model is the parameterised line f_theta(y) = a * y + b with theta = (a, b).
Its *prediction* for an observation x is an inversion: N unrolled gradient
steps on (x - a*y - b)**2 over y, from a fixed start y_0,

    y_{k+1} = y_k + 2 * eta * a * (x - a * y_k - b),        h(x) = y_N.

Training minimises T(a, b) = sum_i (y_i - h(x_i))**2 over training pairs, so
its gradient runs back through all N steps. This module computes that
gradient two ways, by the hand-derived recursion and by TensorFlow's automatic
differentiation, and trains with either.

It also reproduces the original blog post's training exactly: there the
residuals y_i - h(x_i) came from 20 inner steps while the hand-derived
recursion for dh/dtheta ran over the first 10 of them only
(``derivative_steps=10``), and the inner solver started from a value left
over from an earlier demonstration, about 2, rather than from 0.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq

from inverse_lessons._tf import quiet_retracing, tf
from inverse_lessons._validation import check_int, check_positive
from inverse_lessons.inversion.forward_models import TOY_INTERCEPT, TOY_SLOPE, line_forward
from inverse_lessons.inversion.solver import DivergenceError, invert

__all__ = [
    "training_pairs",
    "predict",
    "training_loss",
    "training_losses",
    "gradient_recursion",
    "gradient_autodiff",
    "exact_fit",
    "exact_fit_slopes",
    "TrainingRun",
    "train",
]


def training_pairs(latents=(-2.0, -1.0, 0.0, 1.0, 2.0), a=TOY_SLOPE, b=TOY_INTERCEPT):
    """Make training pairs (x, y) with x = a*y + b exactly (no noise).

    Parameters
    ----------
    latents : sequence of float, default (-2, -1, 0, 1, 2)
        The targets y.
    a, b : float, default 2 and -4
        The true line.

    Returns
    -------
    x, y : ndarray of float64, shape (n,)
        Observations and targets.
    """
    y = np.asarray(latents, dtype=np.float64)
    return a * y + b, y


def _check_common(x, n_steps, step_size):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be a 1-d array of observations, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains non-finite values (NaN or inf)")
    return x, check_int("n_steps", n_steps), check_positive("step_size", step_size)


def predict(x, a, b, *, n_steps, step_size, start=0.0):
    """Predict h(x) by ``n_steps`` unrolled inversion steps.

    Divergence checks are left to the caller: training may pass through
    unstable (a, b) where a check would only get in the way.

    Parameters
    ----------
    x : array-like, shape (n,)
        Observations.
    a, b : float or scalar tf.Tensor
        The line's parameters (tensors may be watched by a gradient tape).
    n_steps : int
        N, the inner steps.
    step_size : float
        eta, the inner step size.
    start : float, default 0.0
        y_0, the inner solver's start.

    Returns
    -------
    tf.Tensor, shape (n,)
        y_N for every observation.
    """
    x = tf.convert_to_tensor(x, dtype=tf.float64)
    initial = tf.fill(tf.shape(x), tf.constant(start, tf.float64))
    return invert(
        lambda y: line_forward(y, a, b), x, initial,
        step_size=step_size, n_steps=n_steps, check=False,
    ).estimate


def training_loss(x, y, a, b, *, n_steps, step_size, start=0.0):
    """Compute the training loss T(a, b) = sum_i (y_i - h(x_i))**2.

    Parameters
    ----------
    x, y : array-like, shape (n,)
        Training observations and targets.
    a, b, n_steps, step_size, start
        As for :func:`predict`.

    Returns
    -------
    tf.Tensor
        T, a scalar.
    """
    h = predict(x, a, b, n_steps=n_steps, step_size=step_size, start=start)
    return tf.reduce_sum(tf.square(tf.convert_to_tensor(y, tf.float64) - h))


def gradient_recursion(x, y, a, b, *, n_steps, step_size, start=0.0, derivative_steps=None):
    """Compute the gradient (dT/da, dT/db) by the hand-derived recursion.

    Differentiating the step y_{k+1} = y_k + 2 eta a (x - a y_k - b) gives

        dy_{k+1}/da = (1 - 2 eta a^2) dy_k/da + 2 eta (x - 2 a y_k - b)
        dy_{k+1}/db = (1 - 2 eta a^2) dy_k/db - 2 eta a

    from dy_0/da = dy_0/db = 0, and then dT/dtheta = -2 sum (y - y_N) dy_N/dtheta.
    Plain numpy, vectorised over the training pairs.

    Parameters
    ----------
    x, y : array-like, shape (n,)
        Training observations and targets.
    a, b : float
        Where to take the gradient.
    n_steps, step_size, start
        As for :func:`predict`.
    derivative_steps : int or None, default None
        Run the derivative recursion over only the first ``derivative_steps``
        of the ``n_steps`` steps (None: all of them), while the residual
        y - y_N still comes from all ``n_steps``. Anything but None or
        ``n_steps`` gives a vector that is *not* the gradient of T: this is
        the original blog post's mismatch (20 steps, derivative over 10).
        It vanishes at every exact fit (all residuals zero) but can also
        vanish where T's gradient does not (with the original's start, a
        saddle near (a, b) = (1.13, -3.84)).

    Returns
    -------
    ndarray of float64, shape (2,)
        (dT/da, dT/db).
    """
    x, n_steps, eta = _check_common(x, n_steps, step_size)
    derivative_steps = _check_derivative_steps(derivative_steps, n_steps)
    y = np.asarray(y, dtype=np.float64)
    yk = np.full_like(x, start)
    dyda = np.zeros_like(x)
    dydb = np.zeros_like(x)
    contraction = 1.0 - 2.0 * eta * a * a
    for k in range(n_steps):
        if k < derivative_steps:
            dyda = contraction * dyda + 2.0 * eta * (x - 2.0 * a * yk - b)
            dydb = contraction * dydb - 2.0 * eta * a
        yk = yk + 2.0 * eta * a * (x - a * yk - b)
    residual = y - yk
    return np.array([-2.0 * np.sum(residual * dyda), -2.0 * np.sum(residual * dydb)])


def _check_derivative_steps(derivative_steps, n_steps):
    if derivative_steps is None:
        return n_steps
    derivative_steps = check_int("derivative_steps", derivative_steps)
    if derivative_steps > n_steps:
        raise ValueError(
            f"derivative_steps must be at most n_steps={n_steps}, got {derivative_steps}"
        )
    return derivative_steps


def gradient_autodiff(x, y, a, b, *, n_steps, step_size, start=0.0):
    """Compute the gradient (dT/da, dT/db) by TensorFlow's GradientTape through the steps.

    Parameters
    ----------
    x, y, a, b, n_steps, step_size, start
        As for :func:`gradient_recursion`.

    Returns
    -------
    ndarray of float64, shape (2,)
        (dT/da, dT/db).
    """
    x, n_steps, eta = _check_common(x, n_steps, step_size)
    theta = tf.Variable([a, b], dtype=tf.float64)
    with tf.GradientTape() as tape:
        loss = training_loss(x, y, theta[0], theta[1], n_steps=n_steps, step_size=eta,
                             start=start)
    return tape.gradient(loss, theta).numpy()


def exact_fit_slopes(*, n_steps, step_size, a_true=TOY_SLOPE):
    """Find every slope a at which N-step predictions can fit noiseless data exactly.

    With r = 1 - 2 eta a^2, an exact fit needs a = a_true (1 - r^N), a
    fixed-point equation in a.

    Parameters
    ----------
    n_steps : int
        N, the inner steps.
    step_size : float
        eta, the inner step size.
    a_true : float, default 2
        The slope of the line that made the data.

    Returns
    -------
    ndarray of float64, shape (m,)
        The roots in the stable range 0 < a < 1/sqrt(eta) (where |r| < 1), in
        increasing order; m is 0 when N steps are too few ever to reach the
        targets, and often 2 (a flat line whose small steps land on target,
        and one near a_true).
    """
    n_steps = check_int("n_steps", n_steps)
    eta = check_positive("step_size", step_size)

    def excess(a):
        return a_true * (1.0 - (1.0 - 2.0 * eta * a * a) ** n_steps) - a

    grid = np.linspace(1e-6, (1.0 - 1e-9) / math.sqrt(eta), 4001)
    values = excess(grid)
    crossings = np.nonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0)[0]
    roots = [brentq(excess, grid[i], grid[i + 1], xtol=1e-15, rtol=1e-15) for i in crossings]
    roots += list(grid[values == 0.0])  # a root that falls exactly on the grid
    return np.sort(np.asarray(roots, dtype=np.float64))


def exact_fit(*, n_steps, step_size, start=0.0, a_true=TOY_SLOPE, b_true=TOY_INTERCEPT):
    """Find the (a, b) at which N-step predictions reproduce noiseless data exactly.

    With r = 1 - 2 eta a^2, N steps from y_0 give
    h(x) = r^N y_0 + (1 - r^N)(x - b) / a. Matching h(a_true y + b_true) = y for
    every y needs a = a_true (1 - r^N) and b = b_true + a r^N y_0 / (1 - r^N).
    The first equation can have several roots in the stable range
    0 < a < 1/sqrt(eta) (see :func:`exact_fit_slopes`); this returns the
    largest, the one nearest a_true.

    Parameters
    ----------
    n_steps, step_size, start
        The inner solver, as for :func:`predict`.
    a_true, b_true : float, default 2 and -4
        The line that made the data.

    Returns
    -------
    a, b : float
        The exact fit.

    Raises
    ------
    ValueError
        When no root has stable inner steps (too few steps to ever reach the target).
    """
    slopes = exact_fit_slopes(n_steps=n_steps, step_size=step_size, a_true=a_true)
    eta = check_positive("step_size", step_size)
    if len(slopes) == 0:
        raise ValueError(
            f"no exact fit with stable inner steps (0 < a < 1/sqrt(step_size)) exists "
            f"with n_steps={n_steps} and step_size={eta:g}: that few steps never reach "
            "the targets"
        )
    a = float(slopes[-1])
    rn = (1.0 - 2.0 * eta * a * a) ** n_steps
    return a, b_true + a * rn * start / (1.0 - rn)


class TrainingRun(NamedTuple):
    """Hold the result of :func:`train`.

    Attributes
    ----------
    a, b : float
        The final parameters.
    path : ndarray, shape (n_iterations + 1, 2)
        (a, b) at every iteration.
    losses : ndarray, shape (n_iterations + 1,)
        The training loss T, with the prediction's number of steps, at every
        entry of ``path``.
    """

    a: float
    b: float
    path: np.ndarray
    losses: np.ndarray


def train(
    x, y, *, a0=1.5, b0=0.0, n_steps=20, step_size=0.05, start=0.0,
    learning_rate=0.005, n_iterations=2500, a_min=0.5,
    gradient="autodiff", gradient_steps=None, derivative_steps=None,
):
    """Fit (a, b) by plain gradient descent on T through the unrolled inversion.

    Parameters
    ----------
    x, y : array-like, shape (n,)
        The training observations and targets.
    a0, b0 : float, default 1.5 and 0.0
        The starting parameters.
    n_steps, step_size, start : int, float, float; default 20, 0.05, 0.0
        The inner solver of the prediction h(x).
    learning_rate, n_iterations : float, int; default 0.005, 2500
        The outer gradient descent on (a, b).
    a_min : float, default 0.5
        a is clipped below at this value after every step (small a makes the
        inner steps tiny, as 2 eta a^2 sets their contraction).
    gradient : {"autodiff", "recursion"}, default "autodiff"
        GradientTape (the whole descent runs as one graph compiled with
        tf.function) or the hand-derived recursion.
    gradient_steps : int or None, default None
        Train the model that predicts with this many unrolled steps (its own,
        correct gradient), while ``losses`` and the prediction h keep
        ``n_steps``; None means ``n_steps``. This is "train with 10 steps,
        predict with 20": a consistent gradient of the wrong function.
    derivative_steps : int or None, default None
        With ``gradient="recursion"`` only: the residuals come from all the
        training model's steps, the derivative recursion runs over the first
        ``derivative_steps`` of them (see :func:`gradient_recursion`). The
        original post's mismatch is ``derivative_steps=10`` with ``n_steps=20``.

    Returns
    -------
    TrainingRun
        The final (a, b), the path and the losses.

    Raises
    ------
    DivergenceError
        When (a, b) become non-finite.
    """
    x, n_steps, eta = _check_common(x, n_steps, step_size)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != x.shape:
        raise ValueError(f"y must have the shape of x {x.shape}, got {y.shape}")
    gradient_steps = (n_steps if gradient_steps is None
                      else check_int("gradient_steps", gradient_steps))
    learning_rate = check_positive("learning_rate", learning_rate)
    n_iterations = check_int("n_iterations", n_iterations)
    if gradient not in ("autodiff", "recursion"):
        raise ValueError(f"gradient must be 'autodiff' or 'recursion', got {gradient!r}")
    if derivative_steps is not None and gradient != "recursion":
        raise ValueError("derivative_steps needs gradient='recursion' (autodiff "
                         "always differentiates every step it takes)")
    derivative_steps = _check_derivative_steps(derivative_steps, gradient_steps)

    if gradient == "autodiff":
        path = _descend_autodiff(x, y, float(a0), float(b0), gradient_steps, eta, start,
                                 learning_rate, n_iterations, float(a_min))
        bad = np.nonzero(~np.all(np.isfinite(path), axis=1))[0]
        if len(bad):
            _raise_diverged(bad[0] - 1, learning_rate)
    else:
        path = np.empty((n_iterations + 1, 2))
        path[0] = a, b = float(a0), float(b0)
        for i in range(n_iterations):
            da, db = gradient_recursion(x, y, a, b, n_steps=gradient_steps, step_size=eta,
                                        start=start, derivative_steps=derivative_steps)
            a, b = max(a - learning_rate * da, a_min), b - learning_rate * db
            if not (math.isfinite(a) and math.isfinite(b)):
                _raise_diverged(i, learning_rate)
            path[i + 1] = a, b
    a, b = float(path[-1, 0]), float(path[-1, 1])
    losses = training_losses(x, y, path, n_steps=n_steps, step_size=eta, start=start)
    return TrainingRun(a, b, path, losses)


def _raise_diverged(iteration, learning_rate):
    raise DivergenceError(
        f"training diverged at iteration {iteration}: lower learning_rate "
        f"(now {learning_rate:g})",
        step_size=learning_rate, step_size_bound=None,
    )


def _descend_autodiff(x, y, a0, b0, n_steps, eta, start, learning_rate, n_iterations, a_min):
    """Run the outer gradient descent with GradientTape, all iterations in one graph.

    One graph for the whole loop is traced once, where a compiled step called
    from Python would pay the call overhead on every iteration. Returns the
    path, a numpy array of shape (n_iterations + 1, 2).
    """
    x_t, y_t = tf.constant(x), tf.constant(y)
    lr = tf.constant(learning_rate, tf.float64)
    floor = tf.constant(a_min, tf.float64)

    @tf.function
    def descend(theta):
        path = tf.TensorArray(tf.float64, size=n_iterations + 1)
        path = path.write(0, theta)
        for i in tf.range(n_iterations):
            with tf.GradientTape() as tape:
                tape.watch(theta)
                loss = training_loss(x_t, y_t, theta[0], theta[1], n_steps=n_steps,
                                     step_size=eta, start=start)
            step = theta - lr * tape.gradient(loss, theta)
            theta = tf.stack([tf.maximum(step[0], floor), step[1]])
            path = path.write(i + 1, theta)
        return path.stack()

    with quiet_retracing():   # a fresh graph per call, on purpose
        return descend(tf.constant([a0, b0], tf.float64)).numpy()


def training_losses(x, y, thetas, *, n_steps, step_size, start=0.0):
    """Compute T(a, b) at many parameter pairs at once (numpy, for plots and paths).

    Parameters
    ----------
    x, y : array-like, shape (n,)
        Training observations and targets.
    thetas : array-like, shape (m, 2)
        Rows (a, b).
    n_steps, step_size, start
        As for :func:`predict`.

    Returns
    -------
    ndarray, shape (m,)
        T at each row of ``thetas``.
    """
    x, n_steps, eta = _check_common(x, n_steps, step_size)
    thetas = np.asarray(thetas, dtype=np.float64)
    if thetas.ndim != 2 or thetas.shape[1] != 2:
        raise ValueError(f"thetas must have shape (m, 2), got {thetas.shape}")
    a, b = thetas[:, :1], thetas[:, 1:]
    yk = np.full((len(thetas), len(x)), start)
    for _ in range(n_steps):
        yk = yk + 2.0 * eta * a * (x - a * yk - b)
    return np.sum((y - yk) ** 2, axis=1)
