"""Analysis by synthesis: a few linear generators per class (chapter 8).

Each class c has its own linear generators (three by default, ``n_components``;
one is the simplest case), each drawing an image as

    x = mu_c + W_c z + e,      z ~ N(0, I_k),   e ~ N(0, D_c),

(a probabilistic PCA model, Tipping and Bishop 1999), so under one generator
the images of class c are Gaussian, x ~ N(mu_c, C_c) with
C_c = W_c W_c^T + D_c, and under several a mixture of such Gaussians. With
one generator per class the boundary between two classes is a single quadric
(:func:`inverse_lessons.evaluation.attacks.exact_smallest_flip` uses that); with several it
is the level set of a difference of log-sum-exps of quadratics, not a piece of a
quadric. To classify an image the model *inverts every class's generator* on the
pixels it actually observed and asks which class explains them best: the prediction is the class
with the largest

    log p(x_O | c) + log p(c),

where x_O are the observed pixels and p(x_O | c) the Gaussian marginal
likelihood N(mu_O, W_O W_O^T + D_O) (with several generators, their weighted
sum). Missing pixels (NaN) are marginalised out
exactly (a Gaussian's marginal keeps the observed rows and columns): no
pixel is ever filled in before classifying.

Shapes: images are rows, X (n, d) with d pixels; with J generators per class
(a mixture of PPCA, ``n_components``) the model stores the means ``means_``
(n_classes, J, d), the generators ``components_`` (n_classes, J, d, k) and the
per-pixel noise variances ``noise_variances_`` (n_classes, J, d).

Chapter 8 writes the class index as y, W_c as G_y and the isotropic part of
D_c as s_y^2 (book/notation.md); there D is the mask of observed pixels.

All likelihoods are computed in one vectorised TensorFlow function
(:func:`class_log_likelihoods`, float64): the Woodbury identity turns each
d x d covariance into a k x k matrix M = I + W_O^T D_O^{-1} W_O per image and
class, whose Cholesky factor gives the log-determinant, the quadratic form and
the posterior mean of z (the masked inversion) at once. The optional
discriminative fine-tuning differentiates the cross-entropy of the posterior
through the same function.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy.special import logsumexp, ndtr
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from inverse_lessons._tf import tf
from inverse_lessons._validation import check_int, check_positive
from inverse_lessons.models.base import adam_step, encode_labels, training_diverged
from inverse_lessons.threads import one_blas_thread

__all__ = ["AnalysisBySynthesis", "class_log_likelihoods", "clipped_noise_moments",
           "held_out_rows"]

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


def clipped_noise_moments(X, noise_std, low=0.0, high=1.0):
    """Mean and variance of clip(x + e, low, high), e ~ N(0, noise_std^2), per pixel.

    ``X`` (n, d) clean pixel values; returns two arrays (n, d). With noise, the
    recorded pixel is clipped to the valid range, so a blank pixel (x = 0)
    reads on average noise_std / sqrt(2 pi), not 0, and varies less than
    noise_std^2: the model's mean and noise variance should know that.
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


def _ppca(X, n_latent, min_variance, weights=None):
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


def _complete_log_likelihoods(X, means, components, s2):
    """log N(x; mu_j, W_j W_j^T + s2_j I) for complete rows X (n, d): (n, J), numpy."""
    out = np.empty((len(X), len(means)))
    for j, (mu, W, v) in enumerate(zip(means, components, s2, strict=True)):
        L = np.linalg.cholesky(W @ W.T + v * np.eye(X.shape[1]))
        r = np.linalg.solve(L, (X - mu).T)
        out[:, j] = -0.5 * (X.shape[1] * _LOG_2PI + 2 * np.log(np.diag(L)).sum()
                            + (r * r).sum(axis=0))
    return out


