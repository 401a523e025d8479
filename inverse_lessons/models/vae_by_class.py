"""Analysis by synthesis with a nonlinear generator per class: a small VAE each (chapter 9).

Schott, Rauber, Bethge and Brendel (2019) gave every class c its own
*nonlinear* generator, the decoder of a variational autoencoder (VAE) with a
N(0, I) prior on an 8-dimensional latent z, and classified by inference: how
well can each class's generator draw the image? Here each class's generator is

    x = g_c(z) + e,   g_c(z) = b_c + V_c^T tanh(U_c^T z + u_c),
    z ~ N(0, I_k),    e ~ N(0, s_c^2 I),

a one-hidden-layer decoder with a linear read-out (with a small hidden layer
it is chapter 8's linear generator bent by the tanh; the read-out is linear
so that any pixel range can be drawn). The class score of an image x, of
which only the pixels O are observed (NaN = missing), is the optimised energy

    E_c(x) = min_z  ||x_O - g_c(z)_O||^2 / (2 s_c^2)
                    + |O| log(2 pi s_c^2) / 2 + ||z||^2 / 2,

minus the log of the joint density p(x_O, z*) at the best latent z*, in nats.
The model predicts the class with the smallest energy; the posterior over
classes is the softmax of -E_c / T, the temperature T set to 1 (the model's
own posterior) or fitted on held-out training images (never on test images).

Training fits each class's VAE (decoder, encoder and s_c) to its own images by
the evidence lower bound, all classes in one batched computation
(:mod:`~inverse_lessons.models.vae_training`); the encoder serves only the
training. The inference of prediction is the one of Schott et al.: the best
latent of a fixed bank of prior samples (per class), then a few steps of Adam on
E_c over z, observed pixels only. It lives in
:mod:`~inverse_lessons.models.vae_inference` (whose ``energies``,
``energy_gradient`` and ``infer_latents`` this module re-exports, for the book);
this module holds the estimator.

For an attacker, :meth:`VAEBySynthesis.differentiable_scores` gives the class
scores -E_c(x) as a TensorFlow function of the image, differentiable either
through the Adam steps or by the envelope theorem: at the optimum
z*, dE_c/dx = (partial E_c / partial x)(x, z*), the latent held fixed
(chapter 5's argument, used by the attacker).

Shapes: C classes, d pixels, k latent dimensions, H hidden units, S bank samples.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from inverse_lessons._tf import tf
from inverse_lessons._validation import (
    Integer,
    Options,
    Real,
    check_choice,
    check_int,
    check_params,
)
from inverse_lessons.inversion.solver import DivergenceError
from inverse_lessons.models.base import encode_labels
from inverse_lessons.models.vae_inference import (
    decode,
    draw_bank,
    energies,
    energy_gradient,
    infer_latents,
    infer_scores,
)
from inverse_lessons.models.vae_training import (
    fit_class_vaes,
    fit_temperature,
    last_of_each_class,
)
from inverse_lessons.threads import one_blas_thread

# energies, energy_gradient and infer_latents: re-exported, the book imports them here
__all__ = ["VAEBySynthesis", "energies", "energy_gradient", "infer_latents"]

_F64 = tf.float64


def _observed_tensor(X, binarize):
    """Images (n, d) with NaN as missing -> (images with 0 there, mask), tf.float64.

    With ``binarize`` the threshold passes the gradient straight through.
    """
    observed = tf.logical_not(tf.math.is_nan(X))
    mask = tf.cast(observed, _F64)
    X0 = tf.where(observed, X, tf.zeros_like(X))
    if binarize is not None:
        binary = tf.cast(X0 > binarize, _F64)
        X0 = X0 + tf.stop_gradient(binary - X0)
    return X0, mask


def _binarized(X, threshold):
    """Return the images (n, d) as 1 above ``threshold``, else 0, NaN kept (None: as they are)."""
    if threshold is None:
        return X
    return np.where(np.isnan(X), np.nan, (X > threshold).astype(np.float64))


def _check_rows(X):
    """Raise ValueError if a row of X (n, d) has every pixel missing."""
    empty = np.flatnonzero(np.isnan(X).all(axis=1))
    if empty.size:
        raise ValueError(f"row {empty[0]} of X has every pixel missing (NaN): there is "
                         "nothing to classify")


_CONSTRAINTS = {
    "n_latent": [Integer(1)],
    "n_hidden": [Integer(1)],
    "max_iter": [Integer(1)],
    "learning_rate": [Real(0, closed="neither")],
    "min_variance": [Real(0, closed="neither")],
    "n_samples": [Integer(1)],
    "n_steps": [Integer(0)],
    "step_size": [Real(0, closed="neither")],
    "binarize": [None, Real()],
    "temperature": [Real(0, closed="neither"), Options("held-out")],
}


class _GeneratorViews:
    """The fitted generators seen from outside the classifier: latents, drawings, gradients.

    A mixin for :class:`VAEBySynthesis`, whose ``_inference(X)`` returns the
    class scores (n, C), the start's scores (n, C) and the latents (n, C, k).
    """

    def _weights(self):
        """Return the bank, its drawings, the decoder's weights and the log noise variances.

        Tensors, not arrays: a traced function takes them several times faster.
        """
        return (tf.constant(self.bank_), tf.constant(self.bank_drawings_),
                tuple(tf.constant(w) for w in self.decoder_),
                tf.constant(np.log(self.noise_variances_)))

    def start_scores(self, X):
        """-E_c(x, z0) at the bank's best latent z0, before the Adam steps: (n, C)."""
        return self._inference(X)[1]

    def invert(self, X):
        """Each class's inferred latent z* for each image: (n, C, k)."""
        return self._inference(X)[2]

    def reconstruct(self, X):
        """Each class's drawing g_c(z*) of each image, every pixel: (n, C, d)."""
        Z = tf.constant(self.invert(X))
        return decode(Z, *self._weights()[2])[0].numpy()

    def sample(self, n, *, random_state=None):
        """N images drawn by each class's generator from the prior, g_c(z): (C, n, d)."""
        check_is_fitted(self)
        z = check_random_state(random_state).standard_normal((check_int("n", n),
                                                               int(self.n_latent)))
        Z = tf.constant(np.repeat(z[:, None], len(self.classes_), axis=1))
        drawn = decode(Z, *self._weights()[2])[0].numpy()
        return drawn.transpose(1, 0, 2)

    def differentiable_scores(self, X, *, gradient="unrolled"):
        """Return the class scores -E_c(x) (n, C) as a tf.Tensor, differentiable in X (n, d).

        ``X`` a tensor (or array) of images, NaN = missing. The bank's choice of
        start is piecewise constant (no gradient). gradient="unrolled":
        differentiates through the ``n_steps`` Adam steps; "envelope": the latents
        z* are held fixed, so the gradient is the partial derivative of E_c at z*
        (exact at an exact minimum). With ``binarize``, the threshold passes the
        gradient straight through.
        """
        check_is_fitted(self)
        check_choice("gradient", gradient, ("unrolled", "envelope"))
        X = tf.cast(tf.convert_to_tensor(X), _F64)
        if len(X.shape) != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}), got {X.shape}")
        X0, mask = _observed_tensor(X, self.binarize)
        scores, _, _ = infer_scores(X0, mask, *self._weights(), int(self.n_steps),
                                    float(self.step_size), envelope=gradient == "envelope")
        return scores


