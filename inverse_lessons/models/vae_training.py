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
- :func:`train_elbo`: full-batch Adam (the package's
  :func:`~inverse_lessons.models.training.adam_step`) on that loss, traced once.
- :func:`fit_class_vaes`: the classes' images padded to one array, the initial
  weights, the training and its divergence check.
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
from inverse_lessons.models.training import adam_step, training_diverged

__all__ = ["elbo_loss", "fit_class_vaes", "fit_temperature", "last_of_each_class",
           "train_elbo"]

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


# no AutoGraph: the loop is written as a tf.while_loop, and converting the code
# costs more than tracing it
@tf.function(reduce_retracing=True, autograph=False)
def train_elbo(X, weights, parameters, n_steps, learning_rate, seed, log_s2_floor):
    """Run full-batch Adam on :func:`elbo_loss`, fresh noise at every step.

    Parameters
    ----------
    X, weights : tf.Tensor
        As for :func:`elbo_loss`.
    parameters : list of tf.Tensor
        The starting values, as for :func:`elbo_loss`.
    n_steps : tf.Tensor, int
        Adam steps.
    learning_rate : tf.Tensor, float64
        Adam's step size.
    seed : tf.Tensor, int64
        Seed of the reparametrisation's noise (stateless: step t uses
        ``(seed, t)``).
    log_s2_floor : tf.Tensor, float64
        Lower bound on every log noise variance, applied after each step.

    Returns
    -------
    parameters : list of tf.Tensor
        The trained values.
    losses : tf.Tensor of shape (n_steps,)
        The loss at each step, before that step's update.
    """
    k = tf.shape(parameters[4])[1]
    shape = tf.concat([tf.shape(X)[:2], [k]], 0)

    def step(t, parameters, moments, velocities, losses):
        noise = tf.random.stateless_normal(shape, tf.stack([seed, tf.cast(t, tf.int64)]),
                                           dtype=_F64)
        with tf.GradientTape() as tape:
            tape.watch(parameters)
            loss = elbo_loss(X, weights, noise, parameters)
        gradients = tape.gradient(loss, parameters)
        parameters, moments, velocities = adam_step(
            parameters, gradients, moments, velocities,
            tf.cast(t + 1, _F64), learning_rate)
        parameters[-1] = tf.maximum(parameters[-1], log_s2_floor)
        return t + 1, parameters, moments, velocities, losses.write(t, loss)

    moments = [tf.zeros_like(p) for p in parameters]
    velocities = [tf.zeros_like(p) for p in parameters]
    losses = tf.TensorArray(_F64, size=n_steps)
    _, parameters, _, _, losses = tf.while_loop(
        lambda t, *_: t < n_steps, step,
        (tf.constant(0), parameters, moments, velocities, losses))
    return parameters, losses.stack()


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


def fit_class_vaes(X, codes, n_classes, *, n_latent, n_hidden, max_iter, learning_rate,
                   min_variance, rng):
    """Fit one VAE per class to its images by the evidence lower bound.

    The encoders and decoders start from Glorot-uniform weights and zero
    biases, each decoder's offset b_c at its class's mean image and s_c^2 at
    its mean pixel variance.

    Parameters
    ----------
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
    loss_curve : ndarray of shape (max_iter,)
        Minus the ELBO per pixel (nats), summed over classes, at each step.

    Raises
    ------
    DivergenceError
        If the loss is not finite at some step.
    """
    padded, weights, means, variances = _class_batches(X, codes, n_classes, min_variance)
    C, d, k, H = n_classes, X.shape[1], n_latent, n_hidden
    parameters = [_glorot(rng, C, d, H), np.zeros((C, H)), _glorot(rng, C, H, 2 * k),
                  np.zeros((C, 2 * k)), _glorot(rng, C, k, H), np.zeros((C, H)),
                  _glorot(rng, C, H, d), means, np.log(variances)]
    seed = int(rng.randint(2 ** 31 - 1))
    parameters, losses = train_elbo(
        tf.constant(padded), tf.constant(weights), [tf.constant(p) for p in parameters],
        tf.constant(max_iter), tf.constant(learning_rate, _F64),
        tf.constant(seed, tf.int64), tf.constant(math.log(min_variance), _F64))
    loss_curve = losses.numpy()
    bad = np.flatnonzero(~np.isfinite(loss_curve))
    if bad.size:
        raise training_diverged(int(bad[0]), loss_curve[bad[0]], "use a smaller learning_rate",
                                step_size=learning_rate)
    values = [p.numpy() for p in parameters]
    return tuple(values[:4]), tuple(values[4:8]), np.exp(values[8]), loss_curve


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
