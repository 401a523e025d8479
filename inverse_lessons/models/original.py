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
:func:`train_original_seeds` trains several seeds in one compiled loop, each
seed the run :func:`train_original` gives it.

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
from inverse_lessons.inversion.closed_form import closed_form_inversion, geometric_sum
from inverse_lessons.inversion.linear import generator_step_size_bound, unrolled_inversion
from inverse_lessons.models.training import adam_step

__all__ = ["OriginalRun", "batch_mean_step", "train_original", "train_original_seeds",
           "predict_original"]



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


def _block_diagonal(A):
    """Form the (s k, s k) block-diagonal matrix of a stack A (s, k, k)."""
    n_blocks, k, _ = A.shape
    eye = tf.eye(n_blocks, dtype=A.dtype)
    return tf.reshape(tf.einsum("sij,st->sitj", A, eye), (n_blocks * k, n_blocks * k))


def _inner_seeds(G, X, Z0, *, n_steps, step_size, gradient, inner_loss, XZ0=None):
    """N inner steps for a stack of generators G (s, m, k) on the same images X (n, m).

    Each seed's codes are those of :func:`_inner` on its own G: the same closed
    form (or steps), computed for all seeds at once. The codes are laid out
    (n, s, k), so that every product with the images is one matrix product
    (n, m) x (m, s k), and the small k x k factors act through one block-diagonal
    matrix: far quicker than a batch of s products. ``Z0`` (n, s, k) or None (zero);
    ``XZ0``, the closed form's [X, Z0] (n, m + s k), made once outside the training loop.
    """
    n_seeds, m, k = G.shape
    if step_size == "auto":      # 0.5 / sigma_max(G)^2 per seed, a constant for the gradient
        gram = tf.stop_gradient(tf.matmul(G, G, transpose_a=True))
        step = 0.5 / tf.linalg.eigvalsh(gram)[:, -1]
    elif inner_loss == "batch_mean":
        step = tf.fill([n_seeds], tf.constant(batch_mean_step(step_size, X.shape[0], m), G.dtype))
    else:
        step = tf.fill([n_seeds], tf.constant(step_size, G.dtype))
    gram = tf.matmul(G, G, transpose_a=True)                                     # (s, k, k)
    if gradient == "closed_form":
        M = tf.eye(k, dtype=G.dtype) - 2.0 * step[:, None, None] * gram
        S, M_n = geometric_sum(M, n_steps)                     # symmetric, (s, k, k)
        # z_N = 2 eta S G^T x + M^N z_0 for every image and seed as one product of
        # [X, Z0] (n, m + s k) with [2 eta G S; diag(M^N)] (m + s k, s k)
        right = tf.reshape(tf.transpose(2.0 * step[:, None, None] * tf.matmul(G, S),
                                        (1, 0, 2)), (m, n_seeds * k))
        if Z0 is None:
            return tf.reshape(tf.matmul(X, right), (-1, n_seeds, k))
        if XZ0 is None:
            XZ0 = tf.concat([X, tf.reshape(Z0, (-1, n_seeds * k))], axis=1)
        right = tf.concat([right, _block_diagonal(M_n)], axis=0)
        return tf.reshape(tf.matmul(XZ0, right), (-1, n_seeds, k))
    XG = tf.matmul(X, tf.reshape(tf.transpose(G, (1, 0, 2)), (m, n_seeds * k)))   # (n, s k)
    XG = tf.reshape(XG, (-1, n_seeds, k))
    curvature = _block_diagonal(gram)
    Z = tf.zeros_like(XG) if Z0 is None else Z0
    for _ in range(n_steps):
        ZGG = tf.reshape(tf.matmul(tf.reshape(Z, (-1, n_seeds * k)), curvature),
                         (-1, n_seeds, k))
        Z = Z + 2.0 * step[:, None] * (XG - ZGG)
    return Z