class VAEBySynthesis(_GeneratorViews, ClassifierMixin, BaseEstimator):
    """Classify by inverting each class's nonlinear generator (a VAE decoder), as Schott et al.

    Parameters
    ----------
    n_latent : int, default 4
        Latent dimensions k of every generator (Schott et al.: 8, for 784 pixels).
    n_hidden : int, default 16
        Hidden tanh units H of each decoder and encoder. Small: a class has about
        100 training images of 64 pixels here, and a large decoder draws other
        classes' digits too.
    max_iter : int, default 1000
        Full-batch Adam steps on the evidence lower bound (every class at once).
    learning_rate : float, default 0.02
        Adam's step size for the training.
    min_variance : float, default 1e-3
        Floor on each class's noise variance s_c^2 (pixel units squared).
    n_samples : int, default 200
        Prior samples z ~ N(0, I) in the bank that starts the inference (one bank,
        drawn at fit, shared by the classes).
    n_steps : int, default 20
        Adam steps of the inference on each class's energy.
    step_size : float, default 0.05
        Adam's step size for the inference (latent units).
    binarize : float or None, default None
        If a number t, every pixel is replaced by 1 where it exceeds t and by 0
        elsewhere, in fit and in prediction (Schott et al.'s binary variant).
        Missing pixels stay missing. For gradients the threshold passes the
        gradient straight through (the attacker's usual choice).
    temperature : float or "held-out", default 1.0
        T of the posterior softmax(-E / T). 1: the model's own posterior, each
        class's energy read as minus a log-likelihood. "held-out": fitted by
        maximum likelihood on each class's last 25 % of training images, with a
        copy of the model fitted to the rest (a second fit).
    random_state : int, RandomState or None
        Seed of the initial weights, the training's noise and the bank.

    The defaults of ``n_latent``, ``n_hidden``, ``max_iter`` and ``learning_rate``
    were chosen on the training split of :func:`inverse_lessons.load_digits_split`
    alone: fitted to each class's first 75 % of training images, scored on the
    last 25 % (other writers). k = 4 led k = 3, 6 and 8 by one to three points
    there; 32 hidden units did worse than 16, 8 no better.

    Attributes
    ----------
    classes_ : (C,) labels.
    decoder_ : tuple (U (C, k, H), u (C, H), V (C, H, d), b (C, d)) numpy arrays.
    encoder_ : tuple (A1 (C, d, H), a1 (C, H), A2 (C, H, 2k), a2 (C, 2k)): the training's
        encoder (mean and log variance of q(z | x)).
    noise_variances_ : (C,) s_c^2.
    bank_ : (S, k) the prior samples that start the inference.
    bank_drawings_ : (C, S, d) each class's drawing g_c(z) of each bank sample, among
        which the inference picks its start (they do not depend on the image).
    temperature_ : float, T of the posterior softmax(-E / T).
    loss_curve_ : list of float, minus the ELBO per pixel (nats), summed over classes,
        at each training step.
    n_iter_ : int, the training steps run (``max_iter``).
    """

    def __init__(self, n_latent=4, n_hidden=16, max_iter=1000, learning_rate=0.02,
                 min_variance=1e-3, n_samples=200, n_steps=20, step_size=0.05,
                 binarize=None, temperature=1.0, random_state=None):
        self.n_latent = n_latent
        self.n_hidden = n_hidden
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.min_variance = min_variance
        self.n_samples = n_samples
        self.n_steps = n_steps
        self.step_size = step_size
        self.binarize = binarize
        self.temperature = temperature
        self.random_state = random_state

    def __sklearn_tags__(self):
        """Declare that NaN (a missing pixel) is allowed in the input."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True   # NaN marks a missing pixel
        return tags

    # -- fitting ----------------------------------------------------------------------
    def fit(self, X, y):
        """Fit every class's VAE to its training images X (n, d) (NaN = missing), labels y (n,).

        A missing training pixel is replaced by its class's mean of that pixel
        (training only; prediction never fills in). Returns self.
        """
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2,
                             ensure_all_finite="allow-nan")
        check_params(self, _CONSTRAINTS)
        _check_rows(X)
        codes = encode_labels(self, y)
        rng = check_random_state(self.random_state)
        with one_blas_thread():
            self.encoder_, self.decoder_, self.noise_variances_ = (
                fit_class_vaes(self, _binarized(X, self.binarize), codes, len(self.classes_),
                               n_latent=int(self.n_latent), n_hidden=int(self.n_hidden),
                               max_iter=int(self.max_iter),
                               learning_rate=float(self.learning_rate),
                               min_variance=float(self.min_variance), rng=rng))
        self.n_iter_ = int(self.max_iter)
        self.bank_ = rng.standard_normal((int(self.n_samples), int(self.n_latent)))
        # the bank's drawings do not depend on the image: drawn once, here
        self.bank_drawings_ = draw_bank(
            tf.constant(self.bank_), tuple(tf.constant(w) for w in self.decoder_)).numpy()
        self.temperature_ = (self._fitted_temperature(X, codes)
                             if self.temperature == "held-out" else float(self.temperature))
        return self

    def _fitted_temperature(self, X, codes):
        """T minimising the cross-entropy of softmax(-E / T) on held-out training images.

        A copy of the model is fitted to the other training images (each class's
        first 75 %); T is fitted on the rest (the training images themselves are
        classified with no error, which would send T to zero).
        """
        held = last_of_each_class(codes, 0.25)
        if held.all() or not held.any() or len(np.unique(codes[~held])) < len(self.classes_):
            return 1.0
        copy = VAEBySynthesis(**{**self.get_params(), "temperature": 1.0})
        scores = copy.fit(X[~held], self.classes_[codes[~held]]).class_scores(X[held])
        return fit_temperature(scores, codes[held])

    # -- prediction -------------------------------------------------------------------
    def _validated(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan",
                          dtype=np.float64)
        _check_rows(X)
        X = _binarized(X, self.binarize)
        missing = np.isnan(X)
        return np.where(missing, 0.0, X), (~missing).astype(np.float64)

    def _inference(self, X):
        """Scores (n, C), start energies (n, C) and latents (n, C, k), numpy; checks."""
        X0, mask = self._validated(X)
        with one_blas_thread():
            scores, start, Z = infer_scores(
                tf.constant(X0), tf.constant(mask), *self._weights(), int(self.n_steps),
                float(self.step_size), envelope=True)
        scores = scores.numpy()
        if not np.isfinite(scores).all():
            raise DivergenceError(
                "the inference diverged: a class score is not finite; use a smaller "
                "step_size", step_size=float(self.step_size), step_size_bound=None)
        return scores, start.numpy(), Z.numpy()

    def class_scores(self, X):
        """-E_c(x) for each image (rows of X, NaN = missing) and class: (n, C), nats.

        Minus the optimised energy after the bank and the Adam steps: the log of
        the joint density of the observed pixels and the best latent found.
        ``predict`` takes the argmax of these numbers.
        """
        return self._inference(X)[0]

    def decision_function(self, X):
        """Return the class scores (n, C); for two classes their difference (n,)."""
        scores = self.class_scores(X)
        return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def predict_log_proba(self, X):
        """Log p(c | x_O) = log softmax(-E / T) (n, C)."""
        return log_softmax(self.class_scores(X) / self.temperature_, axis=1)

    def predict_proba(self, X):
        """Return the posterior over classes (n, C); rows sum to one."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Return the class whose generator explains the observed pixels best (n,)."""
        scores = self.class_scores(X)   # first: it checks that the model is fitted
        return self.classes_[np.argmax(scores, axis=1)]
