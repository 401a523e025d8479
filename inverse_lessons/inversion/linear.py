"""Inverting a linear generator x = G z, four ways (chapters 3-5).

For a batch of observations X (n images, one per row, m pixels) and a
generator matrix G (m pixels x k latents), the inversion loss of image i is

    L_i(z) = sum_p  d_ip (x_ip - (G z)_p)^2 ,

where d_ip = 1 for an observed pixel and 0 for a missing one (NaN in X).
Every image gets its own loss and its own gradient: nothing is averaged
over the batch, so the estimate of an image never depends on which other
images are inverted with it.

- :func:`unrolled_inversion` takes N explicit gradient-descent steps from
  z = 0; automatic differentiation runs back through every step.
- :func:`closed_form_inversion` computes the *same* N-step result at once.
  From z_0 = 0, N steps with step size eta give
  z_N = S_N (2 eta G^T D x) with M = I - 2 eta G^T D G and
  S_N = I + M + ... + M^(N-1), which repeated squaring builds from about
  2 log2(N) matrix products of size k x k (:func:`iteration_matrix` and
  :func:`geometric_sum`, also used by ``InverseNet``).
- :func:`least_squares_inversion` is the infinite-step limit, the exact
  minimiser z* = pinv(D G) x.
- :func:`implicit_inversion` is the same limit with a gradient from the
  implicit function theorem instead of from any steps.

The closed form and the implicit gradient live in
:mod:`inverse_lessons.inversion.closed_form` and are re-exported here.

Two numpy helpers read the N-step answer direction by direction (chapter 3):
:func:`filter_factors` gives how much of each singular direction N steps
have fitted, and :func:`signal_and_deviation` splits each image's
least-squares weights along those directions into the part its own class
template explains and the rest.

:func:`train_through_inversion` trains a generator and a linear head through
N inner steps with the gradient through the last K only (chapter 5's
exercise 5.3: what truncated backpropagation does to training).

All four are TensorFlow functions of G, so they can be differentiated with
respect to the generator. Shapes: G (m, k), X (n, m), result Z (n, k).
"""

from __future__ import annotations

import numpy as np

from inverse_lessons._tf import tf, to_dtype
from inverse_lessons._validation import check_int, check_positive
from inverse_lessons.inversion.closed_form import (
    closed_form_inversion,
)
from inverse_lessons.inversion.solver import gradient_descent

__all__ = [
    "observed_mask",
    "unrolled_inversion",
    "least_squares_inversion",
    "generator_step_size_bound",
    "filter_factors",
    "signal_and_deviation",
    "train_through_inversion",
]


def observed_mask(X):
    """Split X into its values with missing pixels set to 0 and the mask of observed pixels.

    Parameters
    ----------
    X : array-like or tf.Tensor, shape (n, m)
        Images as rows, NaN for a missing pixel.

    Returns
    -------
    values : tf.Tensor, shape (n, m)
        X with NaN replaced by 0, in X's dtype.
    mask : tf.Tensor, shape (n, m)
        1.0 where a pixel is observed, 0.0 where it is missing, in X's dtype.
    """
    X = tf.convert_to_tensor(X)
    missing = tf.math.is_nan(X)
    return tf.where(missing, tf.zeros_like(X), X), tf.cast(~missing, X.dtype)


def generator_step_size_bound(G):
    """Compute the step-size bound ``1 / sigma_max(G)**2`` of inverting G.

    The inversion loss ||x - G z||^2 has curvature 2 G^T G, so gradient
    descent on it converges for step sizes below this bound and diverges above
    it: the same bound ``2 / lambda_max`` as
    :func:`inverse_lessons.inversion.solver.step_size_bound`, computed exactly from G.
    Half of it damps the stiffest direction critically (that direction is
    solved in one step, without oscillation), the step InverseNet uses by
    default. Masking pixels only lowers the curvature, so the bound stays safe
    for damaged images. No gradient flows through it.

    Parameters
    ----------
    G : array-like or tf.Tensor, shape (m, k)
        The generator, one column per latent.

    Returns
    -------
    tf.Tensor
        The bound, a scalar in G's dtype.
    """
    G = tf.stop_gradient(tf.convert_to_tensor(G))
    largest = tf.linalg.eigvalsh(tf.matmul(G, G, transpose_a=True))[-1]
    return 1.0 / largest