def _mixture_of_ppca(X, n_components, n_latent, min_variance, max_iter, rng):
    """EM for a mixture of PPCA (Tipping and Bishop 1999) on complete rows X (n, d).

    Started from a k-means clustering; each M-step is a weighted closed-form
    PPCA per component. Returns log weights (J,), means (J, d), W (J, d, k),
    s2 (J,) and the number of EM iterations run.
    """
    if n_components == 1:
        mu, W, s2 = _ppca(X, n_latent, min_variance)
        return np.zeros(1), mu[None], W[None], np.array([s2]), 1   # one closed-form step
    labels = KMeans(n_components, n_init=4, random_state=rng).fit_predict(X)
    R = np.eye(n_components)[labels]
    previous = -np.inf
    for iteration in range(1, max_iter + 1):  # noqa: B007 (returned: EM steps run)
        fits = [_ppca(X, n_latent, min_variance, R[:, j] + 1e-12)
                for j in range(n_components)]
        means, W, s2 = (np.stack(v) for v in zip(*fits, strict=True))
        log_weights = np.log(R.sum(axis=0) / len(X) + 1e-12)
        joint = _complete_log_likelihoods(X, means, W, s2) + log_weights
        total = logsumexp(joint, axis=1, keepdims=True)
        R = np.exp(joint - total)
        if total.sum() - previous < 1e-6 * abs(total.sum()):
            break
        previous = total.sum()
    return log_weights, means, W, s2, iteration


def _class_scores(X, mask, log_weights, means, components, variances, pattern=None):
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


# prediction's scores as one TensorFlow graph, about half the time of running its
# operations one by one (eager); traced at most twice for each kind of call (one mask
# per image, or shared masks with a pattern), the second trace for any shapes
_predict_scores = tf.function(_class_scores, reduce_retracing=True)


def _fine_tune_loss(X, mask, labels, log_prior, extra, parameters):
    """The cross-entropy of the posterior over classes (nats, mean over images).

    ``parameters`` = [means (C, J, d), components (C, J, d, k), log s^2 (C, J),
    mixing logits (C, J)]; ``extra`` (C, d) the variance added to every pixel
    (known noise), ``log_prior`` (C,), ``labels`` (n,) class indices, ``X``
    and ``mask`` (n, d) as for :func:`class_log_likelihoods`. The isotropic
    variance is s^2 = exp(log s^2): its gradient is s^2 times that of the
    variance, of the order of the variance itself, so Adam moves it as much
    as the other parameters.
    """
    mu, W, log_s2, mixing = parameters
    variances = tf.exp(log_s2)[:, :, None] + extra[:, None, :]
    scores, _, _ = _class_scores(X, mask, tf.nn.log_softmax(mixing, axis=1), mu, W, variances)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, scores + log_prior[None]))


_monitor_loss = tf.function(_fine_tune_loss, reduce_retracing=True)


@tf.function(reduce_retracing=True)
def _fine_tune_step(X, mask, labels, log_prior, extra, log_floor, parameters, moments,
                    velocities, step, learning_rate):
    """The cross-entropy of the posterior over classes, and one step of Adam on it.

    ``parameters`` = [means, components, log s^2, mixing logits] (see
    :func:`_fine_tune_loss`); ``moments`` and ``velocities`` Adam's running
    moments of each, ``step`` the step's number (float64). After the step,
    log s^2 is clipped to at least ``log_floor``, the log of the variance
    floor (a projected step: the floor is a bound, not part of the
    parametrisation). Returns the loss (before the step) and the new
    parameters, moments and velocities. A module-level function holding the
    whole step, the update too, so that it is traced once per shape, not once
    per fit, and runs as one graph.
    """
    with tf.GradientTape() as tape:
        tape.watch(parameters)
        loss = _fine_tune_loss(X, mask, labels, log_prior, extra, parameters)
    gradients = tape.gradient(loss, parameters)
    # Adam in float64 (tf.keras.optimizers.Adam would round the learning rate and the
    # betas to float32 first, which changes a step by about 1e-5 of itself)
    parameters, moments, velocities = adam_step(parameters, gradients, moments, velocities,
                                                step, learning_rate)
    parameters[2] = tf.maximum(parameters[2], log_floor)
    return loss, parameters, moments, velocities


