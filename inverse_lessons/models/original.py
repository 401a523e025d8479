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
(:func:`~inverse_lessons.inversion.linear.closed_form_inversion`, the same
numbers as stepping); ``gradient="unrolled"`` steps through them instead.

For the ablation of chapter 4 every difference between the original and the
repaired model is an option of :func:`train_original` (and of
:func:`predict_original`), off by default: ``inner_loss="per_image"``,
``inner_step_size="auto"`` (0.5 / sigma_max(G)^2, held fixed in the gradient, as
``InverseNet`` does), ``optimizer="adam"``, ``init="images"`` (G from training
images, as ``InverseNet``), ``start="zero"`` and ``pixel_scale=1``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from inverse_lessons._tf import quiet_retracing, tf
from inverse_lessons.data import N_CLASSES, N_PIXELS, PIXEL_MAX
from inverse_lessons.inversion.closed_form import closed_form_inversion
from inverse_lessons.inversion.linear import generator_step_size_bound, unrolled_inversion
from inverse_lessons.models.training import adam_step

__all__ = ["OriginalRun", "batch_mean_step", "train_original", "predict_original"]



class OriginalRun(NamedTuple):
    """Hold the result of :func:`train_original`.

    Attributes
    ----------
    generator : ndarray, shape (64, 10)
        The learned G (raw-pixel scale).
    losses : ndarray, shape (n_iterations,)
        The cross-entropy before each update (shorter if training diverged: it
        ends with the first loss that is not finite).
    rng : numpy.random.RandomState
        The generator after training, from which the original's prediction goes
        on drawing its random starting latents.
    """

    generator: np.ndarray
    losses: np.ndarray
    rng: np.random.RandomState


def batch_mean_step(step_size, n_images, n_pixels=N_PIXELS):
    """Convert a step on a batch-mean inner loss to the step each image takes.

    A gradient step of size ``step_size`` on the mean over n_images x n_pixels
    squared errors is a step of ``step_size / (n_images * n_pixels)`` on each
    image's own sum of squared errors.

    Parameters
    ----------
    step_size : float
        The step on the batch mean.
    n_images : int
        Images in the batch.
    n_pixels : int, default 64
        Pixels per image.

    Returns
    -------
    float
        The step on each image's own loss.
    """
    return step_size / (n_images * n_pixels)


def _inner(G, X, Z0, *, n_steps, step_size, gradient, inner_loss="batch_mean"):
    """Take N inner steps from Z0 (None: zero) on the batch-mean or the per-image loss.

    ``step_size``: a number (the step on that loss) or "auto", 0.5 / sigma_max(G)^2
    on each image's own loss, held fixed in the gradient.
    """
    solve = closed_form_inversion if gradient == "closed_form" else unrolled_inversion
    if step_size == "auto":
        step = 0.5 * generator_step_size_bound(G)
    elif inner_loss == "batch_mean":
        step = batch_mean_step(step_size, X.shape[0], X.shape[1])
    else:
        step = step_size
    return solve(G, X, n_steps=n_steps, step_size=step, initial=Z0)


