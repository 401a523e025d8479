"""Inversion by gradient descent: the unrolled solver.

Given a forward model ``f`` and an observation ``x``, the solver estimates the
latent ``z`` that explains it by ``n_steps`` plain gradient-descent steps on the
least-squares inversion loss

    L(z) = sum((x - f(z))**2),

    z_{k+1} = z_k - step_size * dL/dz(z_k).

Every step is an ordinary TensorFlow operation, so the estimate can itself be
differentiated with respect to anything the forward model depends on (its
parameters): this is what "training through the inversion" means in chapter 2.

The sum runs over every element, so when ``x`` holds a batch of independent
observations each one gets its own gradient, unaffected by the batch size.

:func:`gradient_descent` is the loop itself, a few lines that every solver of
the book runs (this module's :func:`invert`, the linear generator's
:func:`~inverse_lessons.inversion.linear.unrolled_inversion`, the Keras
decoder's :func:`~inverse_lessons.models.nonlinear.invert_decoder`); :func:`invert`
adds the checks, divergence detection and the recorded path on top.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from inverse_lessons._tf import tf
from inverse_lessons._validation import check_int, check_positive

__all__ = [
    "DescentPath",
    "DivergenceError",
    "descent_path",
    "gradient_descent",
    "gradient_of",
    "Inversion",
    "invert",
    "inversion_loss",
    "largest_curvature",
    "step_size_bound",
]


def gradient_descent(gradient: Callable, z, *, step_size, n_steps: int):
    """Take ``n_steps`` plain gradient-descent steps: the core of every solver in the book.

        z_{k+1} = z_k - step_size * gradient(z_k)

    Plain TensorFlow operations, so the result can be differentiated with
    respect to anything ``gradient`` depends on. No checks: :func:`invert` is
    the checked, path-recording wrapper.

    Parameters
    ----------
    gradient : callable
        ``z -> dL/dz``, a tensor of z's shape: :func:`gradient_of` of a loss, or
        a gradient written out by hand.
    z : tf.Tensor
        The start z_0.
    step_size : float or scalar tf.Tensor
        The step size.
    n_steps : int or scalar tf.Tensor
        The number of steps, >= 0. A Python int unrolls the loop; a tensor inside a
        ``tf.function`` makes it one graph loop (AutoGraph's ``tf.while_loop``), so the
        traced graph does not grow with the number of steps.

    Returns
    -------
    tf.Tensor, shape of ``z``
        The last iterate z_N.
    """
    for _ in range(n_steps):
        z = z - step_size * gradient(z)
    return z


def gradient_of(loss: Callable) -> Callable:
    """Return the function z -> dloss/dz(z), by automatic differentiation.

    Parameters
    ----------
    loss : callable
        ``z -> scalar tensor``, written with TensorFlow operations.

    Returns
    -------
    callable
        ``z -> dloss/dz(z)``, a tensor of z's shape, computed with a GradientTape.
    """

    def gradient(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            value = loss(z)
        return tape.gradient(value, z)

    return gradient


class DivergenceError(ArithmeticError):
    """Raised when gradient descent diverges.

    Attributes
    ----------
    step_size : float
        The step size that diverged.
    step_size_bound : float or None
        The bound below which the iteration is stable (see
        :func:`step_size_bound`: exact for linear forward models, a local
        estimate at the start otherwise), or ``None`` when it is not known.
    path, losses : numpy.ndarray or None
        The iterates and losses up to the point where divergence was detected,
        so that a diverging run can still be plotted (None where not kept).
    """

    def __init__(self, message, *, step_size, step_size_bound, path=None, losses=None):
        super().__init__(message)
        self.step_size = step_size
        self.step_size_bound = step_size_bound
        self.path = path
        self.losses = losses


class Inversion(NamedTuple):
    """Hold the result of :func:`invert`.

    Attributes
    ----------
    estimate : tf.Tensor
        The last iterate, the same shape as the initial latent.
    path : numpy.ndarray of shape (n_steps + 1, *latent shape) or None
        The start and every iterate; None unless ``record=True``.
    losses : numpy.ndarray of shape (n_steps + 1,) or None
        The inversion loss at each entry of ``path``; None unless ``record=True``.
    """

    estimate: tf.Tensor
    path: np.ndarray | None
    losses: np.ndarray | None


def _as_tensor(value, name, dtype=None):
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be numeric, got {type(value).__name__}")
    try:
        if not isinstance(value, (tf.Tensor, tf.Variable)):
            value = np.asarray(value)  # Python floats become float64, not float32
            if value.dtype.kind not in "biuf":
                raise TypeError(f"dtype {value.dtype} is not numeric")
        tensor = tf.convert_to_tensor(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numeric array-like: {err}") from None
    if not tensor.dtype.is_floating:
        if tensor.dtype.is_integer or tensor.dtype == tf.bool:
            tensor = tf.cast(tensor, tf.float64 if dtype is None else dtype)
        else:
            raise TypeError(f"{name} must be numeric, got dtype {tensor.dtype.name}")
    if tf.executing_eagerly() and not bool(tf.reduce_all(tf.math.is_finite(tensor))):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return tensor


def inversion_loss(forward: Callable, observation, z) -> tf.Tensor:
    """Compute the least-squares inversion loss ``sum((observation - forward(z))**2)``.

    Parameters
    ----------
    forward : callable
        The forward model; ``forward(z)`` must have the shape of ``observation``.
    observation : tf.Tensor
        The observation x.
    z : tf.Tensor
        The latent.

    Returns
    -------
    tf.Tensor
        A scalar: the squared error summed over every element.
    """
    residual = observation - forward(z)
    return tf.reduce_sum(tf.square(residual))


def largest_curvature(forward: Callable, observation, z, n_iter: int = 200) -> float:
    """Estimate the largest Hessian eigenvalue (in magnitude) of the inversion loss at ``z``.

    Found by power iteration on Hessian-vector products, so it needs no
    explicit Hessian. For a linear forward model f(z) = A z + b the Hessian is
    the constant ``2 A^T A`` and this is ``2 * sigma_max(A)**2``.

    Parameters
    ----------
    forward : callable
        The forward model.
    observation : array-like or tf.Tensor
        The observation x.
    z : array-like or tf.Tensor
        Where to measure the curvature.
    n_iter : int, default 200
        The most power iterations; they stop earlier once the estimate settles
        to a relative 1e-12.

    Returns
    -------
    float
        The curvature, >= 0 (0 where the loss is flat).
    """
    observation = _as_tensor(observation, "observation")
    z = tf.cast(_as_tensor(z, "z"), observation.dtype)

    gradient = gradient_of(lambda z: inversion_loss(forward, observation, z))

    def hessian_vector(v):
        return gradient_of(lambda z: tf.reduce_sum(gradient(z) * v))(z)

    v = tf.random.stateless_normal(tf.shape(z), seed=(1, 2), dtype=z.dtype)
    v = v / tf.norm(v)
    curvature = 0.0
    for _ in range(n_iter):
        hv = hessian_vector(v)
        norm = float(tf.norm(hv))
        if norm == 0.0:
            return 0.0
        new_curvature = float(tf.reduce_sum(v * hv))
        v = hv / norm
        if abs(new_curvature - curvature) <= 1e-12 * abs(new_curvature):
            curvature = new_curvature
            break
        curvature = new_curvature
    return abs(curvature)


def step_size_bound(forward: Callable, observation, z) -> float:
    """Compute the step-size bound ``2 / lambda_max`` of the inversion loss at ``z``.

    lambda_max is the largest curvature (Hessian eigenvalue) of the loss.
    Gradient descent on a quadratic converges exactly when the step size is
    below this bound, oscillates when it is above half of it, and diverges
    above it. For a linear forward model f(z) = G z + b it is
    1 / sigma_max(G)**2 (the same bound as
    :func:`inverse_lessons.inversion.linear.generator_step_size_bound`), exact;
    otherwise a local estimate at ``z``.

    Parameters
    ----------
    forward : callable
        The forward model.
    observation : array-like or tf.Tensor
        The observation x.
    z : array-like or tf.Tensor
        Where to measure the curvature.

    Returns
    -------
    float
        The bound, in the units of the step size; ``inf`` where the loss is flat.
    """
    curvature = largest_curvature(forward, observation, z)
    return math.inf if curvature == 0.0 else 2.0 / curvature


def invert(
    forward: Callable,
    observation,
    initial,
    *,
    step_size: float,
    n_steps: int,
    record: bool = False,
    check: bool = True,
) -> Inversion:
    """Invert ``forward`` at ``observation`` by ``n_steps`` of gradient descent.

    Parameters
    ----------
    forward : callable
        The forward model: maps a latent tensor of the shape of ``initial`` to
        a prediction of the shape of ``observation``. Written with TensorFlow
        operations so that it can be differentiated.
    observation : array-like or tf.Tensor
        The observation x; any shape.
    initial : array-like or tf.Tensor
        The starting latent z_0; any shape the forward model accepts.
    step_size : float
        The gradient-descent step size (learning rate) of the inner loop; > 0.
    n_steps : int
        The number of gradient-descent steps; > 0.
    record : bool
        Also return the path of iterates and the loss at each one (numpy
        arrays; eager mode only).
    check : bool
        Detect divergence (non-finite iterates, or a loss that ends higher
        than it started) and raise :class:`DivergenceError`. Checks run in
        eager mode only; inside ``tf.function`` they are skipped.

    Returns
    -------
    Inversion
        ``estimate`` (tf.Tensor, shape of ``initial``) and, with
        ``record=True``, ``path`` and ``losses``.

    Raises
    ------
    DivergenceError
        With ``check=True`` in eager mode, when the iterates diverge.
    TypeError
        If ``forward`` is not callable or an array is not numeric.
    ValueError
        If ``forward(initial)`` does not have the shape of ``observation``, an
        array holds NaN or inf, or ``record=True`` inside ``tf.function``.
    """
    if not callable(forward):
        raise TypeError(f"forward must be callable, got {type(forward).__name__}")
    step_size = check_positive("step_size", step_size)
    n_steps = check_int("n_steps", n_steps, minimum=1)
    observation = _as_tensor(observation, "observation")
    z = tf.cast(_as_tensor(initial, "initial"), observation.dtype)

    eager = tf.executing_eagerly()
    prediction_shape = forward(z).shape
    if prediction_shape != observation.shape:
        raise ValueError(
            f"forward(initial) has shape {tuple(prediction_shape)} but observation "
            f"has shape {tuple(observation.shape)}; they must match"
        )
    if record and not eager:
        raise ValueError("record=True needs eager execution (not inside tf.function)")

    gradient = gradient_of(lambda z: inversion_loss(forward, observation, z))
    if not (record or (check and eager)):
        return Inversion(gradient_descent(gradient, z, step_size=step_size, n_steps=n_steps),
                         None, None)

    # The same steps one at a time, keeping every iterate and its loss.
    path, losses = [], []
    for step in range(n_steps + 1):
        if step:
            z = gradient_descent(gradient, z, step_size=step_size, n_steps=1)
        path.append(z.numpy())
        losses.append(float(inversion_loss(forward, observation, z)))
        if check and not (np.isfinite(losses[-1]) and np.all(np.isfinite(path[-1]))):
            _raise_divergence(forward, observation, initial, step_size, path, losses,
                              f"the loss became non-finite at step {step}")
    if check and losses[-1] > losses[0] * (1 + 1e-9) + 1e-300:
        _raise_divergence(
            forward, observation, initial, step_size, path, losses,
            f"the loss grew from {losses[0]:.4g} to {losses[-1]:.4g} in {n_steps} steps",
        )
    if record:
        return Inversion(z, np.stack(path), np.asarray(losses))
    return Inversion(z, None, None)


def _raise_divergence(forward, observation, initial, step_size, path, losses, what):
    try:
        stable = step_size_bound(forward, observation, initial)
    except Exception:  # the bound is a hint; never hide the divergence itself
        stable = None
    hint = (
        f"; step sizes below {stable:.4g} are stable here"
        " (exact for a linear forward model, a local estimate at the start otherwise)"
        if stable is not None and math.isfinite(stable)
        else ""
    )
    raise DivergenceError(
        f"gradient descent diverged with step_size={step_size:g}: {what}{hint}",
        step_size=step_size,
        step_size_bound=stable,
        path=np.stack(path),
        losses=np.asarray(losses),
    )


class DescentPath(NamedTuple):
    """Hold the result of :func:`descent_path`.

    Attributes
    ----------
    path : numpy.ndarray of shape (n + 1, *latent shape)
        The iterates (n < n_steps when the run diverged and was stopped).
    losses : numpy.ndarray of shape (n + 1,)
        The loss at each iterate.
    diverged : str or None
        The message of the :class:`DivergenceError`, or None.
    """

    path: np.ndarray
    losses: np.ndarray
    diverged: str | None


def descent_path(forward: Callable, observation, initial, *, step_size, n_steps) -> DescentPath:
    """Run :func:`invert` and keep the path even when it diverges.

    This is what plots and sliders call: a diverging step size is part of the
    lesson, so it is reported in ``diverged`` rather than raised.

    Parameters
    ----------
    forward, observation, initial, step_size, n_steps
        As for :func:`invert`.

    Returns
    -------
    DescentPath
        The iterates, their losses, and the divergence message if any.
    """
    try:
        run = invert(forward, observation, initial, step_size=step_size, n_steps=n_steps,
                     record=True)
    except DivergenceError as err:
        return DescentPath(err.path, err.losses, str(err))
    return DescentPath(run.path, run.losses, None)
