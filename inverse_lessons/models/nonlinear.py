"""NonlinearInverseNet: a classifier that trains a nonlinear generator through its inversion.

The generator, its encoder and their inversion are
:mod:`inverse_lessons.models.decoder`'s (re-exported here, as chapter 7 imports
them from this module). Two starts are offered: zero, and an amortised
*encoder*'s guess e(x), refined by the inner steps. Training differentiates
through the unrolled inner steps (second derivatives of the decoder), as in
chapter 4, in the shared :class:`~inverse_lessons.models.training.TrainingLoop`.
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
    invert_decoder,
    make_decoder,
    make_encoder,
    run_decoder,
    run_encoder,
)
from inverse_lessons.models.training import (
    TrainingLoop,
    optimiser_state,
    optimiser_update,
    training_diverged,
    training_loop,
)

__all__ = [ "NonlinearInverseNet", "batch_order"]

_DTYPE = tf.float32

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


def batch_order(n, batch_size, n_iter, rng):
    """Draw which images each training iteration uses, epoch by epoch.

    Each epoch is a fresh permutation of the n images, cut into n // b
    batches of b images; the last n mod b images of a permutation wait for
    the next epoch, so every batch has one size (one trace) and every image is
    drawn about equally often.

    Parameters
    ----------
    n : int
        Training images.
    batch_size : int or None
        b = min(batch_size, n); None: full batches.
    n_iter : int
        Iterations.
    rng : numpy.random.Generator
        Draws the permutations (unused for full batches).

    Returns
    -------
    ndarray of shape (n_iter, b), int
        Row i holds iteration i's images; for full batches every row is
        0, ..., n - 1.
    """
    b = n if batch_size is None else min(batch_size, n)
    if b == n:
        return np.tile(np.arange(n), (n_iter, 1))
    per_epoch = n // b
    epochs = -(-n_iter // per_epoch)
    order = np.concatenate([rng.permutation(n)[:per_epoch * b] for _ in range(epochs)])
    return order.reshape(-1, b)[:n_iter]


def _training_step(inner_steps):
    """Make the pure training step for :class:`TrainingLoop`, one per number of inner steps.

    The parameters are the decoder's (U^T, u, V^T, v), the head's (W^T, c) and
    the encoder's (A^T, a, B^T, b), in the order of the layers' ``get_weights()``.
    The batch is (X, labels, inner step size, reconstruction weight, alpha,
    from_encoder[, rows]). ``from_encoder`` (1 or 0) multiplies the encoder's
    guess; a zero-start fit passes all-zero encoder weights, whose guess and
    gradients are exactly zero, so its descent starts at z = 0 and its encoder
    stays at zero: both starts share one trace.
    """
    def step(params, state, batch):
        X, labels, step_size, weight, alpha, from_encoder, *rows = batch
        if rows:
            X, labels = tf.gather(X, rows[0]), tf.gather(labels, rows[0])
        with tf.GradientTape() as tape:
            tape.watch(params)
            U, u, V, v, W, c, *encoder = params
            initial = from_encoder * run_encoder(X, *encoder)
            Z = invert_decoder(lambda Z: run_decoder(Z, U, u, V, v), X, initial,
                               n_steps=inner_steps, step_size=step_size)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels, tf.add(tf.matmul(Z, W), c)))
            loss += weight * tf.reduce_mean(tf.square(X - run_decoder(Z, U, u, V, v)))
            loss += alpha * tf.reduce_sum(tf.square(W))
        params, state = optimiser_update(params, tape.gradient(loss, params), state)
        return loss, params, state

    return step


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
        seed = self._build_models(X.shape[1])
        batches = batch_order(X.shape[0], self.batch_size, self.max_iter,
                               np.random.default_rng(seed + 6))
        data = (tf.constant(X, _DTYPE), tf.constant(codes, tf.int32),
                *[tf.constant(float(v), _DTYPE) for v in
                  (self.inner_step_size, self.reconstruction_weight, self.alpha,
                   self.start == "encoder")])
        layers = [self.decoder_, self.head_] + ([self.encoder_] if self.encoder_ else [])
        params = [tf.constant(w) for layer in layers for w in layer.get_weights()]
        if self.encoder_ is None:   # zero weights: the encoder's guess is z = 0
            params += [tf.zeros_like(w) for w in
                       make_encoder(self.n_latent, X.shape[1], self.hidden).get_weights()]

        def diverged(i, loss):
            return training_diverged(
                i, loss, f"lower inner_step_size (now {self.inner_step_size:g}) or "
                "learning_rate", step_size=self.inner_step_size)

        loop = training_loop((type(self), self.inner_steps),
                             lambda: TrainingLoop(_training_step(self.inner_steps), _DTYPE))
        full = batches.shape[1] == X.shape[0]
        _, params, _ = loop.run(
            self, params, optimiser_state(params, self.learning_rate), data,
            n_steps=self.max_iter, diverged=diverged,
            per_step=None if full else lambda start, count: (batches[start:start + count],))
        self.n_iter_ = self.max_iter
        for layer in layers:
            n = len(layer.get_weights())
            layer.set_weights([p.numpy() for p in params[:n]])
            params = params[n:]
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
        # Prediction runs in float64 (training in float32), so that an image's code does
        # not depend, even in the last float32 digit, on the other images inverted with it;
        # the steps are invert_decoder's, run by the compiled _descend (same numbers, a
        # graph loop instead of one eager call per operation).
        weights = decoder_weights(self.decoder_)
        X_t = tf.constant(X)
        return descend(X_t, self._start_codes(X_t, start),
                        tf.constant(float(self.inner_step_size), tf.float64),
                        tf.constant(n_steps, tf.int32), tf.constant(0.0, tf.float64),
                        *weights).numpy()

    def _start_codes(self, X, start):
        start = self.start if start is None else start
        if isinstance(start, str):
            check_choice("start", start, ("encoder", "zero"))
            if start == "zero":
                return tf.zeros((X.shape[0], self.n_latent), tf.float64)
            if self.encoder_ is None:
                raise ValueError("start='encoder' needs a model fitted with start='encoder'")
            return run_encoder(X, *decoder_weights(self.encoder_))
        start = np.asarray(start, dtype=np.float64)
        if start.shape != (X.shape[0], self.n_latent):
            raise ValueError(f"start must have shape ({X.shape[0]}, {self.n_latent}), "
                             f"got {start.shape}")
        return tf.constant(start)

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
