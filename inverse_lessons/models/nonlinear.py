"""NonlinearInverseNet: a classifier that trains a nonlinear generator through its inversion.

The generator, its encoder and their inversion are
:mod:`inverse_lessons.models.decoder`'s. Two starts are offered: zero, and an
amortised *encoder*'s guess e(x), refined by the inner steps. Training
differentiates through the unrolled inner steps (second derivatives of the
decoder), as in chapter 4: :mod:`inverse_lessons.models.nonlinear_training`.
This module is the estimator.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from inverse_lessons._tf import tf
from inverse_lessons._validation import (
    Boolean,
    Integer,
    Options,
    Real,
    check_choice,
    check_int,
    check_params,
)
from inverse_lessons.models.base import SoftmaxPredictions, encode_labels
from inverse_lessons.models.decoder import (
    decoder_weights,
    dense_layer,
    descend,
    make_decoder,
    make_encoder,
    run_decoder,
    run_encoder,
)
from inverse_lessons.models.nonlinear_training import train

__all__ = ["NonlinearInverseNet"]

_CONSTRAINTS = {
    "n_latent": [Integer(1)],
    "hidden": [Integer(1)],
    "inner_steps": [Integer(1)],
    "inner_step_size": [Real(0, closed="neither")],
    "start": [Options("encoder", "zero")],
    "reconstruction_weight": [Real(0)],
    "alpha": [Real(0)],
    "learning_rate": [Real(0, closed="neither")],
    "max_iter": [Integer(1)],
    "batch_size": [None, Integer(1)],
    "progress": [Boolean()],
}


class NonlinearInverseNet(SoftmaxPredictions, ClassifierMixin, BaseEstimator):
    """Classify by inverting a learned nonlinear generator (a Keras decoder).

    z*(x) = ``inner_steps`` gradient steps on ||x - g(z)||^2 from ``start``,
    logits = W z* + c (in code, one image per row: Z W^T + c, the Keras
    kernel being W^T); trained on cross-entropy plus ``reconstruction_weight``
    times the mean squared reconstruction error, through the unrolled steps.

    Parameters
    ----------
    n_latent : int, default=10
        Latent dimensions of the generator.
    hidden : int, default=64
        Width of the decoder's and the encoder's hidden layer.
    inner_steps : int, default=20
        Gradient steps of the inversion.
    inner_step_size : float, default=0.05
        Their step size, on each image's sum of squared errors.
    start : {"encoder", "zero"}, default="encoder"
        Where the inversion starts: an amortised encoder's guess e(x),
        trained with the rest, or z = 0.
    reconstruction_weight : float, default=10.0
        Weight of the mean squared reconstruction error in the loss.
    alpha : float, default=1e-2
        L2 penalty on the head's weights.
    learning_rate : float, default=0.02
        Adam's learning rate.
    max_iter : int, default=100
        Iterations, one Adam step each.
    batch_size : int or None, default=250
        Images per iteration, drawn without replacement within an epoch;
        None or at least the number of images: full batches.
    random_state : int, RandomState or None, default=None
        Seeds the initial weights and the batches.
    progress : bool, default=False
        Show a tqdm progress bar during fit.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    decoder_, encoder_ : keras.Sequential
        The generator g and the encoder e (None for ``start="zero"``).
    head_ : keras.layers.Dense
        The head on the codes.
    loss_curve_ : list of float
        The training loss at each iteration.
    n_iter_ : int
    n_features_in_ : int

    Notes
    -----
    The budget (100 iterations of 250 images) is set by chapter 7's running
    time (its first page trains ten models at the defaults); the learning rate
    was chosen by 5-fold cross-validation on consecutive runs of the training
    split (``benchmarks/bench_nonlinear_budget.py``). Use :meth:`invert`,
    :meth:`decode` and :meth:`classify_codes` rather than the layers: they
    take the model's own step size and start.
    """

    def __init__(self, n_latent=10, hidden=64, inner_steps=20, inner_step_size=0.05,
                 start="encoder", reconstruction_weight=10.0, alpha=1e-2, learning_rate=0.02,
                 max_iter=100, batch_size=250, random_state=None, progress=False):
        self.n_latent = n_latent
        self.hidden = hidden
        self.inner_steps = inner_steps
        self.inner_step_size = inner_step_size
        self.start = start
        self.reconstruction_weight = reconstruction_weight
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress

    def fit(self, X, y):
        """Learn the decoder, the encoder and the head.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Training images.
        y : array-like of shape (n,)
            Their labels.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For a bad setting or bad data, named in the message.
        DivergenceError
            If the training loss stops being finite.
        """
        check_params(self, _CONSTRAINTS)
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        codes = encode_labels(self, y)
        train(self, X, codes, self._build_models(X.shape[1]))
        self.n_iter_ = self.max_iter
        return self

    def _build_models(self, n_pixels):
        """Make fresh decoder_, encoder_ and head_; return the seed drawn from random_state."""
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        self.decoder_ = make_decoder(self.n_latent, n_pixels, self.hidden, seed=seed)
        self.encoder_ = (make_encoder(self.n_latent, n_pixels, self.hidden, seed=seed + 2)
                         if self.start == "encoder" else None)
        self.head_ = dense_layer(len(self.classes_), None, seed + 4)
        self.head_.build((None, self.n_latent))
        return seed

    # -- prediction -------------------------------------------------------------------
    def invert(self, X, n_steps=None, start=None):
        """Invert the generator on images: their latent codes z*.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Images.
        n_steps : int or None
            Gradient steps (>= 0) of size ``inner_step_size``; None:
            ``inner_steps``, what the model predicts with. 0 returns the start.
        start : None, "encoder", "zero" or array-like of shape (n, n_latent)
            Where the steps start; None: the model's own ``start``.
            "encoder" needs a model fitted with ``start="encoder"``.

        Returns
        -------
        ndarray of shape (n, n_latent)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        n_steps = self.inner_steps if n_steps is None else check_int("n_steps", n_steps,
                                                                      minimum=0)
        # float64 (training runs in float32), so that an image's code does not depend,
        # even in the last float32 digit, on the other images inverted with it
        weights = decoder_weights(self.decoder_)
        X_t = tf.constant(X)
        return descend(X_t, _start_codes(self, X_t, start),
                        tf.constant(float(self.inner_step_size), tf.float64),
                        tf.constant(n_steps, tf.int32), tf.constant(0.0, tf.float64),
                        *weights).numpy()

    def decode(self, Z):
        """Draw images from codes, g(Z).

        Parameters
        ----------
        Z : array-like of shape (n, n_latent)
            Codes.

        Returns
        -------
        ndarray of shape (n, m)
        """
        check_is_fitted(self)
        weights = decoder_weights(self.decoder_)
        return run_decoder(tf.constant(np.asarray(Z, np.float64)), *weights).numpy()

    def classify_codes(self, Z):
        """Classify codes with the head.

        Parameters
        ----------
        Z : array-like of shape (n, n_latent)
            Codes.

        Returns
        -------
        ndarray of shape (n,)
            Labels from ``classes_``.
        """
        logits = self._code_logits(Z)   # first: it checks that the model is fitted
        return self.classes_[np.argmax(logits, axis=1)]

    def _code_logits(self, Z):
        check_is_fitted(self)
        kernel, bias = (np.asarray(w, np.float64) for w in self.head_.get_weights())
        return np.asarray(Z, np.float64) @ kernel + bias

    def reconstruct(self, X):
        """Draw each image as the generator sees it, g(z*).

        Parameters
        ----------
        X : array-like of shape (n, m)
            Images.

        Returns
        -------
        ndarray of shape (n, m)
        """
        return self.decode(self.invert(X))

    def _logits(self, X):
        return self._code_logits(self.invert(X))


def _start_codes(model, X, start):
    """Return where the inversion of images X (float64 tensor) starts, as :meth:`invert` says."""
    start = model.start if start is None else start
    if isinstance(start, str):
        check_choice("start", start, ("encoder", "zero"))
        if start == "zero":
            return tf.zeros((X.shape[0], model.n_latent), tf.float64)
        if model.encoder_ is None:
            raise ValueError("start='encoder' needs a model fitted with start='encoder'")
        return run_encoder(X, *decoder_weights(model.encoder_))
    start = np.asarray(start, dtype=np.float64)
    if start.shape != (X.shape[0], model.n_latent):
        raise ValueError(f"start must have shape ({X.shape[0]}, {model.n_latent}), "
                         f"got {start.shape}")
    return tf.constant(start)
