"""How InverseNet learns: its bilevel objective and its training step (chapter 4).

:class:`~inverse_lessons.models.inverse_net.InverseNet` predicts by inverting a
linear generator G, z*(x) = N gradient steps on ||x - G z||^2 from z = 0, and
classifying the code with a head, logits = z* W + c. Training minimises the
cross-entropy of those logits over G, W and c, differentiating through the
inner solver: a bilevel problem. This module writes that objective
(:func:`outer_loss`), the inner step size it depends on
(:func:`inner_step_size`), one optimiser step on it as a pure function
(:func:`training_step`), and the outer iterations that run that step in the
shared :class:`~inverse_lessons.models.training.TrainingLoop`
(:func:`train`). The functions read the model's settings from ``model``, an
``InverseNet`` (fitted or not).
"""

from __future__ import annotations

import numpy as np

from inverse_lessons._tf import tf, to_dtype
from inverse_lessons.inversion.closed_form import (
    closed_form_inversion,
    geometric_sum,
    iteration_matrix,
)
from inverse_lessons.inversion.linear import (
    generator_step_size_bound,
    observed_mask,
    unrolled_inversion,
)
from inverse_lessons.models.training import (
    TrainingLoop,
    optimiser_state,
    optimiser_update,
    training_diverged,
    training_loop,
)

__all__ = [
    "DTYPE",
    "check_inner_stable",
    "initial_parameters",
    "inner_step_size",
    "outer_loss",
    "pixel_weights",
    "train",
    "training_step",
    "zeroed_and_mask",
]

DTYPE = tf.float32
"""The dtype InverseNet trains in (prediction runs in float64)."""


def zeroed_and_mask(X, dtype):
    """Split images with missing pixels into zero-filled images and a mask.

    Parameters
    ----------
    X : ndarray of shape (n, m)
        Images; NaN marks a missing pixel.
    dtype : tf.DType
        The dtype of the tensors returned.

    Returns
    -------
    X_zeroed : tensor of shape (n, m)
        The images, missing pixels set to 0.
    mask : tensor of shape (n, m) or None
        1 for an observed pixel, 0 for a missing one; None when no pixel is
        missing (the cheaper unmasked inversion).
    """
    X_zeroed, mask = observed_mask(tf.constant(X, dtype))
    return X_zeroed, (mask if np.isnan(X).any() else None)


def check_inner_stable(step_size, G):
    """Check that a fixed inner step size keeps the inversion of G stable.

    Parameters
    ----------
    step_size : "auto" or float
        The setting ``inner_step_size`` ("auto" is always stable).
    G : tensor of shape (m, k)
        The generator.

    Raises
    ------
    ValueError
        If the step size is at or beyond 1 / sigma_max(G)^2, where the inner
        gradient descent diverges.
    """
    if step_size == "auto":
        return
    bound = float(generator_step_size_bound(G))
    if step_size >= bound:
        raise ValueError(
            f"inner_step_size={step_size:g} would make the inner loop diverge: "
            f"it must be below 1/sigma_max(G)^2 = {bound:.4g} for this generator "
            "(or use inner_step_size='auto')"
        )


def inner_step_size(model, G, bound=None):
    """Return the inner step size eta for generator G.

    Parameters
    ----------
    model : InverseNet
        Its ``inner_step_size`` and ``step_gradient``.
    G : tensor of shape (m, k)
        The generator.
    bound : scalar tensor or None
        ``generator_step_size_bound(G)`` if already computed (the same
        number, not computed twice).

    Returns
    -------
    scalar tensor
        With "auto", 0.5 / sigma_max(G)^2: a constant for the outer gradient
        unless ``step_gradient`` is True, when it is differentiated through
        the largest eigenvalue of G^T G. A fixed number does not depend on G.
    """
    if model.inner_step_size == "auto":
        if model.step_gradient:   # eta(G) differentiated: d lambda_max = 2 v^T G^T dG v
            largest = tf.linalg.eigh(tf.matmul(G, G, transpose_a=True))[0][-1]
            return 0.5 / largest
        return 0.5 * (generator_step_size_bound(G) if bound is None else bound)
    return tf.constant(model.inner_step_size, G.dtype)


