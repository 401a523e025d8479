"""A nonlinear generator and its inversion (chapter 7).

The generator is a small Keras decoder, x = g(z) = sigmoid(V tanh(U z + u) + v),
so pixels stay in [0, 1]. Inverting it is no longer a convex problem: the
loss ||x - g(z)||^2 has negative curvature in places, so it may have several
minima, and it has flat directions along which gradient descent crawls; since
the units saturate and nothing penalises ||z||, it may even have no minimiser
at all, the codes drifting outward for ever. A prior term lambda ||z||^2
(``prior_weight``) makes the loss grow without bound in ||z||, so that it has one.
:func:`inversion_derivatives` (loss, gradient and Hessian per image) and
:func:`long_inversion` (thousands of compiled steps) let chapter 7 tell the
two apart. Two starts are offered: zero, and an amortised *encoder*'s guess
e(x), refined by the inner steps. Training
differentiates through the unrolled inner steps (second derivatives of the
decoder), as in chapter 4.
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
    check_positive,
)
from inverse_lessons.data import N_PIXELS
from inverse_lessons.inversion.solver import gradient_descent, gradient_of
from inverse_lessons.models.base import (
    SoftmaxPredictions,
    TrainingLoop,
    encode_labels,
    optimiser_state,
    optimiser_update,
    training_diverged,
    training_loop,
)

__all__ = ["make_decoder", "make_encoder", "invert_decoder", "inversion_derivatives",
           "long_inversion", "NonlinearInverseNet"]

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


def _dense(units, activation, seed, dtype="float32"):
    return tf.keras.layers.Dense(
        units, activation=activation, dtype=dtype,
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed))


def make_decoder(n_latent, n_pixels=N_PIXELS, hidden=64, seed=0, dtype="float32"):
    """The generator g: (batch, n_latent) -> (batch, n_pixels) in [0, 1]."""
    return tf.keras.Sequential([tf.keras.Input((n_latent,), dtype=dtype),
                                _dense(hidden, "tanh", seed, dtype),
                                _dense(n_pixels, "sigmoid", seed + 1, dtype)], name="decoder")


def make_encoder(n_latent, n_pixels=N_PIXELS, hidden=64, seed=0):
    """The amortised encoder e: (batch, n_pixels) -> (batch, n_latent), a first guess of z*."""
    return tf.keras.Sequential([tf.keras.Input((n_pixels,)), _dense(hidden, "tanh", seed),
                                _dense(n_latent, None, seed + 1)], name="encoder")


def invert_decoder(decoder, X, initial, *, n_steps, step_size):
    """N unrolled gradient steps on each image's loss sum_p (x_p - g(z)_p)^2.

    decoder : callable (batch, k) -> (batch, m); X : (n, m); initial : (n, k).
    Every step is recorded, so the result can be differentiated with respect
    to the decoder's weights and the start. Returns Z (n, k).
    """
    Z = tf.convert_to_tensor(initial)
    X = tf.convert_to_tensor(X, dtype=Z.dtype)
    gradient = gradient_of(lambda Z: tf.reduce_sum(tf.square(X - decoder(Z))))
    return gradient_descent(gradient, Z, step_size=step_size, n_steps=n_steps)


def _batch_order(n, batch_size, n_iter, rng):
    """Which images each of ``n_iter`` iterations trains on: an int array (n_iter, b).

    b = min(batch_size, n), or n for batch_size None (full batch: every row is
    0, ..., n-1). Otherwise each epoch is a fresh permutation of the n images drawn
    from ``rng`` (a numpy Generator), cut into n // b batches of b images; the last
    n mod b images of a permutation wait for the next epoch, so every batch has
    one size (one compilation) and every image is drawn about equally often.
    """
    b = n if batch_size is None else min(batch_size, n)
    if b == n:
        return np.tile(np.arange(n), (n_iter, 1))
    per_epoch = n // b
    epochs = -(-n_iter // per_epoch)
    order = np.concatenate([rng.permutation(n)[:per_epoch * b] for _ in range(epochs)])
    return order.reshape(-1, b)[:n_iter]


def _decoder_weights(decoder):
    """The weights (U^T, u, V^T, v) of a decoder made by :func:`make_decoder` (or of an
    encoder made by :func:`make_encoder`), as float64 tensors."""
    weights = decoder.get_weights()
    if len(weights) != 4 or [np.ndim(w) for w in weights] != [2, 1, 2, 1]:
        raise ValueError("decoder must be a two-layer decoder made by make_decoder")
    return [tf.constant(np.asarray(w, np.float64)) for w in weights]


def _encode(X, kernel_1, bias_1, kernel_2, bias_2):
    """e(X) = tanh(X A^T + a) B^T + b written out: the encoder's own operations."""
    hidden = tf.nn.tanh(tf.add(tf.matmul(X, kernel_1), bias_1))
    return tf.add(tf.matmul(hidden, kernel_2), bias_2)