@functools.cache
def _training_loop(n_iterations, inner_steps, inner_step_size, learning_rate, gradient,
                   inner_loss="batch_mean", optimizer="gd"):
    """Compile the original's whole training once per setting (and data shape).

    Returns a function (G0, X, Z0, Y) -> (G, losses, lengths) of tensors that
    trains a stack of seeds at once: G0 (s, m, k), Z0 (n, s, k) or None (zero
    start), losses (n_iterations, s), lengths (s,).
    """

    @tf.function(autograph=False)   # an explicit loop: nothing to convert, quicker to trace
    def run(G0, X, Z0, Y):
        # All outer iterations of all seeds in one TensorFlow graph: each seed takes
        # the updates of a Python loop over single steps of its own. A seed stops
        # after its first loss that is not finite (its losses end there, its G is
        # no longer updated); the loop ends when every seed has stopped.
        def body(i, active, G, m, v, losses):
            safe = tf.where(active[:, None, None], G, G0)   # stopped seeds: any finite G
            with tf.GradientTape() as tape:
                tape.watch(safe)
                Z = _inner_seeds(safe, X, Z0, n_steps=inner_steps,
                                 step_size=inner_step_size, gradient=gradient,
                                 inner_loss=inner_loss, XZ0=XZ0)
                # each seed's mean cross-entropy, log-sum-exp minus the true logit
                # (the same numbers as softmax_cross_entropy_with_logits, quicker here)
                true_logit = tf.reduce_sum(Z * Y[:, None], axis=2)
                loss = tf.reduce_mean(tf.reduce_logsumexp(Z, axis=2) - true_logit, axis=0)
                total = tf.reduce_sum(loss)
            grad = tape.gradient(total, safe)     # each seed's gradient of its own loss
            if optimizer == "gd":
                new_G, new_m, new_v = safe - learning_rate * grad, m, v
            else:
                (new_G,), (new_m,), (new_v,) = adam_step(
                    [safe], [grad], [m], [v], tf.cast(i + 1, G.dtype),
                    tf.constant(learning_rate, G.dtype))
            keep = active[:, None, None]
            G = tf.where(keep, new_G, G)
            m, v = tf.where(keep, new_m, m), tf.where(keep, new_v, v)
            losses = losses.write(i, loss)
            return i + 1, tf.logical_and(active, tf.math.is_finite(loss)), G, m, v, losses

        zeros = tf.zeros_like(G0)
        n_seeds = G0.shape[0]
        XZ0 = None if Z0 is None else tf.concat(
            [X, tf.reshape(Z0, (-1, n_seeds * G0.shape[2]))], axis=1)
        i, active, G, _, _, losses = tf.while_loop(
            lambda i, active, *rest: tf.logical_and(tf.reduce_any(active), i < n_iterations),
            body,
            (tf.constant(0), tf.ones([n_seeds], tf.bool), G0, zeros, zeros,
             tf.TensorArray(tf.float32, size=n_iterations)))
        losses = losses.stack()[:i]                                  # (i, s)
        finite = tf.cast(tf.math.is_finite(losses), tf.int32)
        # each seed's losses run to its first loss that is not finite, inclusive
        lengths = tf.minimum(tf.reduce_sum(tf.math.cumprod(finite, axis=0), axis=0) + 1, i)
        return G, losses, lengths

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

    See Also
    --------
    train_original_seeds : several seeds trained together, the same runs.
    """
    return train_original_seeds(
        X, y, [seed], n_iterations=n_iterations, inner_steps=inner_steps,
        inner_step_size=inner_step_size, learning_rate=learning_rate, gradient=gradient,
        inner_loss=inner_loss, optimizer=optimizer, init=init, start=start,
        pixel_scale=pixel_scale)[0]


def train_original_seeds(X, y, seeds, **options):
    """Train the original formulation once per seed, all seeds in one compiled loop.

    Each seed's run is what :func:`train_original` gives for that seed (the
    same random draws and updates, to single-precision rounding): the seeds'
    generators are stacked along a leading axis, each with its own Adam state,
    so one graph call trains them all instead of one call per seed.

    Parameters
    ----------
    X, y
        As for :func:`train_original`.
    seeds : iterable of int
        One run per seed; not empty.
    **options
        The keyword options of :func:`train_original` except ``seed``.

    Returns
    -------
    list of OriginalRun
        One per seed, in the order of ``seeds``; each run's losses end at its
        own first loss that is not finite.

    Raises
    ------
    ValueError
        If ``seeds`` is empty or an option is not valid.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty: at least one seed is needed")
    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}")
    o = {**_DEFAULTS, **options}
    if o["gradient"] not in ("closed_form", "unrolled"):
        raise ValueError(f"gradient must be 'closed_form' or 'unrolled', got {o['gradient']!r}")
    _check_choice("inner_loss", o["inner_loss"], ("batch_mean", "per_image"))
    _check_choice("optimizer", o["optimizer"], ("gd", "adam"))
    _check_choice("init", o["init"], ("abs_randn", "images"))
    _check_choice("start", o["start"], ("random", "zero"))
    inner_step_size = o["inner_step_size"]
    if inner_step_size != "auto" and not float(inner_step_size) > 0:
        raise ValueError(f"inner_step_size must be 'auto' or positive, got {inner_step_size!r}")
    X = np.asarray(X, dtype=np.float64) * o["pixel_scale"]
    y = np.asarray(y)
    n, m = X.shape
    rngs, Z0s, G0s = [], [], []
    for seed in seeds:        # each seed's draws in the original's order
        rng = np.random.RandomState(seed)
        Z0s.append(np.abs(rng.randn(N_CLASSES, n)).T / 100.0)
        if o["init"] == "abs_randn":
            G0s.append(np.abs(rng.randn(m, N_CLASSES)) / 100.0)
        else:
            picks = rng.choice(n, size=N_CLASSES, replace=False)
            G0s.append(X[picks].T + 0.1 * np.abs(X).mean() * rng.randn(m, N_CLASSES))
        rngs.append(rng)
    Z0 = tf.constant(np.stack(Z0s, axis=1), tf.float32) if o["start"] == "random" else None
    step = inner_step_size if inner_step_size == "auto" else float(inner_step_size)
    run = _training_loop(o["n_iterations"], o["inner_steps"], step,
                         float(o["learning_rate"]), o["gradient"], o["inner_loss"],
                         o["optimizer"])
    with quiet_retracing():   # one graph per setting and data shape, reused across calls
        G, losses, lengths = run(tf.constant(np.stack(G0s), tf.float32),
                                 tf.constant(X, tf.float32), Z0,
                                 tf.one_hot(y, N_CLASSES))
    G, losses, lengths = G.numpy(), losses.numpy().astype(np.float64), lengths.numpy()
    return [OriginalRun(G[j], losses[:lengths[j], j], rngs[j]) for j in range(len(seeds))]


