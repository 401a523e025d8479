"""How NonlinearInverseNet learns: its mini-batches and its training step (chapter 7).

:class:`~inverse_lessons.models.nonlinear.NonlinearInverseNet` predicts by
inverting a Keras decoder g from an encoder's guess (or from zero) and
classifying the code with a dense head. Training minimises the cross-entropy
of the head's logits plus a reconstruction term, differentiating through the
unrolled inner steps (second derivatives of the decoder), as chapter 4 does
for a linear generator. This module draws the mini-batches
(:func:`batch_order`), writes one optimiser step as a pure function
(:func:`training_step`), and runs it in the shared
:class:`~inverse_lessons.models.training.TrainingLoop` (:func:`train`).
"""

from __future__ import annotations

import numpy as np

from inverse_lessons._tf import tf
from inverse_lessons.models.decoder import invert_decoder, make_encoder, run_decoder, run_encoder
from inverse_lessons.models.training import (
    TrainingLoop,
    optimiser_state,
    optimiser_update,
    training_diverged,
    training_loop,
)

__all__ = ["DTYPE", "batch_order", "train", "training_step"]

DTYPE = tf.float32
"""The dtype NonlinearInverseNet trains in (prediction runs in float64)."""


def batch_order(n, batch_size, n_iter, rng):
    """Draw which images each training iteration uses, epoch by epoch.

    Each epoch is a fresh permutation of the n images, cut into n // b
    batches of b images; the last n mod b images of a permutation wait for
    the next epoch, so every batch has one size (one trace) and every image is
    drawn about equally often.

    Parameters
    ----------
    n : int
        Training images.
    batch_size : int or None
        b = min(batch_size, n); None: full batches.
    n_iter : int
        Iterations.
    rng : numpy.random.Generator
        Draws the permutations (unused for full batches).

    Returns
    -------
    ndarray of shape (n_iter, b), int
        Row i holds iteration i's images; for full batches every row is
        0, ..., n - 1.
    """
    b = n if batch_size is None else min(batch_size, n)
    if b == n:
        return np.tile(np.arange(n), (n_iter, 1))
    per_epoch = n // b
    epochs = -(-n_iter // per_epoch)
    order = np.concatenate([rng.permutation(n)[:per_epoch * b] for _ in range(epochs)])
    return order.reshape(-1, b)[:n_iter]


def training_step(inner_steps):
    """Make the pure training step for :class:`TrainingLoop`, one per number of inner steps.

    Parameters
    ----------
    inner_steps : int
        The unrolled gradient steps of the inversion.

    Returns
    -------
    callable
        ``step(params, state, batch) -> (loss, params, state)``. The
        parameters are the decoder's (U^T, u, V^T, v), the head's (W^T, c) and
        the encoder's (A^T, a, B^T, b), in the order of the layers'
        ``get_weights()``. The batch is (X, labels, inner step size,
        reconstruction weight, alpha, from_encoder[, rows]). ``from_encoder``
        (1 or 0) multiplies the encoder's guess; a zero-start fit passes
        all-zero encoder weights, whose guess and gradients are exactly zero,
        so its descent starts at z = 0 and its encoder stays at zero: both
        starts share one trace.
    """
    def step(params, state, batch):
        X, labels, step_size, weight, alpha, from_encoder, *rows = batch
        if rows:
            X, labels = tf.gather(X, rows[0]), tf.gather(labels, rows[0])
        with tf.GradientTape() as tape:
            tape.watch(params)
            U, u, V, v, W, c, *encoder = params
            initial = from_encoder * run_encoder(X, *encoder)
            Z = invert_decoder(lambda Z: run_decoder(Z, U, u, V, v), X, initial,
                               n_steps=inner_steps, step_size=step_size)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels, tf.add(tf.matmul(Z, W), c)))
            loss += weight * tf.reduce_mean(tf.square(X - run_decoder(Z, U, u, V, v)))
            loss += alpha * tf.reduce_sum(tf.square(W))
        params, state = optimiser_update(params, tape.gradient(loss, params), state)
        return loss, params, state

    return step


def train(model, X, codes, seed):
    """Run the training iterations of ``model``, whose layers hold the starting weights.

    Parameters
    ----------
    model : NonlinearInverseNet
        Being fitted: its settings and its fresh ``decoder_``, ``encoder_``
        (None for ``start="zero"``) and ``head_``, whose weights are replaced
        by the trained ones; its ``loss_curve_`` is set.
    X : ndarray of shape (n, m)
        Training images.
    codes : ndarray of shape (n,)
        Their class indices.
    seed : int
        Seeds the mini-batches (through ``seed + 6``).

    Raises
    ------
    DivergenceError
        At the first iteration whose loss is not finite.
    """
    batches = batch_order(X.shape[0], model.batch_size, model.max_iter,
                          np.random.default_rng(seed + 6))
    data = (tf.constant(X, DTYPE), tf.constant(codes, tf.int32),
            *[tf.constant(float(v), DTYPE) for v in
              (model.inner_step_size, model.reconstruction_weight, model.alpha,
               model.start == "encoder")])
    layers = [model.decoder_, model.head_] + ([model.encoder_] if model.encoder_ else [])
    params = [tf.constant(w) for layer in layers for w in layer.get_weights()]
    if model.encoder_ is None:   # zero weights: the encoder's guess is z = 0
        params += [tf.zeros_like(w) for w in
                   make_encoder(model.n_latent, X.shape[1], model.hidden).get_weights()]

    def diverged(i, loss):
        return training_diverged(
            i, loss, f"lower inner_step_size (now {model.inner_step_size:g}) or "
            "learning_rate", step_size=model.inner_step_size)

    loop = training_loop((type(model), model.inner_steps),
                         lambda: TrainingLoop(training_step(model.inner_steps), DTYPE))
    full = batches.shape[1] == X.shape[0]
    _, params, _ = loop.run(
        model, params, optimiser_state(params, model.learning_rate), data,
        n_steps=model.max_iter, diverged=diverged,
        per_step=None if full else lambda start, count: (batches[start:start + count],))
    for layer in layers:
        n = len(layer.get_weights())
        layer.set_weights([p.numpy() for p in params[:n]])
        params = params[n:]