def unrolled_inversion(G, X, *, n_steps, step_size, mask=None, initial=None,
                       backprop_steps=None):
    """Take N explicit gradient-descent steps on every image's inversion loss.

    Parameters
    ----------
    G : array-like or tf.Tensor, shape (m, k)
        The generator.
    X : array-like or tf.Tensor, shape (n, m)
        Images as rows, missing pixels already zeroed (:func:`observed_mask`).
    n_steps : int
        N, a Python int >= 0.
    step_size : float or scalar tf.Tensor
        The step size eta.
    mask : tf.Tensor of shape (n, m) or None, default None
        1 for an observed pixel, 0 for a missing one; None when all are observed.
    initial : tf.Tensor of shape (n, k) or None, default None
        The starting latents; zero by default.
    backprop_steps : int or None, default None
        K truncates backpropagation: gradients flow through the last K steps
        only (the iterate before them is treated as a constant), which biases
        the gradient. The first N - K steps are then computed from constant
        copies of G, X, the step size and the start, so that a GradientTape
        records nothing of them and memory grows with K, not N (a
        stop-gradient on the iterate alone would cut the gradient but the tape
        would still keep every step's tensors). None backpropagates through all.

    Returns
    -------
    tf.Tensor, shape (n, k)
        The latents Z after N steps.

    Raises
    ------
    ValueError
        If ``backprop_steps`` is not between 0 and ``n_steps``.
    """
    n_steps = check_int("n_steps", n_steps, minimum=0)
    if backprop_steps is not None and not 0 <= backprop_steps <= n_steps:
        raise ValueError(
            f"backprop_steps must be between 0 and n_steps={n_steps}, got {backprop_steps}")
    G = tf.convert_to_tensor(G)
    X = tf.convert_to_tensor(X, dtype=G.dtype)
    if initial is None:
        Z = tf.zeros((tf.shape(X)[0], G.shape[1]), dtype=G.dtype)
    else:
        Z = tf.convert_to_tensor(initial, dtype=G.dtype)

    def steps(Z, G, X, step_size, mask, count):
        def gradient(Z):   # of sum_p d_p (x_p - (G z)_p)^2, written out: -2 (D r) G
            residual = X - tf.matmul(Z, G, transpose_b=True)
            if mask is not None:
                residual = residual * mask
            return -2.0 * tf.matmul(residual, G)

        return gradient_descent(gradient, Z, step_size=step_size, n_steps=count)

    frozen = 0 if backprop_steps is None else n_steps - backprop_steps
    if frozen:   # off the tape: every input a constant
        constant = tf.stop_gradient
        Z = constant(steps(constant(Z), constant(G), constant(X),
                           constant(to_dtype(step_size, G.dtype)),
                           None if mask is None else constant(mask), frozen))
    return steps(Z, G, X, step_size, mask, n_steps - frozen)


def least_squares_inversion(G, X, *, mask=None, rcond=1e-10):
    """Compute the infinite-step limit, the least-squares latent of every image.

    Without a mask, Z = X pinv(G)^T; with one, each image is solved on its
    observed pixels only (minimum-norm solution).

    Parameters
    ----------
    G : array-like or tf.Tensor, shape (m, k)
        The generator.
    X : array-like or tf.Tensor, shape (n, m)
        Images as rows, missing pixels zeroed.
    mask : array-like of shape (n, m) or None, default None
        1 for an observed pixel, 0 for a missing one.
    rcond : float, default 1e-10
        Singular values below ``rcond`` times the largest count as zero.

    Returns
    -------
    tf.Tensor, shape (n, k)
        The least-squares latents.
    """
    G = tf.convert_to_tensor(G)
    X = tf.convert_to_tensor(X, dtype=G.dtype)
    if mask is None:
        return tf.matmul(X, tf.linalg.pinv(G, rcond=rcond), transpose_b=True)
    mask = tf.convert_to_tensor(mask, dtype=G.dtype)
    DG = mask[:, :, None] * G[None]
    return tf.einsum("nkp,np->nk", tf.linalg.pinv(DG, rcond=rcond), X * mask)


