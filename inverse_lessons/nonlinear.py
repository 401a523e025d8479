"""A nonlinear generator and its inversion (chapter 7).

The generator is a small Keras decoder, x = g(z) = sigmoid(V tanh(U z + u) + v),
so pixels stay in [0, 1]. Inverting it is no longer a convex problem: the
loss ||x - g(z)||^2 has negative curvature in places, so it may have several
minima, and it has flat directions along which gradient descent crawls.
:func:`inversion_derivatives` (loss, gradient and Hessian per image) and
:func:`long_inversion` (thousands of compiled steps) let chapter 7 tell the
two apart. Three starts are offered: zero, the best of several random starts,
and an amortised *encoder*'s guess e(x), refined by the inner steps. Training
differentiates through the unrolled inner steps (second derivatives of the
decoder), as in chapter 4.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from ._tf import tf
from ._validation import check_choice, check_int, check_positive
from .inverse_net import SoftmaxPredictions
from .solver import DivergenceError

__all__ = ["make_decoder", "make_encoder", "invert_decoder", "multi_start_inversion",
           "inversion_derivatives", "long_inversion", "loss_along_line",
           "NonlinearInverseNet"]

_DTYPE = tf.float32


def _dense(units, activation, seed, dtype="float32"):
    return tf.keras.layers.Dense(
        units, activation=activation, dtype=dtype,
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed))


def make_decoder(n_latent, n_pixels=64, hidden=64, seed=0, dtype="float32"):
    """The generator g: (batch, n_latent) -> (batch, n_pixels) in [0, 1]."""
    return tf.keras.Sequential([tf.keras.Input((n_latent,), dtype=dtype),
                                _dense(hidden, "tanh", seed, dtype),
                                _dense(n_pixels, "sigmoid", seed + 1, dtype)], name="decoder")


def make_encoder(n_latent, n_pixels=64, hidden=64, seed=0):
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
    for _ in range(n_steps):
        with tf.GradientTape() as tape:
            tape.watch(Z)
            loss = tf.reduce_sum(tf.square(X - decoder(Z)))
        Z = Z - step_size * tape.gradient(loss, Z)
    return Z


def multi_start_inversion(decoder, X, *, n_latent, n_starts, n_steps, step_size, scale=1.0,
                          seed=0):
    """Invert from ``n_starts`` random starts per image and keep the best.

    Starts are drawn from N(0, scale^2). Returns (Z (n, k) of the lowest final
    loss per image, losses (n_starts, n) of every start).
    """
    X = tf.convert_to_tensor(X, dtype=_DTYPE)
    rng = np.random.default_rng(seed)
    finals, losses = [], []
    for _ in range(n_starts):
        start = tf.constant(scale * rng.standard_normal((X.shape[0], n_latent)), _DTYPE)
        Z = invert_decoder(decoder, X, start, n_steps=n_steps, step_size=step_size)
        finals.append(Z.numpy())
        losses.append(tf.reduce_sum(tf.square(X - decoder(Z)), axis=1).numpy())
    losses = np.stack(losses)
    best = np.argmin(losses, axis=0)
    return np.stack(finals)[best, np.arange(X.shape[0])], losses


def _float64_decoder(decoder):
    """A float64 copy of a decoder made by :func:`make_decoder` (same weights)."""
    kernels = [w for w in decoder.weights if len(w.shape) == 2]
    if len(kernels) != 2:
        raise ValueError("decoder must be a two-layer decoder made by make_decoder")
    (n_latent, hidden), (_, n_pixels) = kernels[0].shape, kernels[1].shape
    copy = make_decoder(n_latent, n_pixels, hidden, dtype="float64")
    copy.set_weights([np.asarray(w, np.float64) for w in decoder.get_weights()])
    return copy


def _check_codes(name, Z, n, k):
    Z = np.asarray(Z, dtype=np.float64)
    if Z.shape != (n, k):
        raise ValueError(f"{name} must have shape ({n}, {k}), got {Z.shape}")
    return Z


def _derivatives(decoder64):
    """A compiled (X, Z) -> (losses, gradients, Hessians) for a float64 decoder."""
    spec = tf.TensorSpec([None, None], tf.float64)

    @tf.function(input_signature=[spec, spec])
    def derivatives(X, Z):
        with tf.GradientTape() as outer:
            outer.watch(Z)
            with tf.GradientTape() as inner:
                inner.watch(Z)
                losses = tf.reduce_sum(tf.square(X - decoder64(Z)), axis=1)
            gradients = inner.gradient(losses, Z)
        return losses, gradients, outer.batch_jacobian(gradients, Z)

    return derivatives


def inversion_derivatives(decoder, X, Z):
    """Each image's inversion loss L(z) = ||x - g(z)||^2, its gradient and its Hessian.

    decoder : made by :func:`make_decoder`, g: (batch, k) -> (batch, m);
    X : (n, m) images; Z : (n, k) codes, one per image. Computed in float64.
    Returns (losses (n,), gradients (n, k), Hessians (n, k, k)): image i's
    loss depends on row i of Z only, so its Hessian is one k x k block.
    """
    decoder = _float64_decoder(decoder)
    X = np.asarray(X, dtype=np.float64)
    Z = _check_codes("Z", Z, X.shape[0], decoder.input_shape[-1])
    return tuple(a.numpy() for a in _derivatives(decoder)(tf.constant(X), tf.constant(Z)))


def long_inversion(decoder, X, initial, *, step_size, n_steps):
    """Many gradient steps on each image's loss L(z) = ||x - g(z)||^2, compiled, in float64.

    The same steps as :func:`invert_decoder`, without recording them (no
    gradient back through them), so that thousands of steps are cheap: for
    asking where the descent is going rather than for training.
    decoder : made by :func:`make_decoder`; X : (n, m); initial : (n, k).
    Returns (Z (n, k), losses (n,), gradient norms (n,)) after ``n_steps``.
    """
    n_steps = check_int("n_steps", n_steps, minimum=0)
    step_size = check_positive("step_size", step_size)
    decoder64 = _float64_decoder(decoder)
    X = np.asarray(X, dtype=np.float64)
    Z = _check_codes("initial", initial, X.shape[0], decoder64.input_shape[-1])
    X_t = tf.constant(X)

    @tf.function
    def descend(Z):
        for _ in tf.range(n_steps):
            with tf.GradientTape() as tape:
                tape.watch(Z)
                loss = tf.reduce_sum(tf.square(X_t - decoder64(Z)))
            Z = Z - step_size * tape.gradient(loss, Z)
        return Z

    Z = descend(tf.constant(Z)).numpy()
    losses, gradients, _ = inversion_derivatives(decoder64, X, Z)
    return Z, losses, np.linalg.norm(gradients, axis=1)


def loss_along_line(decoder, x, z_a, z_b, ts):
    """The loss ||x - g(z)||^2 at z = (1 - t) z_a + t z_b for each t in ``ts``.

    x : one image (m,); z_a, z_b : two codes (k,); ts : (T,). Returns (T,).
    A convex loss never rises above max(L(z_a), L(z_b)) on this segment.
    """
    ts = np.asarray(ts, dtype=np.float64).reshape(-1, 1)
    z_a = np.asarray(z_a, dtype=np.float64).reshape(1, -1)
    z_b = np.asarray(z_b, dtype=np.float64).reshape(1, -1)
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b must have the same shape, got {z_a.shape} and "
                         f"{z_b.shape}")
    Z = (1 - ts) * z_a + ts * z_b
    X = np.broadcast_to(np.asarray(x, dtype=np.float64).reshape(1, -1),
                        (len(ts), np.size(x)))
    return inversion_derivatives(decoder, X, Z)[0]


class NonlinearInverseNet(SoftmaxPredictions, ClassifierMixin, BaseEstimator):
    """Classification by inverting a learned nonlinear generator (a Keras decoder).

    z*(x) = ``inner_steps`` gradient steps on ||x - g(z)||^2 from ``start``,
    logits = W z* + c (in code, one image per row: Z W^T + c, the Keras
    kernel being W^T); trained on cross-entropy plus ``reconstruction_weight``
    times the mean squared reconstruction error, through the unrolled steps.

    Parameters: n_latent (10), hidden (64, decoder and encoder width),
    inner_steps (20), inner_step_size (0.05), start ("encoder" or "zero"),
    reconstruction_weight (10.0), alpha (1e-2, L2 penalty on the head),
    learning_rate (0.005, Adam), max_iter (500 full-batch iterations),
    random_state, progress (tqdm bar).

    Attributes: classes_, decoder_, encoder_ (None for start="zero"),
    head_ (Keras layer), loss_curve_, n_iter_, n_features_in_.
    """

    def __init__(self, n_latent=10, hidden=64, inner_steps=20, inner_step_size=0.05,
                 start="encoder", reconstruction_weight=10.0, alpha=1e-2, learning_rate=0.005,
                 max_iter=500, random_state=None, progress=True):
        self.n_latent = n_latent
        self.hidden = hidden
        self.inner_steps = inner_steps
        self.inner_step_size = inner_step_size
        self.start = start
        self.reconstruction_weight = reconstruction_weight
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.random_state = random_state
        self.progress = progress

    def _check_params(self):
        for name in ("n_latent", "hidden", "inner_steps", "max_iter"):
            check_int(name, getattr(self, name))
        check_positive("inner_step_size", self.inner_step_size)
        check_positive("learning_rate", self.learning_rate)
        check_positive("alpha", self.alpha, allow_zero=True)
        check_positive("reconstruction_weight", self.reconstruction_weight, allow_zero=True)
        check_choice("start", self.start, ("encoder", "zero"))

    def _initial(self, X):
        if self.start == "encoder":
            return self.encoder_(X)
        return tf.zeros((tf.shape(X)[0], self.n_latent), _DTYPE)

    def _latents(self, X):
        return invert_decoder(self.decoder_, X, self._initial(X), n_steps=self.inner_steps,
                              step_size=self.inner_step_size)

    def fit(self, X, y):
        """Learn decoder, encoder and head from images X (n, m) and labels y. Returns self."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"NonlinearInverseNet needs at least two classes in y; got one: "
                             f"{self.classes_[0]!r}")
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        m = X.shape[1]
        self.decoder_ = make_decoder(self.n_latent, m, self.hidden, seed=seed)
        self.encoder_ = (make_encoder(self.n_latent, m, self.hidden, seed=seed + 2)
                         if self.start == "encoder" else None)
        self.head_ = _dense(len(self.classes_), None, seed + 4)
        self.head_.build((None, self.n_latent))
        variables = (self.decoder_.trainable_variables + self.head_.trainable_variables
                     + (self.encoder_.trainable_variables if self.encoder_ else []))
        optimizer = tf.keras.optimizers.Adam(self.learning_rate)
        X_t = tf.constant(X, _DTYPE)
        labels = tf.constant(encoder.transform(y), tf.int32)
        weight, alpha = float(self.reconstruction_weight), float(self.alpha)

        @tf.function
        def update():
            with tf.GradientTape() as tape:
                Z = self._latents(X_t)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels, self.head_(Z)))
                loss += weight * tf.reduce_mean(tf.square(X_t - self.decoder_(Z)))
                loss += alpha * tf.reduce_sum(tf.square(self.head_.kernel))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        self.loss_curve_ = []
        for i in tqdm(range(self.max_iter), disable=not self.progress,
                      desc="NonlinearInverseNet", unit="it", leave=False):
            loss = float(update())
            if not math.isfinite(loss):
                raise DivergenceError(
                    f"training diverged at iteration {i}: the loss is {loss}; lower "
                    f"inner_step_size (now {self.inner_step_size:g}) or learning_rate",
                    step_size=self.inner_step_size, stable_step_size=None)
            self.loss_curve_.append(loss)
        self.n_iter_ = self.max_iter
        return self

    def invert(self, X):
        """The latent codes z* of images X (n, m): an array (n, n_latent)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._latents(tf.constant(X, _DTYPE)).numpy()

    def reconstruct(self, X):
        """g(z*): the generator's drawing of each image (n, m)."""
        return self.decoder_(tf.constant(self.invert(X), _DTYPE)).numpy()

    def _logits(self, X):
        return self.head_(tf.constant(self.invert(X), _DTYPE)).numpy()

    def decision_function(self, X):
        """Class logits (n, n_classes)."""
        return self._logits(X)