_DEFAULTS = dict(n_iterations=2000, inner_steps=250, inner_step_size=1e-2,
                 learning_rate=100.0, gradient="closed_form", inner_loss="batch_mean",
                 optimizer="gd", init="abs_randn", start="random", pixel_scale=PIXEL_MAX)


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
    firsts = range(0, len(X), batch_size)
    if start == "random":     # each batch's starting latents, drawn in the original's order
        Z0 = np.concatenate([np.abs(rng.randn(N_CLASSES, len(X[f:f + batch_size]))).T / 100.0
                             for f in firsts])
    latents = []
    # an image's code depends on its batch only through the batch's size (the step),
    # so the full batches are inverted in one call, and the last, shorter one in another
    full = len(X) - len(X) % batch_size
    for part, size in ((slice(0, full), batch_size), (slice(full, len(X)), len(X) - full)):
        if size == 0:
            continue
        batch = tf.constant(X[part], tf.float32)
        step = inner_step_size
        if step != "auto" and inner_loss == "batch_mean":   # the step this batch size gives
            step = batch_mean_step(step, size, X.shape[1])
        latents.append(_inner(G, batch, None if start == "zero"
                              else tf.constant(Z0[part], tf.float32),
                              n_steps=inner_steps, step_size=step,
                              gradient="closed_form", inner_loss="per_image").numpy())
    latents = np.concatenate(latents)
    return latents.argmax(axis=1), latents