def filter_factors(singular_values, *, n_steps, step_size):
    """Measure how much of each singular direction N gradient steps from z = 0 have fitted.

    Along the right singular vector v_i the N-step weights are this factor
    times the least-squares weights (1 fully fitted, 0 untouched). Outside
    |1 - 2 eta sigma_i^2| < 1 the steps diverge and the factor grows without
    bound.

    Parameters
    ----------
    singular_values : array-like, shape (k,)
        The generator's sigma_i, any order.
    n_steps : int
        N, >= 0.
    step_size : float
        The step size eta, > 0.

    Returns
    -------
    ndarray of float64, shape (k,)
        ``1 - (1 - 2 eta sigma_i^2)^N``.
    """
    n_steps = check_int("n_steps", n_steps, minimum=0)
    step_size = check_positive("step_size", step_size)
    sigma = np.asarray(singular_values, dtype=np.float64)
    if sigma.ndim != 1:
        raise ValueError(f"singular_values must be 1-D, got shape {sigma.shape}")
    return 1.0 - (1.0 - 2.0 * step_size * sigma ** 2) ** n_steps


def signal_and_deviation(G, X, y):
    """Split each image's least-squares weights into signal and deviation per direction.

    Image i of class y_i is written x = a g_y + e, with a g_y the best
    multiple of its own template (a = g_y . x / ||g_y||^2) and e the
    deviation, orthogonal to g_y. With G = U diag(s) V^T (s descending) the
    least-squares weights z* = G^+ x have, along v_j, the coordinate
    u_j . x / s_j = a V[y, j] + u_j . e / s_j: the first term is the signal
    (the coordinate of the ideal answer a delta_y, the unit vector of the
    right class scaled by a), the second the deviation. Both are divided by
    s_j, so their ratio in a direction is the same in pixels and in weights.

    Parameters
    ----------
    G : array-like, shape (m, k)
        One template per class as its columns (class c is column c), of full
        column rank.
    X : array-like, shape (n, m)
        Images, one per row.
    y : array-like of int, shape (n,)
        Their classes, in 0 .. k-1.

    Returns
    -------
    s : ndarray, shape (k,)
        The singular values of G, descending.
    signal, deviation : ndarray, shape (n, k)
        The two parts, whose sum is V^T z* for every image.

    Raises
    ------
    ValueError
        If the shapes disagree, a class is out of range or G is rank-deficient.
    """
    G = np.asarray(G, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if G.ndim != 2 or X.ndim != 2 or X.shape[1] != G.shape[0]:
        raise ValueError(f"G must be (m, k) and X (n, m), got {G.shape} and {X.shape}")
    if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold one integer class per image, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= G.shape[1]):
        raise ValueError(f"classes must lie in 0..{G.shape[1] - 1}")
    U, s, Vt = np.linalg.svd(G, full_matrices=False)
    if s[-1] <= s[0] * 1e-12:
        raise ValueError("G must have full column rank")
    own = G[:, y].T                                     # g_y, one per row
    a = np.sum(X * own, axis=1) / np.sum(own ** 2, axis=1)
    signal = a[:, None] * Vt[:, y].T                    # a V[y, j]
    deviation = ((X - a[:, None] * own) @ U) / s
    return s, signal, deviation


