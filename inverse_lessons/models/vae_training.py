"""Fitting chapter 9's generators: every class's VAE by the evidence lower bound, at once.

:class:`~inverse_lessons.models.vae_by_class.VAEBySynthesis` gives each class c a
variational autoencoder (VAE): a decoder g_c(z) = b_c + V_c^T tanh(U_c^T z + u_c)
with noise variance s_c^2 and a N(0, I) prior on z, and an encoder
q(z | x) = N(mean(x), diag(var(x))) with one tanh hidden layer. This module fits
them, and the temperature of the classifier's posterior:

- :func:`elbo_loss`: minus the evidence lower bound of every class's images
  under its own VAE (the reparametrisation trick: z = mean + sqrt(var) * noise),
  summed over classes. Every weight carries a leading class axis, so the ten
  VAEs are one batched computation.
- :func:`elbo_step`: one full-batch Adam step on that loss, a pure function
  run by the package's one training loop,
  :class:`~inverse_lessons.models.training.TrainingLoop`.
- :func:`fit_class_vaes`: the classes' images padded to one array, the initial
  weights, and the training in that loop (its loss curve, divergence check
  and progress bar).
- :func:`last_of_each_class` and :func:`fit_temperature`: the held-out images and
  the maximum-likelihood temperature T of the posterior softmax(-E / T).

Shapes: C classes, N images per class (padded), d pixels, k latent dimensions,
H hidden units.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from inverse_lessons._tf import tf
from inverse_lessons.models.training import (
    TrainingLoop,
    optimiser_state,
    optimiser_update,
    training_diverged,
    training_loop,
)

__all__ = ["elbo_loss", "elbo_step", "fit_class_vaes", "fit_temperature",
           "last_of_each_class"]

_LOG_2PI = math.log(2.0 * math.pi)
_F64 = tf.float64


def elbo_loss(X, weights, noise, parameters):
    """Return minus the evidence lower bound per pixel, summed over classes.

    Parameters
    ----------
    X : tf.Tensor of shape (C, N, d)
        Each class's images, padded to N rows.
    weights : tf.Tensor of shape (C, N)
        1 / n_c for an image of class c, 0 for padding.
    noise : tf.Tensor of shape (C, N, k)
        Standard normal draws (the reparametrisation).
    parameters : list of tf.Tensor
        ``[A1 (C, d, H), a1 (C, H), A2 (C, H, 2k), a2 (C, 2k), U (C, k, H),
        u (C, H), V (C, H, d), b (C, d), log_s2 (C,)]``: the encoder (its
        output is the mean and log variance of q(z | x)), the decoder and the
        log noise variances.

    Returns
    -------
    tf.Tensor
        A scalar in nats per pixel: each class's mean over its images of the
        negative log-likelihood of the image given its sampled latent plus the
        Kullback-Leibler divergence of q(z | x) from the prior, summed over
        classes and divided by d.
    """
    A1, a1, A2, a2, U, u, V, b, log_s2 = parameters
    k = tf.shape(U)[1]
    hidden = tf.tanh(tf.einsum("cnd,cdh->cnh", X, A1) + a1[:, None])
    out = tf.einsum("cnh,chj->cnj", hidden, A2) + a2[:, None]
    mean, log_var = out[..., :k], tf.clip_by_value(out[..., k:], -12.0, 6.0)
    Z = mean + tf.exp(0.5 * log_var) * noise
    h = tf.tanh(tf.einsum("cnk,ckh->cnh", Z, U) + u[:, None])
    drawn = tf.einsum("cnh,chd->cnd", h, V) + b[:, None]
    d = tf.cast(tf.shape(X)[-1], _F64)
    nll = (0.5 * tf.reduce_sum(tf.square(X - drawn), -1) / tf.exp(log_s2)[:, None]
           + 0.5 * d * (_LOG_2PI + log_s2[:, None]))
    kl = 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - log_var - 1.0, -1)
    return tf.reduce_sum(weights * (nll + kl)) / d


def elbo_step(params, state, batch):
    """Take one full-batch Adam step on :func:`elbo_loss`, for :class:`TrainingLoop`.

    The step is pure, ``(params, state, batch) -> (loss, params, state)``, so
    that the package's one training loop runs it (the loss curve, the
    divergence check, the progress bar).

    Parameters
    ----------
    params : list of tf.Tensor
        The parameters, as for :func:`elbo_loss`.
    state : tuple
        Adam's state (:func:`~inverse_lessons.models.training.optimiser_state`);
        its count of steps taken, t, also numbers the step's noise.
    batch : tuple
        ``(X, weights, seed, log_s2_floor)``: the images and weights of
        :func:`elbo_loss`; the int64 seed of the reparametrisation's noise
        (stateless: step t, counted from 0, draws with ``(seed, t)``, so a fit
        is reproducible whatever the loop's chunks); and the float64 lower bound
        on every log noise variance, applied after each Adam step (a class
        whose images barely vary would otherwise drive s_c^2 to zero).

    Returns
    -------
    loss : tf.Tensor
        The loss before the step.
    params : list of tf.Tensor
    state : tuple
        After the step.
    """
    X, weights, seed, log_s2_floor = batch
    shape = tf.concat([tf.shape(X)[:2], tf.shape(params[4])[1:2]], 0)
    noise = tf.random.stateless_normal(shape, tf.stack([seed, tf.cast(state[0], tf.int64)]),
                                       dtype=_F64)
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = elbo_loss(X, weights, noise, params)
    params, state = optimiser_update(params, tape.gradient(loss, params), state)
    return loss, [*params[:-1], tf.maximum(params[-1], log_s2_floor)], state


def _glorot(rng, C, fan_in, fan_out):
    """Return C uniform Glorot initialisations of a (fan_in, fan_out) weight."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(C, fan_in, fan_out))


def _class_batches(X, codes, n_classes, min_variance):
    """Pad each class's images to one array; their means and mean pixel variances.

    A missing pixel (NaN) is replaced by its class's mean of that pixel (0 if
    the class never observes it). Returns the padded images (C, N, d), the
    weights (C, N), the means (C, d) and the variances (C,), floored at
    ``min_variance``.
    """
    d = X.shape[1]
    N = np.bincount(codes, minlength=n_classes).max()
    padded, weights = np.zeros((n_classes, N, d)), np.zeros((n_classes, N))
    means, variances = np.zeros((n_classes, d)), np.zeros(n_classes)
    for c in range(n_classes):
        Xc = X[codes == c]
        fill = np.nan_to_num(np.nanmean(np.where(np.isnan(Xc).all(0), 0.0, Xc), axis=0))
        Xc = np.where(np.isnan(Xc), fill, Xc)
        padded[c, :len(Xc)], weights[c, :len(Xc)] = Xc, 1.0 / len(Xc)
        means[c] = Xc.mean(axis=0)
        variances[c] = max(Xc.var(axis=0).mean(), min_variance)
    return padded, weights, means, variances


def fit_class_vaes(estimator, X, codes, n_classes, *, n_latent, n_hidden, max_iter,
                   learning_rate, min_variance, rng):
    """Fit one VAE per class to its images by the evidence lower bound.

    The encoders and decoders start from Glorot-uniform weights and zero
    biases, each decoder's offset b_c at its class's mean image and s_c^2 at
    its mean pixel variance.

    Parameters
    ----------
    estimator : object
        Being fitted: its ``loss_curve_`` is set to minus the ELBO per pixel
        (nats), summed over classes, at each step (a list of floats), and its
        ``progress``, if it has one, shows a progress bar.
    X : ndarray of shape (n, d)
        Training images, pixel units; NaN marks a missing pixel (replaced by
        its class's mean of that pixel).
    codes : ndarray of shape (n,)
        Class codes 0, ..., C - 1; every class has at least one image.
    n_classes : int
        C.
    n_latent, n_hidden : int
        k and H.
    max_iter : int
        Adam steps.
    learning_rate : float
        Adam's step size.
    min_variance : float
        Floor on each s_c^2 (pixel units squared).
    rng : numpy.random.RandomState
        Draws the initial weights and the seed of the training's noise.

    Returns
    -------
    encoder : tuple of ndarray
        ``(A1 (C, d, H), a1 (C, H), A2 (C, H, 2k), a2 (C, 2k))``.
    decoder : tuple of ndarray
        ``(U (C, k, H), u (C, H), V (C, H, d), b (C, d))``.
    noise_variances : ndarray of shape (C,)
        s_c^2.

    Raises
    ------
    DivergenceError
        At the first step whose loss is not finite.
    """
    padded, weights, means, variances = _class_batches(X, codes, n_classes, min_variance)
    C, d, k, H = n_classes, X.shape[1], n_latent, n_hidden
    parameters = [_glorot(rng, C, d, H), np.zeros((C, H)), _glorot(rng, C, H, 2 * k),
                  np.zeros((C, 2 * k)), _glorot(rng, C, k, H), np.zeros((C, H)),
                  _glorot(rng, C, H, d), means, np.log(variances)]
    seed = int(rng.randint(2 ** 31 - 1))
    data = (tf.constant(padded), tf.constant(weights), tf.constant(seed, tf.int64),
            tf.constant(math.log(min_variance), _F64))
    params = [tf.constant(p) for p in parameters]

    def diverged(i, loss):
        return training_diverged(i, loss, "use a smaller learning_rate",
                                 step_size=learning_rate)

    loop = training_loop((type(estimator), "elbo"), lambda: TrainingLoop(elbo_step, _F64))
    _, params, _ = loop.run(estimator, params, optimiser_state(params, learning_rate), data,
                            n_steps=max_iter, diverged=diverged)
    values = [p.numpy() for p in params]
    return tuple(values[:4]), tuple(values[4:8]), np.exp(values[8])


def last_of_each_class(codes, fraction):
    """Mark each class's last images, in the order given, as held out.

    Parameters
    ----------
    codes : ndarray of shape (n,)
        Class codes.
    fraction : float
        Share of each class held out: its last ceil(fraction * count) images.

    Returns
    -------
    ndarray of shape (n,), bool
        True for a held-out image.
    """
    held = np.zeros(len(codes), bool)
    for c in np.unique(codes):
        rows = np.flatnonzero(codes == c)
        held[rows[len(rows) - math.ceil(fraction * len(rows)):]] = True
    return held


def fit_temperature(scores, codes):
    """Return the temperature T minimising the cross-entropy of softmax(scores / T).

    Parameters
    ----------
    scores : ndarray of shape (n, C)
        Class scores -E_c(x) of held-out images (never the images the scores'
        model was fitted to: those are classified with no error, which would
        send T to zero).
    codes : ndarray of shape (n,)
        Their class codes.

    Returns
    -------
    float
        T, searched over log T in [-5, 10] (bounded scalar minimisation).
    """
    def cross_entropy(log_t):
        log_p = log_softmax(scores / math.exp(log_t), axis=1)
        return -log_p[np.arange(len(scores)), codes].mean()

    best = minimize_scalar(cross_entropy, bounds=(-5.0, 10.0), method="bounded")
    return float(math.exp(best.x))