def held_out_rows(y, fraction):
    """The training images fine-tuning holds out of the generative fit: (n,) bool.

    Each class's last ``ceil(fraction * count)`` images of ``y`` (n,), in the
    order given (on the digits, a run of similar handwriting); see
    ``AnalysisBySynthesis(fine_tune_holdout=...)``.
    """
    y = np.asarray(y)
    held = np.zeros(len(y), bool)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        held[rows[len(rows) - math.ceil(fraction * len(rows)):]] = True
    return held


def _check_noise_std(value):
    if value is None:
        return 0.0
    return check_positive("noise_std", value, allow_zero=True)


class AnalysisBySynthesis(ClassifierMixin, BaseEstimator):
    """Classify by inverting linear generators, a few per class (three by default): PPCA.

    Parameters
    ----------
    n_latent : int, default 15
        Latent dimensions k of each generator (at most the number of pixels).
    n_components : int, default 3
        Generators per class: a mixture of PPCA fitted by EM (1: one PPCA per
        class, in closed form). Each class needs at least
        ``n_components * (n_latent + 1)`` training images.
    noise_std : float or None, default None
        Known standard deviation of the observation noise of the images to be
        classified, in pixel units. Its variance is added to every generator's
        noise variance (for clipped pixels, see ``pixel_range``).
    pixel_range : (low, high) or None, default (0.0, 1.0)
        If set and ``noise_std`` is given, noisy pixels are taken to be clipped
        to this range, as :func:`inverse_lessons.damage.add_noise` does: the
        generators are fitted to the exact per-pixel mean of clip(x + e) and the
        noise variance is its exact variance. None: plain Gaussian noise.
    min_variance : float, default 0.02
        Floor on each generator's isotropic variance s^2 (pixel units squared).
    max_iter : int, default 50
        Largest number of EM iterations (for ``n_components`` > 1).
    fine_tune_steps : int, default 0
        Steps of Adam on the cross-entropy of the posterior over classes after
        the generative fit, differentiating through the likelihood (and so
        through every generator's inversion). 0: the purely generative fit.
        The means, generators and mixing logits are trained as they are, the
        isotropic variances as log s^2, clipped at the log of
        ``min_variance`` after every step.
    fine_tune_learning_rate : float, default 1e-3
    fine_tune_holdout : float, default 0.0
        Fraction of each class's training images held out of the generative
        fit and used for the fine-tuning alone: the last ones of the class, in
        the order given (on the digits, a run of similar handwriting). 0: the
        fine-tuning trains on the images the generators were fitted to, which
        they already explain well. Only with ``fine_tune_steps`` > 0.
    fine_tune_missing : float, default 0.0
        Fraction of pixels dropped at random from the training images at each
        fine-tuning step (0: clean images).
    fine_tune_batch_size : int or None, default None
        Training images per fine-tuning step, a fresh random batch each step
        (None: all of them).
    random_state : int, RandomState or None
        Seed of the k-means start of EM and of the fine-tuning's pixel drops and batches.

    The defaults of ``n_latent``, ``n_components`` and ``min_variance`` were
    chosen by 5-fold cross-validation on the training split of
    :func:`inverse_lessons.load_digits_split`, each validation fold a run of
    consecutive images (handwriting the other folds have not seen, as for the
    test split): ``benchmarks/bench_damage.py --cv``.

    Attributes (C classes, J = n_components, d pixels, k = n_latent)
    ----------
    classes_ : (C,) labels.
    class_log_prior_ : (C,) log of each class's share of the training images.
    log_weights_ : (C, J) log mixing weights of each class's generators.
    means_ : (C, J, d), components_ : (C, J, d, k), isotropic_variances_ : (C, J),
    noise_variances_ : (C, J, d) the per-pixel noise variance used in prediction.
    n_iter_ : (C,) EM iterations run per class (1 for the closed form).
    fine_tune_loss_curve_ : list of the fine-tuning cross-entropies (empty if none),
        each of the images the step trained on, before the step.
    fine_tune_monitor_curve_ : list, with ``fit(..., monitor=(X, y))``, the
        cross-entropy of those images before the first step and after every
        step (``fine_tune_steps + 1`` values); else empty.
    """

    def __init__(self, n_latent=15, n_components=3, noise_std=None, pixel_range=(0.0, 1.0),
                 min_variance=0.02, max_iter=50, fine_tune_steps=0,
                 fine_tune_learning_rate=1e-3, fine_tune_holdout=0.0, fine_tune_missing=0.0,
                 fine_tune_batch_size=None, random_state=None):
        self.n_latent = n_latent
        self.n_components = n_components
        self.noise_std = noise_std
        self.pixel_range = pixel_range
        self.min_variance = min_variance
        self.max_iter = max_iter
        self.fine_tune_steps = fine_tune_steps
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.fine_tune_holdout = fine_tune_holdout
        self.fine_tune_missing = fine_tune_missing
        self.fine_tune_batch_size = fine_tune_batch_size
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True   # NaN marks a missing pixel
        return tags

    # -- validation ---------------------------------------------------------------
    def _check_params(self, n_features):
        k = check_int("n_latent", self.n_latent)
        if k > n_features:
            raise ValueError(f"n_latent must be at most the number of pixels ({n_features}), "
                             f"got {k}")
        check_int("n_components", self.n_components)
        check_int("max_iter", self.max_iter)
        noise = _check_noise_std(self.noise_std)
        if self.pixel_range is not None:
            try:
                low, high = (float(v) for v in self.pixel_range)
            except (TypeError, ValueError):
                raise ValueError("pixel_range must be None or a pair (low, high), got "
                                 f"{self.pixel_range!r}") from None
            if not low < high:
                raise ValueError(f"pixel_range must have low < high, got {self.pixel_range!r}")
        check_positive("min_variance", self.min_variance)
        check_int("fine_tune_steps", self.fine_tune_steps, minimum=0)
        check_positive("fine_tune_learning_rate", self.fine_tune_learning_rate)
        if self.fine_tune_batch_size is not None:
            check_int("fine_tune_batch_size", self.fine_tune_batch_size)
        if (isinstance(self.fine_tune_missing, bool)
                or not isinstance(self.fine_tune_missing, numbers.Real)
                or not 0.0 <= self.fine_tune_missing < 1.0):
            raise ValueError("fine_tune_missing must be a number in [0, 1), got "
                             f"{self.fine_tune_missing!r}")
        if (isinstance(self.fine_tune_holdout, bool)
                or not isinstance(self.fine_tune_holdout, numbers.Real)
                or not 0.0 <= self.fine_tune_holdout < 1.0):
            raise ValueError("fine_tune_holdout must be a number in [0, 1), got "
                             f"{self.fine_tune_holdout!r}")
        return k, noise

    # -- fitting --------------------------------------------------------------------
    def fit(self, X, y, monitor=None):
        """Fit every class's generators from images X (n, d) and labels y (n,).

        One generator per class is closed-form PPCA; several are EM on a
        mixture of PPCA. Training images should be complete; a missing (NaN)
        training pixel is replaced by its class's mean of that pixel (a simple
        approximation, used in fitting only: prediction never fills in).
        ``monitor``: None or a pair (images (m, d), NaN = missing, labels (m,))
        whose cross-entropy is recorded along the fine-tuning
        (``fine_tune_monitor_curve_``); it is only looked at, never trained on.
        Returns self.
        """
        # small matrices: one thread is fastest, above all on a busy machine
        with one_blas_thread():
            return self._fit(X, y, monitor)

    def _fit(self, X, y, monitor=None):
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2,
                             ensure_all_finite="allow-nan")
        k, noise = self._check_params(X.shape[1])
        J = int(self.n_components)
        codes = encode_labels(self, y)
        counts = np.bincount(codes, minlength=len(self.classes_))
        # the images fine-tuning holds out of the generative fit: each class's last ones
        held = np.zeros(len(X), bool)
        if self.fine_tune_steps and self.fine_tune_holdout:
            held = held_out_rows(codes, self.fine_tune_holdout)
        needed = J * (k + 1)
        for label, count in zip(self.classes_, np.bincount(codes[~held],
                                                           minlength=len(counts)), strict=True):
            if count < needed:
                raise ValueError(
                    f"class {label} has {count} training images for the generative fit; "
                    f"{J} generator(s) with n_latent={k} need at least "
                    f"n_components * (n_latent + 1) = {needed}")
        rng = check_random_state(self.random_state)
        clipped = noise > 0 and self.pixel_range is not None
        fits, extra, n_iter = [], [], []
        for c in range(len(self.classes_)):
            Xc = X[(codes == c) & ~held]
            if np.isnan(Xc).any():   # training only: the class's mean of that pixel
                fill = np.nanmean(np.where(np.isnan(Xc).all(axis=0), 0.0, Xc), axis=0)
                Xc = np.where(np.isnan(Xc), fill, Xc)
            if clipped:
                # each training image as it would be recorded: the mean of clip(x + e)
                # is what the generator draws, its variance joins the noise
                low, high = (float(v) for v in self.pixel_range)
                Xc, var_recorded = clipped_noise_moments(Xc, noise, low, high)
                extra.append(var_recorded.mean(axis=0))
            else:
                extra.append(np.full(X.shape[1], noise ** 2))
            *fit, iterations = _mixture_of_ppca(Xc, J, k, float(self.min_variance),
                                                int(self.max_iter), rng)
            fits.append(fit)
            n_iter.append(iterations)
        log_weights, means, components, iso = (np.stack(v) for v in zip(*fits, strict=True))
        self.class_log_prior_ = np.log(counts / counts.sum())
        self.log_weights_, self.means_, self.components_ = log_weights, means, components
        self.isotropic_variances_ = iso
        self.n_iter_ = np.array(n_iter)
        self._extra_variances = np.stack(extra)            # (C, d)
        self.fine_tune_loss_curve_, self.fine_tune_monitor_curve_ = [], []
        if self.fine_tune_steps:
            tuning = held if held.any() else np.ones(len(X), bool)
            self._fine_tune(X[tuning], codes[tuning], rng, self._monitor_terms(monitor))
        self.noise_variances_ = (self.isotropic_variances_[:, :, None]
                                 + self._extra_variances[:, None, :])
        return self

    def _monitor_terms(self, monitor):
        """The monitored images as tensors (images, mask, class indices), or None."""
        if monitor is None:
            return None
        try:
            X, y = monitor
        except (TypeError, ValueError):
            raise ValueError("monitor must be None or a pair (X, y)") from None
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_ or len(y) != len(X):
            raise ValueError(f"monitor must hold images (m, {self.n_features_in_}) and m "
                             f"labels, got shapes {X.shape} and {np.shape(y)}")
        y = np.asarray(y)
        codes = np.minimum(np.searchsorted(self.classes_, y), len(self.classes_) - 1)
        if np.any(self.classes_[codes] != y):
            raise ValueError("monitor's labels must be classes seen in fit")
        mask = (~np.isnan(X)).astype(np.float64)
        return (tf.constant(np.nan_to_num(X)), tf.constant(mask),
                tf.constant(codes, tf.int32))

    def _fine_tune(self, X, codes, rng, monitor=None):
        """Discriminative training of every generator through the likelihood (Adam)."""
        floor = float(self.min_variance)
        # log s2, clipped at log(floor) after every step; the generative fit puts
        # every variance at or above the floor
        log_s2 = np.log(np.maximum(self.isotropic_variances_, floor))
        parameters = [tf.constant(v) for v in (self.means_, self.components_, log_s2,
                                                self.log_weights_)]
        moments = [tf.zeros_like(p) for p in parameters]
        velocities = [tf.zeros_like(p) for p in parameters]
        fixed = [tf.constant(self.class_log_prior_), tf.constant(self._extra_variances)]
        log_floor = tf.constant(math.log(floor), tf.float64)

        def watch(parameters):
            if monitor is not None:
                self.fine_tune_monitor_curve_.append(
                    float(_monitor_loss(*monitor, *fixed, parameters)))

        watch(parameters)
        labels = tf.constant(codes, tf.int32)
        X_t = tf.constant(np.nan_to_num(X))
        learning_rate = tf.constant(float(self.fine_tune_learning_rate), tf.float64)
        observed = (~np.isnan(X)).astype(np.float64)
        n = len(X)
        batch = n if self.fine_tune_batch_size is None else min(self.fine_tune_batch_size, n)
        for t in range(1, self.fine_tune_steps + 1):
            rows = np.arange(n) if batch == n else rng.choice(n, size=batch, replace=False)
            mask = observed[rows]
            if self.fine_tune_missing:
                mask = mask * (rng.random(mask.shape) >= self.fine_tune_missing)
            rows = tf.constant(rows)
            loss, parameters, moments, velocities = _fine_tune_step(
                tf.gather(X_t, rows), tf.constant(mask), tf.gather(labels, rows), *fixed,
                log_floor, parameters, moments, velocities, tf.constant(float(t), tf.float64),
                learning_rate)
            watch(parameters)
            loss = float(loss)
            if not math.isfinite(loss):
                raise training_diverged(
                    t, loss, "use a smaller fine_tune_learning_rate",
                    step_size=float(self.fine_tune_learning_rate))
            self.fine_tune_loss_curve_.append(loss)
        mu, W, log_s2, mixing = (p.numpy() for p in parameters)
        self.means_, self.components_ = mu, W
        self.isotropic_variances_ = np.maximum(np.exp(log_s2), floor)   # exp(log) rounds
        self.log_weights_ = tf.nn.log_softmax(mixing, axis=1).numpy()

    # -- prediction -------------------------------------------------------------------
    def _validated(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan",
                          dtype=np.float64)
        missing = np.isnan(X)
        empty = np.flatnonzero(missing.all(axis=1))
        if empty.size:
            raise ValueError(f"row {empty[0]} of X has every pixel missing (NaN): there is "
                             "nothing to classify")
        return np.where(missing, 0.0, X), (~missing).astype(np.float64)

    def _terms(self, X):
        X0, mask = self._validated(X)
        # images often share their mask (complete ones, a block cut from every image):
        # factorise once per distinct mask, unless most masks are distinct anyway
        masks, pattern = np.unique(mask, axis=0, return_inverse=True)
        shared = len(masks) <= len(mask) // 2
        values = (X0, masks if shared else mask, self.log_weights_, self.means_,
                  self.components_, self.noise_variances_)
        scores, joint, z = _predict_scores(*(tf.constant(v) for v in values),
                                           tf.constant(pattern.ravel()) if shared else None)
        return scores.numpy(), joint.numpy(), z.numpy()

    def log_likelihoods(self, X):
        """log p(x_O | class) for each image (rows of X, NaN = missing) and class: (n, C).

        In nats, over the observed pixels only (the missing ones marginalised);
        with several generators per class, the log of their weighted sum.
        """
        return self._terms(X)[0]

    def invert(self, X):
        """Every generator's latent code for each image, the posterior means: (n, C, J, k)."""
        return self._terms(X)[2]

    def reconstruct(self, X):
        """Each class's drawing of each image, every pixel: (n, C, d).

        The posterior mean of the whole image given its observed pixels under
        that class: mu + W z of each of the class's generators, weighted by
        how well each explains the image.
        """
        _, joint, z = self._terms(X)
        drawings = self.means_[None] + np.einsum("cjdk,ncjk->ncjd", self.components_, z)
        weights = np.exp(joint - joint.max(axis=2, keepdims=True))
        weights /= weights.sum(axis=2, keepdims=True)
        return np.einsum("ncj,ncjd->ncd", weights, drawings)

    def decision_function(self, X):
        """log p(x_O | c) + log p(c): the unnormalised log posterior, (n, C).

        For two classes, the difference of the two columns (n,), as scikit-learn expects.
        """
        scores = self.log_likelihoods(X) + self.class_log_prior_[None]
        return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def predict_log_proba(self, X):
        """log p(c | x_O) for each image and class (n, C)."""
        scores = self.log_likelihoods(X) + self.class_log_prior_[None]
        return scores - logsumexp(scores, axis=1, keepdims=True)

    def predict_proba(self, X):
        """The posterior over classes p(c | x_O) (n, C); rows sum to one."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The class whose generators explain the observed pixels best (n,)."""
        scores = self.log_likelihoods(X) + self.class_log_prior_[None]
        return self.classes_[np.argmax(scores, axis=1)]