def _decode(Z, kernel_1, bias_1, kernel_2, bias_2):
    """g(Z) = sigmoid(tanh(Z U^T + u) V^T + v) written out: the decoder's own operations."""
    hidden = tf.nn.tanh(tf.add(tf.matmul(Z, kernel_1), bias_1))
    return tf.nn.sigmoid(tf.add(tf.matmul(hidden, kernel_2), bias_2))


_MATRIX = tf.TensorSpec([None, None], tf.float64)
_VECTOR = tf.TensorSpec([None], tf.float64)
_WEIGHTS = [_MATRIX, _VECTOR, _MATRIX, _VECTOR]


def _check_codes(name, Z, n, k):
    Z = np.asarray(Z, dtype=np.float64)
    if Z.shape != (n, k):
        raise ValueError(f"{name} must have shape ({n}, {k}), got {Z.shape}")
    return Z


# Compiled once per process (the signatures fix dtypes, not sizes), so that no call of
# the functions below pays for tracing again.
_NUMBER = tf.TensorSpec([], tf.float64)


@tf.function(input_signature=[_MATRIX, _MATRIX, _NUMBER, *_WEIGHTS])
def _derivatives(X, Z, prior_weight, *weights):
    """(X, Z) -> (losses, gradients, Hessians) of every image's loss
    ||x - g(z)||^2 + prior_weight ||z||^2, float64."""
    with tf.GradientTape() as outer:
        outer.watch(Z)
        with tf.GradientTape() as inner:
            inner.watch(Z)
            losses = (tf.reduce_sum(tf.square(X - _decode(Z, *weights)), axis=1)
                      + prior_weight * tf.reduce_sum(tf.square(Z), axis=1))
        gradients = inner.gradient(losses, Z)
    return losses, gradients, outer.batch_jacobian(gradients, Z)


@tf.function(input_signature=[_MATRIX, _MATRIX, _NUMBER, *_WEIGHTS])
def _losses_and_gradients(X, Z, prior_weight, *weights):
    """(X, Z) -> (losses, gradients) of every image's loss, as in :func:`_derivatives`
    but without the Hessians (for :func:`long_inversion`, which needs no Hessian)."""
    with tf.GradientTape() as tape:
        tape.watch(Z)
        losses = (tf.reduce_sum(tf.square(X - _decode(Z, *weights)), axis=1)
                  + prior_weight * tf.reduce_sum(tf.square(Z), axis=1))
    return losses, tape.gradient(losses, Z)


def _descend_steps(X, Z, step_size, n_steps, prior_weight, *weights):
    """``n_steps`` gradient steps on sum ||x - g(z)||^2 + prior_weight ||z||^2 from Z,
    in a graph loop."""
    gradient = gradient_of(lambda Z: tf.reduce_sum(tf.square(X - _decode(Z, *weights)))
                           + prior_weight * tf.reduce_sum(tf.square(Z)))
    for _ in tf.range(n_steps):
        Z = Z - step_size * gradient(Z)
    return Z


_DESCEND_SIGNATURE = [_MATRIX, _MATRIX, _NUMBER, tf.TensorSpec([], tf.int32), _NUMBER,
                      *_WEIGHTS]
# Run by TensorFlow's graph executor: for predictions, whose batch sizes vary.
_descend = tf.function(_descend_steps, input_signature=_DESCEND_SIGNATURE)
# Compiled by XLA, once per batch size (about 0.2 s), its loop then fused into a few
# kernels: for the thousands of steps of long_inversion, about half the time and a
# third of the computation of the graph loop at 3000 steps on 200 codes.
_descend_xla = tf.function(_descend_steps, input_signature=_DESCEND_SIGNATURE,
                           jit_compile=True)