def initial_parameters(model, X, n_classes, rng):
    """Choose the starting generator and head.

    G starts from randomly chosen training images (missing pixels replaced by
    the pixel mean), slightly perturbed: sensible shapes and scale.

    Parameters
    ----------
    model : InverseNet
        Its ``n_latent`` and ``head``.
    X : ndarray of shape (n, m)
        Training images; NaN marks a missing pixel.
    n_classes : int
        C, the number of classes.
    rng : numpy.random.RandomState
        Draws the images and the perturbations.

    Returns
    -------
    G : ndarray of shape (m, k), float32
    W : ndarray of shape (k, C), float32
        Small random weights, or the identity for ``head="identity"``.
    c : ndarray of shape (C,), float32
        Zeros.

    Raises
    ------
    ValueError
        If ``head="identity"`` and ``n_latent`` is not the number of classes.
    """
    if model.head == "identity" and model.n_latent != n_classes:
        raise ValueError(
            f"head='identity' uses one latent per class: n_latent must be {n_classes}, "
            f"got {model.n_latent}"
        )
    n, m = X.shape
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0, keepdims=True), X)
    filled = np.nan_to_num(filled)
    picks = rng.choice(n, size=model.n_latent, replace=model.n_latent > n)
    scale = max(float(np.abs(filled).mean()), 1e-3)
    G0 = filled[picks].T + 0.1 * scale * rng.standard_normal((m, model.n_latent))
    if model.head == "linear":
        W0 = 0.01 * rng.standard_normal((model.n_latent, n_classes))
    else:
        W0 = np.eye(n_classes)
    return (np.asarray(G0, np.float32), np.asarray(W0, np.float32),
            np.zeros(n_classes, np.float32))


def pixel_weights(model, G, W, step):
    """Return V with logits = X V + c, the whole map of complete images to logits.

    Without missing pixels the closed form's code z* = 2 eta X G S_N is linear
    in x (:func:`~inverse_lessons.inversion.closed_form.iteration_matrix`,
    :func:`~inverse_lessons.inversion.closed_form.geometric_sum`), so so is the
    map to the logits: one (m, C) matrix V = 2 eta G S_N W. Multiplying the
    images by V needs C columns instead of the codes' k (and so does the
    gradient).

    Parameters
    ----------
    model : InverseNet
        Its ``inner_steps``, N.
    G : tensor of shape (m, k)
        The generator.
    W : tensor of shape (k, C)
        The head's weights.
    step : scalar tensor
        The inner step size eta.

    Returns
    -------
    tensor of shape (m, C)
    """
    step = to_dtype(step, G.dtype)
    S, _ = geometric_sum(iteration_matrix(G, step), model.inner_steps)
    return 2.0 * step * tf.matmul(G, tf.matmul(S, W))


def outer_loss(model, G, W, c, X, mask, labels, step):
    """Compute the objective the outer optimiser minimises.

    The mean cross-entropy of the logits z*(X) W + c, plus ``alpha`` ||W||^2
    (linear head), plus ``reconstruction_weight`` times the mean squared
    error per observed pixel between the images and G z*.

    Parameters
    ----------
    model : InverseNet
        The settings of the objective.
    G, W, c : tensors of shape (m, k), (k, C), (C,)
        The generator and the head.
    X : tensor of shape (n, m)
        Images, missing pixels zeroed.
    mask : tensor of shape (n, m) or None
        Their observed pixels (None: all).
    labels : int tensor of shape (n,)
        Class indices.
    step : scalar tensor
        The inner step size eta.

    Returns
    -------
    scalar tensor
    """
    weight = float(model.reconstruction_weight)
    if mask is None and not weight and model.gradient == "closed_form":
        # the same logits as below (up to float rounding), without the codes
        logits = tf.matmul(X, pixel_weights(model, G, W, step)) + c
    else:
        if model.gradient == "closed_form":   # per-image products: faster compiled
            Z = closed_form_inversion(G, X, n_steps=model.inner_steps, step_size=step,
                                      mask=mask, jit_compile=mask is not None)
        else:
            Z = unrolled_inversion(G, X, n_steps=model.inner_steps, step_size=step, mask=mask)
        logits = tf.matmul(Z, W) + c
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    penalty = model.alpha if model.head == "linear" else 0.0
    loss = loss + penalty * tf.reduce_sum(tf.square(W))
    if weight:
        residual = X - tf.matmul(Z, G, transpose_b=True)
        if mask is None:
            observed = tf.cast(tf.size(X), DTYPE)
        else:
            residual = residual * mask
            observed = tf.reduce_sum(mask)
        loss = loss + weight * tf.reduce_sum(tf.square(residual)) / observed
    return loss


