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
from scipy.special import logsumexp
from sklearn.cluster import KMeans

from inverse_lessons._tf import tf

__all__ = ["class_log_likelihoods", "complete_log_likelihoods", "fit_ppca",
           "mixture_log_likelihoods", "mixture_of_ppca"]

_LOG_2PI = math.log(2.0 * math.pi)


def class_log_likelihoods(X, mask, means, components, variances, pattern=None):
    """Gaussian log-likelihood of the observed pixels under every class, and the inversion.

    Parameters (tensors or arrays, float64)
    ----------
    X : (n, d) images with missing pixels set to any finite value (they are masked).
    mask : (n, d) 1 for an observed pixel, 0 for a missing one; or, with ``pattern``,
        (u, d) the distinct masks.
    means : (C, d) class means mu_c.
    components : (C, d, k) class generators W_c.
    variances : (C, d) per-pixel noise variances D_c (positive).
    pattern : None or (n,) ints in [0, u): image i's mask is ``mask[pattern[i]]``.
        The k x k matrices M below and their Cholesky factors then depend on the
        mask only, so they are computed once per distinct mask instead of once per
        image (once for complete images); the same values up to rounding. None:
        one mask per image.

    Returns
    -------
    log_likelihood : (n, C) tensor, log N(x_O; mu_O, W_O W_O^T + D_O) in nats.
    latents : (n, C, k) tensor, the posterior mean of z given the observed pixels,
        (I + W_O^T D_O^-1 W_O)^-1 W_O^T D_O^-1 (x_O - mu_O): the masked inversion
        of each class's generator (least squares with a unit-variance prior on z).
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
    else:                                        # each image's mask's factor
        L = tf.gather(tf.linalg.cholesky(M), tf.convert_to_tensor(pattern, tf.int64))
        log_det_M, z = _cholesky_terms(L, b)
    log_det = tf.matmul(mask, tf.math.log(D), transpose_b=True) + log_det_M
    quad = r_norm - tf.reduce_sum(b * z, axis=-1)
    n_observed = tf.reduce_sum(mask, axis=-1)[:, None]
    return -0.5 * (n_observed * _LOG_2PI + log_det + quad), z


def _cholesky_terms(L, b):
    """log det(L L^T) (...) and (L L^T)^-1 b (..., k) from a Cholesky factor L (..., k, k)."""
    z = tf.linalg.cholesky_solve(L, b[..., None])[..., 0]
    return 2.0 * tf.reduce_sum(tf.math.log(tf.linalg.diag_part(L)), axis=-1), z


@tf.custom_gradient
def _log_det_and_solve(M, b):
    """log det M (...) and z = M^-1 b (..., k) for symmetric positive definite M (..., k, k).

    One Cholesky factorisation M = L L^T gives both. The gradient is the closed
    form, d log det M = tr(M^-1 dM) and dz = M^-1 (db - dM z): for upstream
    gradients g (...) and h (..., k), g M^-1 - (M^-1 h) z^T for M and M^-1 h
    for b, with M^-1 from one triangular inversion of L. Exact (for symmetric
    perturbations of M, the only ones M's symmetric construction passes on),
    and several times cheaper for a batch of small matrices than
    differentiating through the Cholesky factorisation and its solves.
    """
    L = tf.linalg.cholesky(M)
    log_det, z = _cholesky_terms(L, b)

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
    """Closed-form probabilistic PCA of the rows of X (n, d), the maximum-likelihood fit.

    Returns mu (d,), W (d, k), s2 (float): W = U_k (Lambda_k - s2 I)^(1/2) from the
    top k eigenpairs of the covariance (divided by n), s2 the mean of the
    discarded eigenvalues, floored at ``min_variance``. With ``weights`` (n,)
    (responsibilities, summing to anything positive) mean and covariance are
    weighted: the M-step of a mixture of PPCA.
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


def complete_log_likelihoods(X, means, components, s2):
    """log N(x; mu_j, W_j W_j^T + s2_j I) for complete rows X (n, d): (n, J), numpy."""
    out = np.empty((len(X), len(means)))
    for j, (mu, W, v) in enumerate(zip(means, components, s2, strict=True)):
        L = np.linalg.cholesky(W @ W.T + v * np.eye(X.shape[1]))
        r = np.linalg.solve(L, (X - mu).T)
        out[:, j] = -0.5 * (X.shape[1] * _LOG_2PI + 2 * np.log(np.diag(L)).sum()
                            + (r * r).sum(axis=0))
    return out


def mixture_of_ppca(X, n_components, n_latent, min_variance, max_iter, rng):
    """EM for a mixture of PPCA (Tipping and Bishop 1999) on complete rows X (n, d).

    Started from a k-means clustering; each M-step is a weighted closed-form
    PPCA per component. Returns log weights (J,), means (J, d), W (J, d, k),
    s2 (J,) and the number of EM iterations run.
    """
    if n_components == 1:
        mu, W, s2 = fit_ppca(X, n_latent, min_variance)
        return np.zeros(1), mu[None], W[None], np.array([s2]), 1   # one closed-form step
    labels = KMeans(n_components, n_init=4, random_state=rng).fit_predict(X)
    R = np.eye(n_components)[labels]
    previous = -np.inf
    for iteration in range(1, max_iter + 1):  # noqa: B007 (returned: EM steps run)
        fits = [fit_ppca(X, n_latent, min_variance, R[:, j] + 1e-12)
                for j in range(n_components)]
        means, W, s2 = (np.stack(v) for v in zip(*fits, strict=True))
        log_weights = np.log(R.sum(axis=0) / len(X) + 1e-12)
        joint = complete_log_likelihoods(X, means, W, s2) + log_weights
        total = logsumexp(joint, axis=1, keepdims=True)
        R = np.exp(joint - total)
        if total.sum() - previous < 1e-6 * abs(total.sum()):
            break
        previous = total.sum()
    return log_weights, means, W, s2, iteration


def mixture_log_likelihoods(X, mask, log_weights, means, components, variances, pattern=None):
    """log p(x_O | c) (n, C), the per-generator log-likelihoods plus log weights (n, C, J)
    and the latents (n, C, J, k), as tensors, for J generators per class.

    log_weights (C, J), means (C, J, d), components (C, J, d, k), variances (C, J, d);
    ``mask`` and ``pattern`` as for :func:`class_log_likelihoods`.
    """
    # dynamic shapes: a graph traced once serves models of every size
    C, J = tf.unstack(tf.shape(log_weights))
    d, k = tf.shape(means)[-1], tf.shape(components)[-1]
    ll, z = class_log_likelihoods(X, mask, tf.reshape(means, [C * J, d]),
                                  tf.reshape(components, [C * J, d, k]),
                                  tf.reshape(variances, [C * J, d]), pattern)
    joint = tf.reshape(ll, [-1, C, J]) + log_weights[None]
    return tf.reduce_logsumexp(joint, axis=-1), joint, tf.reshape(z, [-1, C, J, k])
