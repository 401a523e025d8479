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

The generators and their likelihoods (one vectorised TensorFlow function,
float64, through the Woodbury identity) are :mod:`inverse_lessons.models.ppca`'s;
this module is the classifier that uses them. The optional discriminative
fine-tuning differentiates the cross-entropy of the posterior through the
same function (:mod:`inverse_lessons.models.fine_tuning`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from inverse_lessons._tf import tf
from inverse_lessons._validation import Integer, Real, Satisfies, check_params
from inverse_lessons.models.base import PosteriorPredictions, encode_labels
from inverse_lessons.models.fine_tuning import fine_tune, held_out_rows, monitor_terms
from inverse_lessons.models.ppca import (
    clipped_noise_moments,
    mixture_log_likelihoods,
    mixture_of_ppca,
)
from inverse_lessons.threads import one_blas_thread

__all__ = ["AnalysisBySynthesis",]


def _is_interval(pair):
    low, high = (float(v) for v in pair)
    return low < high


_CONSTRAINTS = {
    "n_latent": [Integer(1)],
    "n_components": [Integer(1)],
    "noise_std": [None, Real(0)],
    "pixel_range": [None, Satisfies(_is_interval, "a pair (low, high) with low < high")],
    "min_variance": [Real(0, closed="neither")],
    "max_iter": [Integer(1)],
    "fine_tune_steps": [Integer(0)],
    "fine_tune_learning_rate": [Real(0, closed="neither")],
    "fine_tune_holdout": [Real(0, 1, closed="left")],
    "fine_tune_missing": [Real(0, 1, closed="left")],
    "fine_tune_batch_size": [None, Integer(1)],
}

# prediction's scores as one TensorFlow graph, about half the time of running its
# operations one by one (eager); traced at most twice for each kind of call (one mask
# per image, or shared masks with a pattern), the second trace for any shapes
_predict_scores = tf.function(mixture_log_likelihoods, reduce_retracing=True)


def _generative_fit(model, X, noise, rng):
    """Fit one class's generators to its training images X (n, d), NaN = missing.

    Returns the fit of :func:`~inverse_lessons.models.ppca.mixture_of_ppca` (log
    weights, means, W, s2), the variance (d,) added to every pixel by the known
    noise, and the number of EM iterations run.
    """
    if np.isnan(X).any():   # training only: the class's mean of that pixel
        fill = np.nanmean(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
        X = np.where(np.isnan(X), fill, X)
    if noise > 0 and model.pixel_range is not None:
        # each training image as it would be recorded: the mean of clip(x + e)
        # is what the generator draws, its variance joins the noise
        low, high = (float(v) for v in model.pixel_range)
        X, var_recorded = clipped_noise_moments(X, noise, low, high)
        extra = var_recorded.mean(axis=0)
    else:
        extra = np.full(X.shape[1], noise ** 2)
    *fit, iterations = mixture_of_ppca(X, int(model.n_components), int(model.n_latent),
                                        float(model.min_variance), int(model.max_iter), rng)
    return fit, extra, iterations


class AnalysisBySynthesis(PosteriorPredictions, ClassifierMixin, BaseEstimator):
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

    Attributes
    ----------
    classes_ : ndarray of shape (C,)
        The labels.
    class_log_prior_ : ndarray of shape (C,)
        Log of each class's share of the training images.
    log_weights_ : ndarray of shape (C, J)
        Log mixing weights of each class's J = ``n_components`` generators.
    means_, components_ : ndarray of shape (C, J, d), (C, J, d, k)
        The generators' means and matrices.
    isotropic_variances_ : ndarray of shape (C, J)
    noise_variances_ : ndarray of shape (C, J, d)
        The per-pixel noise variance used in prediction.
    n_iter_ : ndarray of shape (C,)
        EM iterations run per class (1 for the closed form).
    fine_tune_loss_curve_ : list of float
        The fine-tuning cross-entropies (empty if none), each of the images
        the step trained on, before the step.
    fine_tune_monitor_curve_ : list of float
        With ``fit(..., monitor=(X, y))``, the cross-entropy of those images
        before the first step and after every step (``fine_tune_steps + 1``
        values); else empty.
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
        """Declare that NaN (a missing pixel) is allowed in X."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True   # NaN marks a missing pixel
        return tags

    # -- fitting --------------------------------------------------------------------
    def fit(self, X, y, monitor=None):
        """Fit every class's generators, then fine-tune them if asked.

        One generator per class is closed-form PPCA; several are EM on a
        mixture of PPCA. Training images should be complete; a missing (NaN)
        training pixel is replaced by its class's mean of that pixel (a simple
        approximation, used in fitting only: prediction never fills in).

        Parameters
        ----------
        X : array-like of shape (n, d)
            Training images.
        y : array-like of shape (n,)
            Their labels.
        monitor : tuple (images (m, d), labels (m,)) or None
            Images (NaN = missing) whose cross-entropy is recorded along the
            fine-tuning (``fine_tune_monitor_curve_``); only looked at, never
            trained on.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For a bad setting (named), too few images in a class, or a bad monitor.
        TypeError
            For a setting of the wrong type (named).
        DivergenceError
            If the fine-tuning's loss stops being finite.
        """
        # small matrices: one thread is fastest, above all on a busy machine
        with one_blas_thread():
            return self._fit(X, y, monitor)

    def _fit(self, X, y, monitor=None):
        check_params(self, _CONSTRAINTS)
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2,
                             ensure_all_finite="allow-nan")
        k, noise = self.n_latent, 0.0 if self.noise_std is None else float(self.noise_std)
        if k > X.shape[1]:
            raise ValueError(f"n_latent must be at most the number of pixels ({X.shape[1]}), "
                             f"got {k}")
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
        fits, extra, n_iter = zip(*(_generative_fit(self, X[(codes == c) & ~held], noise, rng)
                                    for c in range(len(self.classes_))), strict=True)
        log_weights, means, components, iso = (np.stack(v) for v in zip(*fits, strict=True))

        self.class_log_prior_ = np.log(counts / counts.sum())
        self.log_weights_, self.means_, self.components_ = log_weights, means, components
        self.isotropic_variances_ = iso
        self.n_iter_ = np.array(n_iter)
        self._extra_variances = np.stack(extra)            # (C, d)
        self.fine_tune_loss_curve_, self.fine_tune_monitor_curve_ = [], []
        if self.fine_tune_steps:
            tuning = held if held.any() else np.ones(len(X), bool)
            fine_tune(self, X[tuning], codes[tuning], self._extra_variances, rng,
                      monitor_terms(self, monitor))
        self.noise_variances_ = (self.isotropic_variances_[:, :, None]
                                 + self._extra_variances[:, None, :])
        return self

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

    def _log_joint(self, X):
        return self.log_likelihoods(X) + self.class_log_prior_[None]

    def log_likelihoods(self, X):
        """Compute log p(x_O | class) of each image's observed pixels under each class.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Images, one per row; NaN marks a missing pixel.

        Returns
        -------
        ndarray of shape (n, C)
            In nats, over the observed pixels only (the missing ones
            marginalised); with several generators per class, the log of their
            weighted sum.
        """
        return self._terms(X)[0]

    def invert(self, X):
        """Invert every generator on each image's observed pixels.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Images, one per row; NaN marks a missing pixel.

        Returns
        -------
        ndarray of shape (n, C, J, k)
            The posterior means of the codes.
        """
        return self._terms(X)[2]

    def reconstruct(self, X):
        """Draw each image as each class would, every pixel.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Images, one per row; NaN marks a missing pixel.

        Returns
        -------
        ndarray of shape (n, C, d)
            The posterior mean of the whole image given its observed pixels
            under each class: mu + W z of each of the class's generators,
            weighted by how well each explains the image.
        """
        _, joint, z = self._terms(X)
        drawings = self.means_[None] + np.einsum("cjdk,ncjk->ncjd", self.components_, z)
        weights = np.exp(joint - joint.max(axis=2, keepdims=True))
        weights /= weights.sum(axis=2, keepdims=True)
        return np.einsum("ncj,ncjd->ncd", weights, drawings)
