"""The original 2018 formulation of training the generative model, reproduced (chapter 4).

What the original part-3 notebook set up, in TensorFlow 1, and never ran to
the end:

- raw pixel intensities 0-16;
- a generator G (64 x 10) initialised as |randn| / 100, latents as
  |randn| / 100, one latent per class (no classifier head: softmax of z*);
- an inner loss that is the mean squared error over *all* pixels of *all*
  images in the batch, minimised by 250 gradient steps of size 1e-2;
- an outer softmax cross-entropy on z*, minimised by plain gradient descent
  with step 100 for 2000 iterations on 1000 training images;
- prediction by inverting the test images (all together) from new random
  latents and taking argmax z*.

Averaging the inner loss over the batch divides every image's gradient by
n * 64, so each image's effective step shrinks with the batch size. This
module keeps that flaw on purpose; :class:`inverse_lessons.InverseNet` is the
repaired model.

The inner loop is linear in z, so the 250 steps are computed in closed form
(:func:`~inverse_lessons.linear_inversion.closed_form_inversion`, the same
numbers as stepping); ``gradient="unrolled"`` steps through them instead.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from ._tf import quiet_retracing, tf
from .data import N_CLASSES, N_PIXELS, PIXEL_MAX
from .linear_inversion import closed_form_inversion, unrolled_inversion

__all__ = ["OriginalRun", "batch_mean_step", "train_original", "predict_original"]



class OriginalRun(NamedTuple):
    """The result of :func:`train_original`.

    generator : array (64, 10), the learned G (raw-pixel scale).
    losses : array (n_iterations,), the cross-entropy before each update.
    rng : the numpy RandomState after training, which the original's
        prediction goes on drawing its random starting latents from.
    """

    generator: np.ndarray
    losses: np.ndarray
    rng: np.random.RandomState


def batch_mean_step(step_size, n_images, n_pixels=N_PIXELS):
    """The per-image step of a batch-mean inner loss.

    A gradient step of size ``step_size`` on the mean over n_images x n_pixels
    squared errors is a step of ``step_size / (n_images * n_pixels)`` on each
    image's own sum of squared errors.
    """
    return step_size / (n_images * n_pixels)


def _inner(G, X, Z0, *, n_steps, step_size, gradient):
    solve = closed_form_inversion if gradient == "closed_form" else unrolled_inversion
    step = batch_mean_step(step_size, X.shape[0], X.shape[1])
    return solve(G, X, n_steps=n_steps, step_size=step, initial=Z0)


@functools.cache
def _training_loop(n_iterations, inner_steps, inner_step_size, learning_rate, gradient):
    """The original's whole training, compiled once per setting (and data shape):
    a function (G0, X, Z0, Y) -> (G, losses) of tensors, reused by every seed."""

    @tf.function(autograph=False)   # an explicit loop: nothing to convert, quicker to trace
    def run(G, X, Z0, Y):
        # All outer iterations in one TensorFlow graph: the same updates as a
        # Python loop over single steps, without a call per iteration.
        def body(i, G, losses):
            with tf.GradientTape() as tape:
                tape.watch(G)
                Z = _inner(G, X, Z0, n_steps=inner_steps, step_size=inner_step_size,
                           gradient=gradient)
                loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(Y, Z))
            return i + 1, G - learning_rate * tape.gradient(loss, G), losses.write(i, loss)

        _, G, losses = tf.while_loop(
            lambda i, G, losses: i < n_iterations, body,
            (tf.constant(0), G, tf.TensorArray(tf.float32, size=n_iterations)))
        return G, losses.stack()

    return run


def train_original(X, y, *, n_iterations=2000, inner_steps=250, inner_step_size=1e-2,
                   learning_rate=100.0, seed=42, gradient="closed_form"):
    """Train the original formulation; returns an :class:`OriginalRun`.

    X : (n, 64) images in the book's scale [0, 1] (multiplied by 16 here, as
    the original worked on raw intensities); y : (n,) labels 0-9.
    ``gradient`` is "closed_form" (fast, exact) or "unrolled".
    """
    if gradient not in ("closed_form", "unrolled"):
        raise ValueError(f"gradient must be 'closed_form' or 'unrolled', got {gradient!r}")
    X = np.asarray(X, dtype=np.float64) * PIXEL_MAX
    y = np.asarray(y)
    n, m = X.shape
    rng = np.random.RandomState(seed)
    Z0 = tf.constant(np.abs(rng.randn(N_CLASSES, n)).T / 100.0, tf.float32)
    G0 = tf.constant(np.abs(rng.randn(m, N_CLASSES)) / 100.0, tf.float32)
    run = _training_loop(n_iterations, inner_steps, float(inner_step_size),
                         float(learning_rate), gradient)
    with quiet_retracing():   # one graph per setting and data shape, reused across seeds
        G, losses = run(G0, tf.constant(X, tf.float32), Z0, tf.one_hot(y, N_CLASSES))
    return OriginalRun(G.numpy(), losses.numpy().astype(np.float64), rng)


def predict_original(generator, X, rng, *, inner_steps=250, inner_step_size=1e-2,
                     batch_size=None):
    """The original prediction: invert from random small latents, argmax z*.

    The images are inverted together in batches of ``batch_size`` (all at once
    by default, as the original did), which changes every image's effective
    step size. Returns (labels (n,), latents (n, 10)).
    """
    X = np.asarray(X, dtype=np.float64) * PIXEL_MAX
    batch_size = len(X) if batch_size is None else batch_size
    G = tf.constant(generator, tf.float32)
    latents = []
    for start in range(0, len(X), batch_size):
        batch = X[start:start + batch_size]
        Z0 = np.abs(rng.randn(N_CLASSES, len(batch))).T / 100.0
        latents.append(_inner(G, tf.constant(batch, tf.float32), tf.constant(Z0, tf.float32),
                              n_steps=inner_steps, step_size=inner_step_size,
                              gradient="closed_form").numpy())
    latents = np.concatenate(latents)
    return latents.argmax(axis=1), latents
