"""InverseNet: a classifier that predicts by inverting a learned generator (chapter 4).

The model has a linear generator G (m pixels x k latents) and a classifier
head F on the latent code. To classify an image x it *inverts* G,

    z*(x) = N gradient steps on ||x - G z||^2 from z = 0   (missing pixels left out)
    logits = F(z*) = z* W + c        (head="linear")   or   z*   (head="identity"),

and it learns G, W and c by minimising the cross-entropy of those logits,
differentiating through the inner solver: a bilevel problem. Because the
inner loss is per image (a sum over that image's pixels, not a mean over the
batch), the prediction for an image never depends on which other images are
inverted with it.

The gradient through the inner solver is computed either by automatic
differentiation through the N explicit steps (``gradient="unrolled"``, the
teaching reference) or through their exact closed form
(``gradient="closed_form"``, the default: the same function, built by
repeated squaring in about 2 log2(N) small matrix products). The objective
and its training step are :mod:`inverse_lessons.models.inverse_net_training`'s;
this module is the estimator.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from inverse_lessons._tf import quiet_retracing, tf
from inverse_lessons._validation import Boolean, Integer, Options, Real, check_params
from inverse_lessons.inversion.closed_form import closed_form_inversion
from inverse_lessons.models.base import SoftmaxPredictions, encode_labels
from inverse_lessons.models.inverse_net_training import (
    check_inner_stable,
    initial_parameters,
    inner_step_size,
    train,
    zeroed_and_mask,
)

__all__ = ["InverseNet"]

_CONSTRAINTS = {
    "n_latent": [Integer(1)],
    "inner_steps": [Integer(1)],
    "inner_step_size": [Options("auto"), Real(0, closed="neither")],
    "head": [Options("linear", "identity")],
    "alpha": [Real(0)],
    "optimizer": [Options("adam", "sgd")],
    "learning_rate": [Real(0, closed="neither")],
    "max_iter": [Integer(1)],
    "gradient": [Options("closed_form", "unrolled")],
    "reconstruction_weight": [Real(0)],
    "batch_size": [None, Integer(1)],
    "step_gradient": [Boolean()],
    "normalize_generator": [Boolean()],
    "progress": [Boolean()],
}


class InverseNet(SoftmaxPredictions, ClassifierMixin, BaseEstimator):
    """Classify by inverting a learned linear generator.

    Parameters
    ----------
    n_latent : int, default=30
        k, the number of latent factors (columns of the generator). With
        ``head="identity"`` it must equal the number of classes.
    inner_steps : int, default=1000
        N, the gradient-descent steps of the inner inversion.
    inner_step_size : "auto" or float, default="auto"
        Step size of the inner inversion on each image's sum of squared
        errors. "auto" sets it to 0.5 / sigma_max(G)^2 at every outer
        iteration, which keeps the inner loop stable while G changes. A
        number must stay below 1 / sigma_max(G)^2 or the inner loop diverges
        (checked at the start and watched during training).
    head : {"linear", "identity"}, default="linear"
        The classifier F on z*: a learned affine map to the class logits, or
        z* itself (one latent per class, as in the original series).
    alpha : float, default=3e-4
        L2 penalty on the head's weights W (ignored by the identity head).
    optimizer : {"adam", "sgd"}, default="adam"
        The outer optimiser.
    learning_rate : float, default=0.01
        Its learning rate.
    max_iter : int, default=1000
        Outer iterations (optimiser updates).
    gradient : {"closed_form", "unrolled"}, default="closed_form"
        How the gradient through the inner solver is computed (see module
        docstring). Both give the same function and the same gradient.
    reconstruction_weight : float, default=0.0
        Weight of a reconstruction term in the outer loss: the mean squared
        error per observed pixel between each training image and G z*. With
        0 the generator only has to serve classification; with more it must
        also draw the images, which helps when pixels are missing.
    batch_size : int or None, default=None
        Images per outer iteration: None uses the whole training set every
        time; an integer draws a fresh random mini-batch of that size. The
        inner loss is per image, so mini-batches change nothing else.
    step_gradient : bool, default=False
        Whether the outer gradient flows through the automatic inner step
        size eta(G) = 0.5 / sigma_max(G)^2 (only with ``inner_step_size=
        "auto"``). By default eta is treated as a constant at every outer
        iteration (a stop-gradient), so the gradient is that of the N steps
        with eta held fixed, not of the whole map G -> z*(G) that predicts.
        True differentiates eta(G) as well (through the largest eigenvalue
        of G^T G), which gives the gradient of the function being trained.
        Chapter 4 compares the two.
    normalize_generator : bool, default=False
        Whether G is rescaled to sigma_max(G) = 1 at the start and after every
        optimiser step. With the automatic step size the model is unchanged
        by G -> G / s, W -> W / s (the codes scale by s, the logits do not)
        while the penalty alpha ||W||^2 falls by s^2, so without this the
        objective has no minimiser (its infimum lies at G -> 0). Fixing the
        scale removes that symmetry: eta = 0.5 at every iteration, and alpha
        is measured against codes of a fixed scale.
    random_state : int, RandomState or None, default=None
        Seeds the initial generator and head (and the mini-batches).
    progress : bool, default=False
        Show a tqdm progress bar during fit.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    generator_ : ndarray (n_features, n_latent), the learned G.
    initial_generator_ : ndarray (n_features, n_latent), the G training
        started from (randomly chosen training images, slightly perturbed).
    coef_, intercept_ : ndarray (n_latent, n_classes), (n_classes,), the head
        (identity and zeros for ``head="identity"``). In the book's column
        notation the logits are W z* + c, so ``coef_`` is W transposed (one
        image per row in the code: logits = Z @ coef_ + intercept_).
    inner_step_size_ : float, the inner step size used for prediction.
    loss_curve_ : list of float, the training objective at each iteration.
    n_iter_ : int
    n_features_in_ : int

    Missing pixels, given as NaN, are left out of the inner loss of their
    image: the generator fills them in.
    """

    def __init__(self, n_latent=30, inner_steps=1000, inner_step_size="auto", head="linear",
                 alpha=3e-4, optimizer="adam", learning_rate=0.01, max_iter=1000,
                 gradient="closed_form", reconstruction_weight=0.0, batch_size=None,
                 random_state=None, progress=False, step_gradient=False,
                 normalize_generator=False):
        self.n_latent = n_latent
        self.inner_steps = inner_steps
        self.inner_step_size = inner_step_size
        self.head = head
        self.alpha = alpha
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.gradient = gradient
        self.reconstruction_weight = reconstruction_weight
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress
        self.step_gradient = step_gradient
        self.normalize_generator = normalize_generator

    def __sklearn_tags__(self):
        """Declare that NaN (a missing pixel) is allowed in X."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- validation ---------------------------------------------------------------
    def _check_params(self):
        check_params(self, _CONSTRAINTS)
        if self.step_gradient and self.inner_step_size != "auto":
            raise ValueError(
                "step_gradient=True needs inner_step_size='auto': a fixed step size does not "
                "depend on G, so there is no gradient through it")

    # -- fitting --------------------------------------------------------------------
    def fit(self, X, y):
        """Learn the generator and the head.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Training images; NaN marks a missing pixel.
        y : array-like of shape (n,)
            Their labels.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For a bad setting or bad data, named in the message, or a fixed
            inner step size beyond the generator's stable bound.
        DivergenceError
            If the training loss stops being finite.
        """
        self._check_params()
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64,
                             ensure_min_samples=2)
        codes = encode_labels(self, y)
        rng = check_random_state(self.random_state)
        G0, W0, c0 = initial_parameters(self, X, len(self.classes_), rng)
        if self.normalize_generator:
            G0 = G0 / np.float32(np.linalg.norm(G0.astype(np.float64), 2))
        check_inner_stable(self.inner_step_size, tf.constant(G0))
        self.initial_generator_ = G0.copy()
        params = [tf.constant(v) for v in ((G0, W0, c0) if self.head == "linear" else (G0,))]
        with quiet_retracing():
            params = train(self, params, X, codes, rng)
        G = params[0]
        self.generator_ = G.numpy().copy()
        if self.head == "linear":
            self.coef_, self.intercept_ = params[1].numpy().copy(), params[2].numpy().copy()
        else:
            self.coef_, self.intercept_ = W0, c0
        self.n_iter_ = self.max_iter
        self.inner_step_size_ = float(inner_step_size(self, G))
        return self

    # -- prediction -------------------------------------------------------------------
    def invert(self, X):
        """Invert the generator on images: their latent codes z*.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Images; NaN marks a missing pixel.

        Returns
        -------
        ndarray of shape (n, n_latent)
            Computed in float64, so that an image's code does not depend on
            the other images inverted with it.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan",
                          dtype=np.float64)
        G = tf.constant(self.generator_, tf.float64)
        check_inner_stable(self.inner_step_size, G)
        X_zeroed, mask = zeroed_and_mask(X, tf.float64)
        return closed_form_inversion(G, X_zeroed, n_steps=self.inner_steps,
                                     step_size=self.inner_step_size_, mask=mask).numpy()

    def reconstruct(self, X):
        """Draw each image as the generator sees it, G z*, missing pixels filled.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Images; NaN marks a missing pixel.

        Returns
        -------
        ndarray of shape (n, m)
        """
        return self.invert(X) @ self.generator_.T

    def _logits(self, X):
        return self.invert(X) @ self.coef_ + self.intercept_
