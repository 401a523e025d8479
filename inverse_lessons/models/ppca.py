"""Probabilistic PCA: the generative model behind analysis by synthesis (chapter 8).

A PPCA generator draws an image as x = mu + W z + e, z ~ N(0, I_k),
e ~ N(0, D) (Tipping and Bishop 1999), so the images it draws are Gaussian,
x ~ N(mu, W W^T + D). This module fits such generators (in closed form, or a
mixture of them by EM) and computes their Gaussian log-likelihood of the
observed pixels of an image, with the posterior mean of z (the masked
inversion), through the Woodbury identity: each d x d covariance becomes a
k x k matrix M = I + W_O^T D_O^{-1} W_O per image, whose Cholesky factor gives
the log-determinant, the quadratic form and the posterior mean at once.
:class:`~inverse_lessons.models.analysis_by_synthesis.AnalysisBySynthesis` is
the classifier that uses them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr
from sklearn.cluster import KMeans

from inverse_lessons._tf import tf

__all__ = ["class_log_likelihoods", "clipped_noise_moments", "fit_class_generators", "fit_ppca",
           "mixture_log_likelihoods", "mixture_of_ppca", "mixture_reconstructions",
           "observed_mixture_terms"]

_LOG_2PI = math.log(2.0 * math.pi)


def class_log_likelihoods(X, mask, means, components, variances, pattern=None):
    """Compute each class's log-likelihood of the observed pixels, and the inversion.

    Tensors or arrays, float64. The Woodbury identity replaces each d x d
    covariance by the k x k matrix M = I + W_O^T D_O^-1 W_O, whose Cholesky
    factor gives the log-determinant, the quadratic form and the posterior
    mean at once.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Images, missing pixels set to any finite value (they are masked).
    mask : array-like of shape (n, d), or (u, d) with ``pattern``
        1 for an observed pixel, 0 for a missing one; with ``pattern``, the
        distinct masks.
    means : array-like of shape (C, d)
        The class means mu_c.
    components : array-like of shape (C, d, k)
        The class generators W_c.
    variances : array-like of shape (C, d)
        Per-pixel noise variances D_c (positive).
    pattern : array-like of shape (n,) or None
        Ints in [0, u): image i's mask is ``mask[pattern[i]]``. M and its
        Cholesky factor then depend on the mask only, so they are computed
        once per distinct mask (once for complete images); the same values up
        to rounding. None: one mask per image.

    Returns
    -------
    log_likelihood : tensor of shape (n, C)
        log N(x_O; mu_O, W_O W_O^T + D_O), in nats.
    latents : tensor of shape (n, C, k)
        The posterior mean of z given the observed pixels,
        (I + W_O^T D_O^-1 W_O)^-1 W_O^T D_O^-1 (x_O - mu_O): the masked
        inversion of each class's generator (least squares with a
        unit-variance prior on z).
    """
    X = tf.convert_to_tensor(X, tf.float64)
    mask = tf.convert_to_tensor(mask, tf.float64)
    means = tf.convert_to_tensor(means, tf.float64)
    W = tf.convert_to_tensor(components, tf.float64)
    D = tf.convert_to_tensor(variances, tf.float64)
    n_classes, d, k = tf.unstack(tf.shape(W))
    masks = mask                                 # the rows M is computed for
    if pattern is not None:
        mask = tf.gather(masks, tf.convert_to_tensor(pattern, tf.int64))
    # the residuals r = x - mu on observed pixels enter only through
    # sum(r^2 / D) (n, C) and b = W_O^T D_O^-1 r_O (n, C, k); both are expanded
    # into products of (n, d) images with per-class arrays, so that no (n, C, d)
    # array of residuals is formed
    inv_D = 1.0 / D
    X_seen = X * mask                                          # 0 where missing
    r_norm = (tf.matmul(X_seen * X, inv_D, transpose_b=True)
              - 2.0 * tf.matmul(X_seen, means * inv_D, transpose_b=True)
              + tf.matmul(mask, tf.square(means) * inv_D, transpose_b=True))
    WD = W * inv_D[:, :, None]                                 # D^-1 W (C, d, k)
    WD_flat = tf.reshape(tf.transpose(WD, [1, 0, 2]), [d, -1])
    mean_WD = tf.reshape(tf.transpose(WD * means[:, :, None], [1, 0, 2]), [d, -1])
    b = tf.reshape(tf.matmul(X_seen, WD_flat) - tf.matmul(mask, mean_WD),
                   [-1, n_classes, k])                         # W_O^T D_O^-1 r
    # M = I + W^T D^-1 diag(mask) W, for every mask and class: (n or u, C, k, k)
    outer = (W[:, :, :, None] * W[:, :, None, :]) / D[:, :, None, None]
    outer = tf.reshape(tf.transpose(outer, [1, 0, 2, 3]), [d, -1])
    M = tf.reshape(tf.matmul(masks, outer), [-1, n_classes, k, k])
    M = M + tf.eye(k, dtype=tf.float64)
    if pattern is None:
        log_det_M, z = _log_det_and_solve(M, b)
    else:                                        # one factor per distinct mask
        pattern = tf.convert_to_tensor(pattern, tf.int64)
        L = tf.linalg.cholesky(M)
        log_det_M = tf.gather(_log_det(L), pattern)
        # each image solves with its mask's factor; a single mask (complete
        # images, one block cut from all) is broadcast to them, not copied
        L = tf.cond(tf.shape(L)[0] == 1, lambda: L, lambda: tf.gather(L, pattern))
        z = _cholesky_solve(L, b)
    log_det = tf.matmul(mask, tf.math.log(D), transpose_b=True) + log_det_M
    quad = r_norm - tf.reduce_sum(b * z, axis=-1)
    n_observed = tf.reduce_sum(mask, axis=-1)[:, None]
    return -0.5 * (n_observed * _LOG_2PI + log_det + quad), z


def _log_det(L):
    """Return log det(L L^T) (...) from Cholesky factors L (..., k, k)."""
    return 2.0 * tf.reduce_sum(tf.math.log(tf.linalg.diag_part(L)), axis=-1)


def _cholesky_solve(L, b):
    """Return (L L^T)^-1 b (..., k) from Cholesky factors L (..., k, k), broadcast against b."""
    return tf.linalg.cholesky_solve(L, b[..., None])[..., 0]


@tf.custom_gradient
def _log_det_and_solve(M, b):
    """Return log det M (...) and z = M^-1 b (..., k) for SPD matrices M (..., k, k).

    One Cholesky factorisation M = L L^T gives both. The gradient is the closed
    form, d log det M = tr(M^-1 dM) and dz = M^-1 (db - dM z): for upstream
    gradients g (...) and h (..., k), g M^-1 - (M^-1 h) z^T for M and M^-1 h
    for b, with M^-1 from one triangular inversion of L. Exact (for symmetric
    perturbations of M, the only ones M's symmetric construction passes on),
    and cheaper for a batch of small matrices than differentiating through the
    Cholesky factorisation and its solves.
    """
    L = tf.linalg.cholesky(M)
    log_det, z = _log_det(L), _cholesky_solve(L, b)

    def gradient(g_log_det, g_z):
        eye = tf.eye(tf.shape(M)[-1], dtype=M.dtype)                # broadcast
        L_inv = tf.linalg.triangular_solve(L, eye)                  # L^-1
        M_inv = tf.matmul(L_inv, L_inv, transpose_a=True)           # L^-T L^-1
        g_M = g_log_det[..., None, None] * M_inv
        if g_z is None:
            return g_M, tf.zeros_like(b)
        g_b = tf.linalg.matvec(M_inv, g_z)
        return g_M - g_b[..., :, None] * z[..., None, :], g_b

    return (log_det, z), gradient


def fit_ppca(X, n_latent, min_variance, weights=None):
    """Fit probabilistic PCA to the rows of X in closed form (maximum likelihood).

    W = U_k (Lambda_k - s2 I)^(1/2) from the top k eigenpairs of the covariance
    (divided by n), s2 the mean of the discarded eigenvalues (Tipping and
    Bishop 1999).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Complete images.
    n_latent : int
        k, the latent dimensions.
    min_variance : float
        Floor on s2.
    weights : ndarray of shape (n,) or None
        Responsibilities (summing to anything positive): mean and covariance
        are weighted, the M-step of a mixture of PPCA.

    Returns
    -------
    mu : ndarray of shape (d,)
    W : ndarray of shape (d, k)
    s2 : float
    """
    w = np.full(len(X), 1.0 / len(X)) if weights is None else weights / weights.sum()
    mu = w @ X
    centred = X - mu
    cov = centred.T @ (centred * w[:, None])
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    discarded = eigenvalues[n_latent:]
    s2 = max(float(discarded.mean()) if discarded.size else 0.0, min_variance)
    scale = np.sqrt(np.maximum(eigenvalues[:n_latent] - s2, 0.0))
    return mu, eigenvectors[:, :n_latent] * scale, s2


def mixture_of_ppca(X, n_components, n_latent, min_variance, max_iter, rng):
    """Fit a mixture of PPCA by EM (Tipping and Bishop 1999).

    Started from a k-means clustering; each M-step is a weighted closed-form
    PPCA per component (:func:`fit_ppca`), each E-step the responsibilities
    from :func:`mixture_log_likelihoods` (the Woodbury form prediction uses).
    One component is the closed form.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Complete images.
    n_components : int
        J, the generators.
    n_latent : int
        k, each generator's latent dimensions.
    min_variance : float
        Floor on each s2.
    max_iter : int
        Largest number of EM iterations.
    rng : numpy.random.RandomState
        Seeds k-means.

    Returns
    -------
    log_weights : ndarray of shape (J,)
    means : ndarray of shape (J, d)
    W : ndarray of shape (J, d, k)
    s2 : ndarray of shape (J,)
    n_iter : int
        EM iterations run.
    """
    if n_components == 1:
        mu, W, s2 = fit_ppca(X, n_latent, min_variance)
        return np.zeros(1), mu[None], W[None], np.array([s2]), 1   # one closed-form step
    labels = KMeans(n_components, n_init=4, random_state=rng).fit_predict(X)
    R = np.eye(n_components)[labels]
    previous = -np.inf
    images, complete = tf.constant(X), tf.ones((1, X.shape[1]), tf.float64)
    first = tf.zeros(len(X), tf.int64)                 # every image: mask 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 (returned: EM steps run)
        fits = [fit_ppca(X, n_latent, min_variance, R[:, j] + 1e-12)
                for j in range(n_components)]
        means, W, s2 = (np.stack(v) for v in zip(*fits, strict=True))
        log_weights = np.log(R.sum(axis=0) / len(X) + 1e-12)
        # the E-step: the same likelihood as prediction's, every pixel observed
        # (one shared mask, every pixel observed: as observed_mixture_terms
        # would call it, without looking for the distinct masks)
        variances = np.repeat(s2[:, None], X.shape[1], axis=1)
        total, joint, _ = _traced_mixture_log_likelihoods(
            images, complete, *(tf.constant(v[None]) for v in (log_weights, means, W, variances)),
            pattern=first)
        total, joint = total.numpy(), joint.numpy()
        R = np.exp(joint[:, 0] - total)
        if total.sum() - previous < 1e-6 * abs(total.sum()):
            break
        previous = total.sum()
    return log_weights, means, W, s2, iteration


def mixture_log_likelihoods(X, mask, log_weights, means, components, variances, pattern=None):
    """Compute log p(x_O | c) under mixtures of J generators per class.

    Parameters
    ----------
    X, mask, pattern
        As for :func:`class_log_likelihoods`.
    log_weights : tensor of shape (C, J)
    means : tensor of shape (C, J, d)
    components : tensor of shape (C, J, d, k)
    variances : tensor of shape (C, J, d)
        Each class's generators.

    Returns
    -------
    scores : tensor of shape (n, C)
        log p(x_O | c).
    joint : tensor of shape (n, C, J)
        Each generator's log-likelihood plus its log weight.
    latents : tensor of shape (n, C, J, k)
        Each generator's posterior mean of z.
    """
    # dynamic shapes: a graph traced once serves models of every size
    C, J = tf.unstack(tf.shape(log_weights))
    d, k = tf.shape(means)[-1], tf.shape(components)[-1]
    ll, z = class_log_likelihoods(X, mask, tf.reshape(means, [C * J, d]),
                                  tf.reshape(components, [C * J, d, k]),
                                  tf.reshape(variances, [C * J, d]), pattern)
    joint = tf.reshape(ll, [-1, C, J]) + log_weights[None]
    return tf.reduce_logsumexp(joint, axis=-1), joint, tf.reshape(z, [-1, C, J, k])


# the same function as one TensorFlow graph, about half the time of running its
# operations one by one (eager), called as a concrete graph (no per-call
# signature matching: EM calls it once per iteration of every class). Traced
# once for each kind of call (one mask per image, or shared masks with a
# pattern) and each size of model, for any number of images and masks: fixed
# sizes of the rest let the graph be optimised, a third faster to run
_GRAPHS = {}


def _traced_mixture_log_likelihoods(X, mask, *generators, pattern=None):
    """Run :func:`mixture_log_likelihoods` on tensors as its traced graph."""
    specs = (tf.TensorSpec([None, X.shape[1]], tf.float64),
             tf.TensorSpec([None, mask.shape[1]], tf.float64),
             *(tf.TensorSpec.from_tensor(g) for g in generators),
             *(() if pattern is None else (tf.TensorSpec([None], tf.int64),)))
    key = repr(specs)
    if key not in _GRAPHS:
        _GRAPHS[key] = tf.function(mixture_log_likelihoods,
                                   autograph=False).get_concrete_function(*specs)
    return _GRAPHS[key](X, mask, *generators, *(() if pattern is None else (pattern,)))


def observed_mixture_terms(X, mask, log_weights, means, components, variances):
    """Compute :func:`mixture_log_likelihoods` of images, once per distinct mask.

    Images often share their mask (complete ones, a block cut from every
    image): the k x k matrices M are then factorised once per distinct mask,
    unless most masks are distinct anyway.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Images, missing pixels set to 0.
    mask : ndarray of shape (n, d)
        1 for an observed pixel, 0 for a missing one.
    log_weights, means, components, variances : ndarray
        Each class's generators, as for :func:`mixture_log_likelihoods`.

    Returns
    -------
    scores, joint, latents : ndarray of shape (n, C), (n, C, J), (n, C, J, k)
        As :func:`mixture_log_likelihoods` returns them, float64.
    """
    masks, pattern = np.unique(mask, axis=0, return_inverse=True)
    shared = len(masks) <= len(mask) // 2
    values = (X, masks if shared else mask, log_weights, means, components, variances)
    terms = _traced_mixture_log_likelihoods(
        *(tf.constant(v) for v in values),
        pattern=tf.constant(pattern.ravel().astype(np.int64)) if shared else None)
    return tuple(t.numpy() for t in terms)


def mixture_reconstructions(joint, latents, means, components):
    """Compute the posterior mean of whole images under each class's mixture of generators.

    Each generator draws mu + W z at its posterior mean code z; the class's
    drawing weights these by how well each generator explains the image (its
    posterior responsibility, the softmax of ``joint`` over the generators).

    Parameters
    ----------
    joint : ndarray of shape (n, C, J)
        Each generator's log-likelihood plus its log weight.
    latents : ndarray of shape (n, C, J, k)
        Each generator's posterior mean code.
    means : ndarray of shape (C, J, d)
    components : ndarray of shape (C, J, d, k)
        The generators.

    Returns
    -------
    ndarray of shape (n, C, d)
        Every pixel, the missing ones included.
    """
    drawings = means[None] + np.einsum("cjdk,ncjk->ncjd", components, latents)
    weights = np.exp(joint - joint.max(axis=2, keepdims=True))
    weights /= weights.sum(axis=2, keepdims=True)
    return np.einsum("ncj,ncjd->ncd", weights, drawings)


def fit_class_generators(X, n_components, n_latent, min_variance, max_iter, rng, *,
                         noise_std=0.0, pixel_range=None):
    """Fit one class's generators to its training images, as noisy images would record them.

    A missing training pixel is replaced by the class's mean of that pixel
    (0 where every image misses it). With known noise the generators should
    draw the images as they would be recorded: with ``pixel_range``, the
    exact mean of clip(x + e) (:func:`clipped_noise_moments`), whose variance
    joins the noise; without, x itself and noise_std^2.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The class's training images; NaN marks a missing pixel.
    n_components, n_latent, min_variance, max_iter, rng
        As for :func:`mixture_of_ppca`.
    noise_std : float
        The known noise's standard deviation (0: none).
    pixel_range : (low, high) or None
        The range noisy pixels are clipped to; None: no clipping.

    Returns
    -------
    fit : tuple
        (log_weights, means, W, s2), as :func:`mixture_of_ppca` returns them.
    extra : ndarray of shape (d,)
        The variance the known noise adds to every pixel.
    n_iter : int
        EM iterations run.
    """
    if np.isnan(X).any():
        fill = np.nanmean(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
        X = np.where(np.isnan(X), fill, X)
    if noise_std > 0 and pixel_range is not None:
        low, high = (float(v) for v in pixel_range)
        X, var_recorded = clipped_noise_moments(X, noise_std, low, high)
        extra = var_recorded.mean(axis=0)
    else:
        extra = np.full(X.shape[1], noise_std ** 2)
    *fit, n_iter = mixture_of_ppca(X, n_components, n_latent, min_variance, max_iter, rng)
    return tuple(fit), extra, n_iter


def clipped_noise_moments(X, noise_std, low=0.0, high=1.0):
    """Compute the mean and variance of clip(x + e, low, high), e ~ N(0, noise_std^2).

    With noise, the recorded pixel is clipped to the valid range, so a blank
    pixel (x = 0) reads on average noise_std / sqrt(2 pi), not 0, and varies
    less than noise_std^2: the model's mean and noise variance should know that.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Clean pixel values.
    noise_std : float
        The noise's standard deviation (0: no noise).
    low, high : float
        The valid range.

    Returns
    -------
    mean, variance : ndarray of shape (n, d)
        Per pixel.
    """
    X = np.asarray(X, dtype=np.float64)
    s = float(noise_std)
    if s == 0:
        return np.clip(X, low, high), np.zeros_like(X)
    a, b = (low - X) / s, (high - X) / s
    phi_a, phi_b = np.exp(-0.5 * a * a), np.exp(-0.5 * b * b)
    phi_a, phi_b = phi_a / math.sqrt(2 * math.pi), phi_b / math.sqrt(2 * math.pi)
    Phi_a, Phi_b = ndtr(a), ndtr(b)
    inside = Phi_b - Phi_a
    mean = low * Phi_a + high * (1 - Phi_b) + X * inside + s * (phi_a - phi_b)
    second = (low ** 2 * Phi_a + high ** 2 * (1 - Phi_b) + X ** 2 * inside
              + 2 * X * s * (phi_a - phi_b) + s ** 2 * (inside + a * phi_a - b * phi_b))
    return mean, np.maximum(second - mean ** 2, 0.0)