def training_step(model, n_classes):
    """Make the pure outer step of an InverseNet configuration, for :class:`TrainingLoop`.

    Parameters
    ----------
    model : InverseNet
        Holds the settings the step reads while it is traced.
    n_classes : int
        C, the number of classes.

    Returns
    -------
    callable
        ``step(params, state, batch) -> (record, params, state)``. The
        parameters are [G, W, c] (linear head) or [G] (identity head); the
        batch is (images, mask or None, labels[, rows]); the record is
        (loss, inner step size, its stable bound). With
        ``normalize_generator`` G is rescaled to sigma_max(G) = 1 after the
        optimiser's step.
    """
    W_identity = tf.eye(n_classes, dtype=DTYPE)
    c_zero = tf.zeros(n_classes, DTYPE)

    def step(params, state, batch):
        X, mask, labels, *rows = batch
        if rows:
            X, labels = tf.gather(X, rows[0]), tf.gather(labels, rows[0])
            mask = None if mask is None else tf.gather(mask, rows[0])
        bound = generator_step_size_bound(params[0])   # the inner loop's stability limit
        with tf.GradientTape() as tape:
            tape.watch(params)
            G, W, c = params if len(params) == 3 else (params[0], W_identity, c_zero)
            eta = inner_step_size(model, G, bound)
            loss = outer_loss(model, G, W, c, X, mask, labels, eta)
        params, state = optimiser_update(params, tape.gradient(loss, params), state,
                                         model.optimizer)
        if model.normalize_generator:   # back to sigma_max(G) = 1
            params[0] = params[0] * tf.sqrt(generator_step_size_bound(params[0]))
        return (loss, tf.stop_gradient(eta), bound), params, state

    return step


def _diverged(i, loss, step, bound):
    cause = (f"the inner step size {step:.4g} is beyond the stable bound "
             f"1/sigma_max(G)^2 = {bound:.4g} of the generator"
             if step >= bound else "the outer learning rate is too large")
    return training_diverged(
        i, loss, f"{cause}. Use inner_step_size='auto' or a smaller learning_rate",
        step_size=step, step_size_bound=bound)


def _loop(model, n_classes):
    """Return the :class:`TrainingLoop` of this model's settings, made on first use.

    Everything the step reads from the settings while it is traced is in the
    key, so fits that differ only in ``random_state``, ``max_iter``,
    ``batch_size``, ``progress`` or ``learning_rate`` (part of the optimiser's
    state) share one.
    """
    params = model.get_params()
    for name in ("random_state", "max_iter", "progress", "batch_size", "learning_rate"):
        params.pop(name)
    key = (type(model), tuple(sorted(params.items())), n_classes)
    return training_loop(key, lambda: TrainingLoop(
        training_step(type(model)(**params), n_classes), DTYPE, n_records=3))


def train(model, params, X, codes, rng):
    """Run the outer iterations of ``model`` from ``params``.

    Each of the ``max_iter`` iterations trains on the whole set or on a fresh
    random mini-batch of ``batch_size`` images drawn from ``rng`` (in the
    order the iterations use them).

    Parameters
    ----------
    model : InverseNet
        Being fitted: its settings and ``classes_``; its ``loss_curve_`` is set.
    params : list of tensors
        The starting [G, W, c] (linear head) or [G] (identity head), float32.
    X : ndarray of shape (n, m)
        Training images; NaN marks a missing pixel.
    codes : ndarray of shape (n,)
        Their class indices.
    rng : numpy.random.RandomState
        Draws the mini-batches.

    Returns
    -------
    list of tensors
        The trained parameters.

    Raises
    ------
    DivergenceError
        At the first iteration whose loss is not finite.
    """
    n = len(X)
    X_zeroed, mask = zeroed_and_mask(X, DTYPE)
    batch = None if model.batch_size is None or model.batch_size >= n else model.batch_size

    def rows(start, count):
        return (np.stack([rng.choice(n, size=batch, replace=False)
                          for _ in range(count)]),)

    # with missing pixels the per-image matrices are faster for a known number of
    # images, so the loop is traced for the training set's size (full batches)
    _, params, _ = _loop(model, len(model.classes_)).run(
        model, params, optimiser_state(params, model.learning_rate),
        (X_zeroed, mask, tf.constant(codes, tf.int32)), n_steps=model.max_iter,
        per_step=None if batch is None else rows, diverged=_diverged,
        fixed_size=mask is not None and batch is None)
    return params