def train_through_inversion(X, y, *, inner_steps=300, backprop_steps=None, n_iter=50,
                            n_latent=30, learning_rate=0.01, alpha=3e-4, seeds=(0,)):
    """Train a generator G and a linear head through N inner steps and record the loss.

    A small, float64 version of what ``InverseNet()`` does (chapter 4), kept
    short so that the gradient is the only thing that varies (chapter 5,
    exercise 5.3). The latents of each image are N = ``inner_steps`` gradient
    steps from z = 0 with step size 0.5 / sigma_max(G)^2 (recomputed from the
    current G, no gradient through it); the outer loss is the mean
    cross-entropy of the logits Z W^T + c plus alpha ||W||^2; the update is
    Adam with ``learning_rate`` (beta1 0.9, beta2 0.999, epsilon 1e-7), from
    InverseNet's start: G = 30 (``n_latent``) training images picked at
    random, plus noise of 0.1 times the mean absolute pixel; W small and
    random (0.01 N(0, 1)); c = 0.

    ``backprop_steps`` = K lets the gradient flow through the last K steps
    only, the iterate before them held fixed (truncated backpropagation, as
    ``unrolled_inversion(..., backprop_steps=K)``); None (or K = N)
    backpropagates through all N. Both are computed in closed form
    (:func:`closed_form_inversion`), which equals unrolling.

    Parameters
    ----------
    X : array-like, shape (n, m)
        Images, one per row; at least ``n_latent``.
    y : array-like of int, shape (n,)
        Their classes, 0..9.
    inner_steps : int, default 300
        N, the inner gradient steps.
    backprop_steps : int or None, default None
        K, the steps the gradient flows through; None for all N.
    n_iter : int, default 50
        Outer Adam iterations.
    n_latent : int, default 30
        k, the generator's columns.
    learning_rate : float, default 0.01
        Adam's step size.
    alpha : float, default 3e-4
        Weight of the penalty ``||W||^2``, >= 0.
    seeds : sequence of int, default (0,)
        The random starts to train from, one run each.

    Returns
    -------
    ndarray of float64, shape (len(seeds), n_iter)
        The training loss at each iteration, evaluated before its update.

    Raises
    ------
    ValueError
        If a setting is out of range or X, y have the wrong shapes or classes.
    """
    inner_steps = check_int("inner_steps", inner_steps, minimum=1)
    n_iter = check_int("n_iter", n_iter, minimum=1)
    n_latent = check_int("n_latent", n_latent, minimum=1)
    learning_rate = check_positive("learning_rate", learning_rate)
    alpha = check_positive("alpha", alpha, allow_zero=True)
    K = inner_steps if backprop_steps is None else check_int(
        "backprop_steps", backprop_steps, minimum=1)
    if K > inner_steps:
        raise ValueError(f"backprop_steps must be at most inner_steps={inner_steps}, got {K}")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"X must be (n, m) and y (n,) integer classes, got {X.shape} and "
                         f"{y.dtype} {y.shape}")
    if X.shape[0] < n_latent:
        raise ValueError(f"need at least n_latent={n_latent} images, got {X.shape[0]}")
    n_classes = 10
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError("classes must lie in 0..9")
    X_t, labels = tf.constant(X), tf.constant(y)
    shapes = ((X.shape[1], n_latent), (n_latent, n_classes), (n_classes,))
    params = [tf.Variable(tf.zeros(shape, tf.float64)) for shape in shapes]
    moments = [tf.Variable(tf.zeros(shape, tf.float64)) for shape in shapes for _ in "mv"]
    beta1, beta2 = 0.9, 0.999

    def latents(G):
        step = 0.5 * generator_step_size_bound(G)
        if K == inner_steps:
            return closed_form_inversion(G, X_t, n_steps=inner_steps, step_size=step)
        start = closed_form_inversion(G, X_t, n_steps=inner_steps - K, step_size=step)
        return closed_form_inversion(G, X_t, n_steps=K, step_size=step,
                                     initial=tf.stop_gradient(start))

    @tf.function
    def update(t):                              # one Adam step, t = 1, 2, ...
        with tf.GradientTape() as tape:
            W, c = params[1], params[2]         # W transposed, as coef_
            logits = tf.matmul(latents(params[0]), W) + c
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            loss += alpha * tf.reduce_sum(W ** 2)
        grads = tape.gradient(loss, params)
        for p, g, m, v in zip(params, grads, moments[::2], moments[1::2], strict=True):
            m.assign(beta1 * m + (1 - beta1) * g)
            v.assign(beta2 * v + (1 - beta2) * g ** 2)
            p.assign_sub(learning_rate * m / (1 - beta1 ** t)
                         / (tf.sqrt(v / (1 - beta2 ** t)) + 1e-7))
        return loss

    curves = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        picks = rng.choice(X.shape[0], size=n_latent, replace=False)
        scale = 0.1 * np.abs(X).mean()
        params[0].assign(X[picks].T + scale * rng.standard_normal(shapes[0]))
        params[1].assign(0.01 * rng.standard_normal(shapes[1]))
        params[2].assign(np.zeros(n_classes))
        for m in moments:
            m.assign(tf.zeros_like(m))
        steps = tf.range(1, n_iter + 1, dtype=tf.float64)
        curves.append([float(update(t)) for t in steps])
    return np.array(curves)