def inversion_derivatives(decoder, X, Z, *, prior_weight=0.0):
    """Each image's inversion loss L(z) = ||x - g(z)||^2, its gradient and its Hessian.

    decoder : made by :func:`make_decoder`, g: (batch, k) -> (batch, m);
    X : (n, m) images; Z : (n, k) codes, one per image. Computed in float64.
    prior_weight : lambda >= 0 adds lambda ||z||^2 to each loss: with a prior
    z ~ N(0, I) and Gaussian pixel noise of variance lambda, the loss is
    2 lambda times the negative log posterior of z, up to a constant. The
    gradient gains 2 lambda z and the Hessian 2 lambda I.
    Returns (losses (n,), gradients (n, k), Hessians (n, k, k)): image i's
    loss depends on row i of Z only, so its Hessian is one k x k block.
    """
    prior_weight = check_positive("prior_weight", prior_weight, allow_zero=True)
    weights = _decoder_weights(decoder)
    X = np.asarray(X, dtype=np.float64)
    Z = _check_codes("Z", Z, X.shape[0], weights[0].shape[0])
    return tuple(a.numpy() for a in _derivatives(
        tf.constant(X), tf.constant(Z), tf.constant(prior_weight, tf.float64), *weights))


def long_inversion(decoder, X, initial, *, step_size, n_steps, prior_weight=0.0):
    """Many gradient steps on each image's loss L(z) = ||x - g(z)||^2, compiled, in float64.

    The same steps as :func:`invert_decoder`, without recording them (no
    gradient back through them), so that thousands of steps are cheap: for
    asking where the descent is going rather than for training.
    decoder : made by :func:`make_decoder`; X : (n, m); initial : (n, k).
    prior_weight : lambda >= 0 descends L(z) + lambda ||z||^2 instead (see
    :func:`inversion_derivatives`); with lambda > 0 the loss grows without
    bound as ||z|| does, so it has a minimiser.
    Returns (Z (n, k), losses (n,), gradient norms (n,)) after ``n_steps``,
    losses and gradients those of the loss descended.
    """
    n_steps = check_int("n_steps", n_steps, minimum=0)
    step_size = check_positive("step_size", step_size)
    prior_weight = check_positive("prior_weight", prior_weight, allow_zero=True)
    weights = _decoder_weights(decoder)
    X = np.asarray(X, dtype=np.float64)
    Z = _check_codes("initial", initial, X.shape[0], weights[0].shape[0])
    X, prior_weight = tf.constant(X), tf.constant(prior_weight, tf.float64)
    Z = _descend_xla(X, tf.constant(Z), tf.constant(step_size, tf.float64),
                     tf.constant(n_steps, tf.int32), prior_weight, *weights)
    losses, gradients = _losses_and_gradients(X, Z, prior_weight, *weights)
    return Z.numpy(), losses.numpy(), np.linalg.norm(gradients.numpy(), axis=1)