@functools.cache
def _training_loop(n_iterations, inner_steps, inner_step_size, learning_rate, gradient,
                   inner_loss="batch_mean", optimizer="gd"):
    """Compile the original's whole training once per setting (and data shape).

    Returns a function (G0, X, Z0, Y) -> (G, losses) of tensors, reused by every
    seed (Z0 None: inner loops start from zero).
    """

    @tf.function(autograph=False)   # an explicit loop: nothing to convert, quicker to trace
    def run(G, X, Z0, Y):
        # All outer iterations in one TensorFlow graph: the same updates as a
        # Python loop over single steps, without a call per iteration. It stops
        # after the first loss that is not finite (the losses then end there).
        def body(i, finite, G, m, v, losses):
            with tf.GradientTape() as tape:
                tape.watch(G)
                Z = _inner(G, X, Z0, n_steps=inner_steps, step_size=inner_step_size,
                           gradient=gradient, inner_loss=inner_loss)
                loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(Y, Z))
            grad = tape.gradient(loss, G)
            if optimizer == "gd":
                G = G - learning_rate * grad
            else:
                (G,), (m,), (v,) = adam_step([G], [grad], [m], [v], tf.cast(i + 1, G.dtype),
                                             tf.constant(learning_rate, G.dtype))
            return i + 1, tf.math.is_finite(loss), G, m, v, losses.write(i, loss)

        zeros = tf.zeros_like(G)
        i, _, G, _, _, losses = tf.while_loop(
            lambda i, finite, *rest: tf.logical_and(finite, i < n_iterations), body,
            (tf.constant(0), tf.constant(True), G, zeros, zeros,
             tf.TensorArray(tf.float32, size=n_iterations)))
        return G, losses.stack()[:i]

    return run


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def train_original(X, y, *, n_iterations=2000, inner_steps=250, inner_step_size=1e-2,
                   learning_rate=100.0, seed=42, gradient="closed_form",
                   inner_loss="batch_mean", optimizer="gd", init="abs_randn",
                   start="random", pixel_scale=PIXEL_MAX):
    """Train the original formulation.

    The options ``inner_loss``, ``inner_step_size``, ``optimizer``, ``init``,
    ``start`` and ``pixel_scale`` are what the repaired model changes; their
    defaults are the original's.

    Parameters
    ----------
    X : array-like, shape (n, 64)
        Images in the book's scale [0, 1], multiplied by ``pixel_scale`` here.
    y : array-like of int, shape (n,)
        Labels 0-9.
    n_iterations : int, default 2000
        Outer updates.
    inner_steps : int, default 250
        Inner gradient steps per update.
    inner_step_size : float or "auto", default 1e-2
        The step on the inner loss, or 0.5 / sigma_max(G)^2 on each image's own
        loss (a constant for the gradient).
    learning_rate : float, default 100.0
        The outer step.
    seed : int, default 42
        Seed of the numpy RandomState that draws G and the starting latents.
    gradient : {"closed_form", "unrolled"}, default "closed_form"
        The inner steps in closed form (the same numbers) or stepped through.
    inner_loss : {"batch_mean", "per_image"}, default "batch_mean"
        The mean over all pixels of all images, or each image's own sum of
        squared errors.
    optimizer : {"gd", "adam"}, default "gd"
        Plain gradient descent or Adam, at ``learning_rate``.
    init : {"abs_randn", "images"}, default "abs_randn"
        G = |randn| / 100, or ten random training images slightly perturbed (as
        ``InverseNet`` starts).
    start : {"random", "zero"}, default "random"
        Latents |randn| / 100, or zero.
    pixel_scale : float, default 16
        The original worked on raw intensities 0-16.

    Returns
    -------
    OriginalRun
        The learned generator, the losses and the random state.
    """
    if gradient not in ("closed_form", "unrolled"):
        raise ValueError(f"gradient must be 'closed_form' or 'unrolled', got {gradient!r}")
    _check_choice("inner_loss", inner_loss, ("batch_mean", "per_image"))
    _check_choice("optimizer", optimizer, ("gd", "adam"))
    _check_choice("init", init, ("abs_randn", "images"))
    _check_choice("start", start, ("random", "zero"))
    if inner_step_size != "auto" and not float(inner_step_size) > 0:
        raise ValueError(f"inner_step_size must be 'auto' or positive, got {inner_step_size!r}")
    X = np.asarray(X, dtype=np.float64) * pixel_scale
    y = np.asarray(y)
    n, m = X.shape
    rng = np.random.RandomState(seed)
    Z0 = np.abs(rng.randn(N_CLASSES, n)).T / 100.0
    Z0 = tf.constant(Z0, tf.float32) if start == "random" else None
    if init == "abs_randn":
        G0 = np.abs(rng.randn(m, N_CLASSES)) / 100.0
    else:
        picks = rng.choice(n, size=N_CLASSES, replace=False)
        G0 = X[picks].T + 0.1 * np.abs(X).mean() * rng.randn(m, N_CLASSES)
    G0 = tf.constant(G0, tf.float32)
    step = inner_step_size if inner_step_size == "auto" else float(inner_step_size)
    run = _training_loop(n_iterations, inner_steps, step, float(learning_rate), gradient,
                         inner_loss, optimizer)
    with quiet_retracing():   # one graph per setting and data shape, reused across seeds
        G, losses = run(G0, tf.constant(X, tf.float32), Z0, tf.one_hot(y, N_CLASSES))
    return OriginalRun(G.numpy(), losses.numpy().astype(np.float64), rng)


def predict_original(generator, X, rng, *, inner_steps=250, inner_step_size=1e-2,
                     batch_size=None, inner_loss="batch_mean", start="random",
                     pixel_scale=PIXEL_MAX):
    """Predict as the original did: invert from random small latents, take argmax z*.

    The images are inverted together in batches of ``batch_size`` (all at once
    by default, as the original did), which changes every image's effective
    step size.

    Parameters
    ----------
    generator : array-like, shape (64, 10)
        The learned G (raw-pixel scale).
    X : array-like, shape (n, 64)
        Images in [0, 1].
    rng : numpy.random.RandomState
        Draws the starting latents (nothing is drawn with ``start="zero"``).
    inner_steps, inner_step_size, inner_loss, start, pixel_scale
        As for :func:`train_original`.
    batch_size : int or None, default None
        Images inverted together; None for all at once.

    Returns
    -------
    labels : ndarray, shape (n,)
        argmax z* of each image.
    latents : ndarray, shape (n, 10)
        z*.
    """
    _check_choice("inner_loss", inner_loss, ("batch_mean", "per_image"))
    _check_choice("start", start, ("random", "zero"))
    X = np.asarray(X, dtype=np.float64) * pixel_scale
    batch_size = len(X) if batch_size is None else batch_size
    G = tf.constant(generator, tf.float32)
    latents = []
    for first in range(0, len(X), batch_size):
        batch = X[first:first + batch_size]
        Z0 = None
        if start == "random":
            Z0 = tf.constant(np.abs(rng.randn(N_CLASSES, len(batch))).T / 100.0, tf.float32)
        latents.append(_inner(G, tf.constant(batch, tf.float32), Z0,
                              n_steps=inner_steps, step_size=inner_step_size,
                              gradient="closed_form", inner_loss=inner_loss).numpy())
    latents = np.concatenate(latents)
    return latents.argmax(axis=1), latents
