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

The defaults of ``n_latent``, ``n_components`` and ``min_variance`` were
chosen by 5-fold cross-validation on the training split of
:func:`inverse_lessons.load_digits_split`, each validation fold a run of
consecutive images (handwriting the other folds have not seen, as for the
test split): ``benchmarks/bench_damage.py --cv``.

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

from inverse_lessons._validation import Integer, Real, Satisfies, check_params
from inverse_lessons.models.base import PosteriorPredictions, encode_labels
from inverse_lessons.models.fine_tuning import fine_tune_fitted, held_out_rows
from inverse_lessons.models.ppca import (
    fit_class_generators,
    mixture_reconstructions,
    observed_mixture_terms,
)
from inverse_lessons.threads import one_blas_thread

__all__ = ["AnalysisBySynthesis"]


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


class AnalysisBySynthesis(PosteriorPredictions, ClassifierMixin, BaseEstimator):
    """Classify by inverting linear generators, a few per class (three by default): PPCA.

    Parameters
    ----------
    n_latent : int, default 15
        Latent dimensions k of each generator (at most the number of pixels).
        This default and those of ``n_components`` and ``min_variance`` were
        chosen by cross-validation (see the module's docstring).
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
    before_fine_tuning_ : AnalysisBySynthesis
        With ``fine_tune_steps`` > 0, the model before fine-tuning: the same
        settings with no fine-tuning, fitted to the images the generators
        were fitted to (all but the held-out ones). For an int
        ``random_state`` it is what fitting that model to those images
        returns, bit for bit (the same k-means starts), without fitting again.
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
            X, codes = _training_data(self, X, y)
            rng = check_random_state(self.random_state)
            held, extra = _fit_every_class(self, X, codes, rng)
            fine_tune_fitted(self, X, codes, held, extra, rng, monitor)
        return self

    # -- prediction -------------------------------------------------------------------
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
        return _terms(self, X)[0]

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
        return _terms(self, X)[2]

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
        _, joint, latents = _terms(self, X)
        return mixture_reconstructions(joint, latents, self.means_, self.components_)


def _training_data(model, X, y):
    """Check ``model``'s settings and its training data; set its classes and class prior.

    Returns the images as float64 (n, d) and the class index of each (n,);
    raises ValueError or TypeError, naming what is wrong.
    """
    check_params(model, _CONSTRAINTS)
    X, y = validate_data(model, X, y, dtype=np.float64, ensure_min_samples=2,
                         ensure_all_finite="allow-nan")
    if model.n_latent > X.shape[1]:
        raise ValueError(f"n_latent must be at most the number of pixels ({X.shape[1]}), "
                         f"got {model.n_latent}")
    codes = encode_labels(model, y)
    counts = np.bincount(codes, minlength=len(model.classes_))
    model.class_log_prior_ = np.log(counts / counts.sum())
    return X, codes


def _fit_every_class(model, X, codes, rng):
    """Fit each class's generators to its images; set the fitted attributes of ``model``.

    The images that fine-tuning holds out (each class's last ones) are left
    out. Returns which images were held out (n,) and the variance the known
    noise adds to each class's pixels (C, d), which ``noise_variances_``
    includes.
    """
    held = np.zeros(len(X), bool)
    if model.fine_tune_steps and model.fine_tune_holdout:
        held = held_out_rows(codes, model.fine_tune_holdout)
    J, k = int(model.n_components), int(model.n_latent)
    needed = J * (k + 1)
    counts = np.bincount(codes[~held], minlength=len(model.classes_))
    for label, count in zip(model.classes_, counts, strict=True):
        if count < needed:
            raise ValueError(
                f"class {label} has {count} training images for the generative fit; "
                f"{J} generator(s) with n_latent={k} need at least "
                f"n_components * (n_latent + 1) = {needed}")
    noise = 0.0 if model.noise_std is None else float(model.noise_std)
    fits, extra, n_iter = zip(*(fit_class_generators(
        X[(codes == c) & ~held], J, k, float(model.min_variance), int(model.max_iter), rng,
        noise_std=noise, pixel_range=model.pixel_range)
        for c in range(len(model.classes_))), strict=True)
    (model.log_weights_, model.means_, model.components_,
     model.isotropic_variances_) = (np.stack(v) for v in zip(*fits, strict=True))
    model.n_iter_ = np.array(n_iter)
    extra = np.stack(extra)
    model.noise_variances_ = model.isotropic_variances_[:, :, None] + extra[:, None, :]
    return held, extra


def _terms(model, X):
    """Return the log-likelihoods, joint terms and codes of images under a fitted ``model``.

    As :func:`~inverse_lessons.models.ppca.observed_mixture_terms` returns
    them; raises ValueError for an image with every pixel missing.
    """
    check_is_fitted(model)
    X = validate_data(model, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
    missing = np.isnan(X)
    empty = np.flatnonzero(missing.all(axis=1))
    if empty.size:
        raise ValueError(f"row {empty[0]} of X has every pixel missing (NaN): there is "
                         "nothing to classify")
    return observed_mixture_terms(np.where(missing, 0.0, X), (~missing).astype(np.float64),
                                  model.log_weights_, model.means_, model.components_,
                                  model.noise_variances_)