def _training_step(inner_steps):
    """The pure training step for :class:`TrainingLoop`, one per number of inner steps.

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
            initial = from_encoder * _encode(X, *encoder)
            Z = invert_decoder(lambda Z: _decode(Z, U, u, V, v), X, initial,
                               n_steps=inner_steps, step_size=step_size)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels, tf.add(tf.matmul(Z, W), c)))
            loss += weight * tf.reduce_mean(tf.square(X - _decode(Z, U, u, V, v)))
            loss += alpha * tf.reduce_sum(tf.square(W))
        params, state = optimiser_update(params, tape.gradient(loss, params), state)
        return loss, params, state

    return step


class NonlinearInverseNet(SoftmaxPredictions, ClassifierMixin, BaseEstimator):
    """Classification by inverting a learned nonlinear generator (a Keras decoder).

    z*(x) = ``inner_steps`` gradient steps on ||x - g(z)||^2 from ``start``,
    logits = W z* + c (in code, one image per row: Z W^T + c, the Keras
    kernel being W^T); trained on cross-entropy plus ``reconstruction_weight``
    times the mean squared reconstruction error, through the unrolled steps.

    Parameters: n_latent (10), hidden (64, decoder and encoder width),
    inner_steps (20), inner_step_size (0.05), start ("encoder" or "zero"),
    reconstruction_weight (10.0), alpha (1e-2, L2 penalty on the head),
    learning_rate (0.02, Adam), max_iter (100 iterations, one Adam step each),
    batch_size (250 images per iteration, drawn without replacement within an
    epoch, see :func:`_batch_order`; None or at least the number of images:
    full batch), random_state, progress (False; True shows a tqdm bar).

    The budget (100 iterations of 250 images) is set by chapter 7's running
    time (its first page trains ten models at the defaults). The learning rate
    0.02 was chosen by 5-fold cross-validation on consecutive runs of the
    training split (``benchmarks/bench_nonlinear_budget.py``) with full
    batches; there, batches of 250 at that rate scored as high as full batches
    on both seeds tried, at a quarter of the computation per iteration; the
    earlier default (0.005, 500 full-batch iterations) scored at most 0.002
    higher, at twenty times the computation, and 200 iterations of 250 scored
    higher on one seed and lower on the other.

    Attributes: classes_, decoder_, encoder_ (None for start="zero"),
    head_ (Keras layer), loss_curve_, n_iter_, n_features_in_. Use
    :meth:`invert`, :meth:`decode` and :meth:`classify_codes` rather than
    these layers: they take the model's own step size and start.
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
        """Learn decoder, encoder and head from images X (n, m) and labels y. Returns self."""
        check_params(self, _CONSTRAINTS)
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        codes = encode_labels(self, y)
        seed = self._build_models(X.shape[1])
        batches = _batch_order(X.shape[0], self.batch_size, self.max_iter,
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
        """Fresh decoder_, encoder_ and head_, their initial weights seeded by random_state;
        returns the seed drawn from it."""
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        self.decoder_ = make_decoder(self.n_latent, n_pixels, self.hidden, seed=seed)
        self.encoder_ = (make_encoder(self.n_latent, n_pixels, self.hidden, seed=seed + 2)
                         if self.start == "encoder" else None)
        self.head_ = _dense(len(self.classes_), None, seed + 4)
        self.head_.build((None, self.n_latent))
        return seed

    # -- prediction -------------------------------------------------------------------
    def invert(self, X, n_steps=None, start=None):
        """The latent codes z* of images X (n, m): an array (n, n_latent).

        n_steps : int >= 0 or None
            Gradient steps of size ``inner_step_size``; None: ``inner_steps``,
            what the model predicts with. 0 returns the start.
        start : None, "encoder", "zero" or an array (n, n_latent)
            Where the steps start; None: the model's own ``start``.
            "encoder" needs a model fitted with ``start="encoder"``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        n_steps = self.inner_steps if n_steps is None else check_int("n_steps", n_steps,
                                                                      minimum=0)
        # Prediction runs in float64 (training in float32), so that an image's code does
        # not depend, even in the last float32 digit, on the other images inverted with it;
        # the steps are invert_decoder's, run by the compiled _descend (same numbers, a
        # graph loop instead of one eager call per operation).
        weights = _decoder_weights(self.decoder_)
        X_t = tf.constant(X)
        return _descend(X_t, self._start_codes(X_t, start),
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
            return _encode(X, *_decoder_weights(self.encoder_))
        start = np.asarray(start, dtype=np.float64)
        if start.shape != (X.shape[0], self.n_latent):
            raise ValueError(f"start must have shape ({X.shape[0]}, {self.n_latent}), "
                             f"got {start.shape}")
        return tf.constant(start)

    def decode(self, Z):
        """g(Z): the generator's drawing of codes Z (n, n_latent), an array (n, m)."""
        check_is_fitted(self)
        weights = _decoder_weights(self.decoder_)
        return _decode(tf.constant(np.asarray(Z, np.float64)), *weights).numpy()

    def classify_codes(self, Z):
        """The head's class for each code of Z (n, n_latent): labels (n,)."""
        logits = self._code_logits(Z)   # first: it checks that the model is fitted
        return self.classes_[np.argmax(logits, axis=1)]

    def _code_logits(self, Z):
        check_is_fitted(self)
        kernel, bias = (np.asarray(w, np.float64) for w in self.head_.get_weights())
        return np.asarray(Z, np.float64) @ kernel + bias

    def reconstruct(self, X):
        """g(z*): the generator's drawing of each image (n, m)."""
        return self.decode(self.invert(X))

    def _logits(self, X):
        return self._code_logits(self.invert(X))
