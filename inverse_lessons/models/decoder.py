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
two apart. :class:`~inverse_lessons.models.nonlinear.NonlinearInverseNet` is the
classifier that trains such a generator through its inversion.
"""

from __future__ import annotations

import numpy as np

from inverse_lessons._tf import tf
from inverse_lessons._validation import check_int, check_positive
from inverse_lessons.data import N_PIXELS
from inverse_lessons.inversion.solver import gradient_descent, gradient_of

__all__ = ["decoder_weights", "dense_layer", "descend", "inversion_derivatives",
           "invert_decoder", "long_inversion", "make_decoder", "make_encoder", "run_decoder",
           "run_encoder"]


def dense_layer(units, activation, seed, dtype="float32"):
    """Make a dense Keras layer with seeded Glorot-uniform initial weights.

    Parameters
    ----------
    units : int
        Output width.
    activation : str or None
        Keras activation.
    seed : int
        Seeds the kernel's initial values.
    dtype : str
        The layer's dtype.

    Returns
    -------
    keras.layers.Dense
    """
    return tf.keras.layers.Dense(
        units, activation=activation, dtype=dtype,
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed))


def make_decoder(n_latent, n_pixels=N_PIXELS, hidden=64, seed=0, dtype="float32"):
    """Make the generator g(z) = sigmoid(V tanh(U z + u) + v), pixels in [0, 1].

    Parameters
    ----------
    n_latent : int
        Latent dimensions.
    n_pixels : int
        Pixels per image.
    hidden : int
        Hidden units.
    seed : int
        Seeds the initial weights (``seed`` and ``seed + 1``).
    dtype : str
        The layers' dtype.

    Returns
    -------
    keras.Sequential
        (batch, n_latent) -> (batch, n_pixels).
    """
    return tf.keras.Sequential([tf.keras.Input((n_latent,), dtype=dtype),
                                dense_layer(hidden, "tanh", seed, dtype),
                                dense_layer(n_pixels, "sigmoid", seed + 1, dtype)], name="decoder")


def make_encoder(n_latent, n_pixels=N_PIXELS, hidden=64, seed=0):
    """Make the amortised encoder e(x) = B tanh(A x + a) + b, a first guess of z*.

    Parameters
    ----------
    n_latent : int
        Latent dimensions.
    n_pixels : int
        Pixels per image.
    hidden : int
        Hidden units.
    seed : int
        Seeds the initial weights (``seed`` and ``seed + 1``).

    Returns
    -------
    keras.Sequential
        (batch, n_pixels) -> (batch, n_latent).
    """
    return tf.keras.Sequential([tf.keras.Input((n_pixels,)), dense_layer(hidden, "tanh", seed),
                                dense_layer(n_latent, None, seed + 1)], name="encoder")


def invert_decoder(decoder, X, initial, *, n_steps, step_size):
    """Invert a decoder by N unrolled gradient steps on each image's sum_p (x_p - g(z)_p)^2.

    Every step is recorded, so the result can be differentiated with respect
    to the decoder's weights and the start.

    Parameters
    ----------
    decoder : callable
        g, (batch, k) -> (batch, m).
    X : tensor or array of shape (n, m)
        Images.
    initial : tensor or array of shape (n, k)
        The start.
    n_steps : int
        N.
    step_size : float or scalar tensor
        The step size.

    Returns
    -------
    tensor of shape (n, k)
        The codes after N steps.
    """
    Z = tf.convert_to_tensor(initial)
    X = tf.convert_to_tensor(X, dtype=Z.dtype)
    gradient = gradient_of(lambda Z: tf.reduce_sum(tf.square(X - decoder(Z))))
    return gradient_descent(gradient, Z, step_size=step_size, n_steps=n_steps)


def decoder_weights(decoder):
    """Return the weights (U^T, u, V^T, v) of a decoder (or encoder) as float64 tensors.

    Parameters
    ----------
    decoder : keras.Sequential
        Made by :func:`make_decoder` or :func:`make_encoder`.

    Returns
    -------
    list of four tensors
        In the order of ``get_weights()``.

    Raises
    ------
    ValueError
        If the model is not a two-layer decoder or encoder.
    """
    weights = decoder.get_weights()
    if len(weights) != 4 or [np.ndim(w) for w in weights] != [2, 1, 2, 1]:
        raise ValueError("decoder must be a two-layer decoder made by make_decoder")
    return [tf.constant(np.asarray(w, np.float64)) for w in weights]


def run_encoder(X, kernel_1, bias_1, kernel_2, bias_2):
    """Compute e(X) = tanh(X A^T + a) B^T + b, the encoder's own operations written out.

    Parameters
    ----------
    X : tensor of shape (n, m)
        Images.
    kernel_1, bias_1, kernel_2, bias_2 : tensors
        The weights, as :func:`decoder_weights` returns them.

    Returns
    -------
    tensor of shape (n, k)
    """
    hidden = tf.nn.tanh(tf.add(tf.matmul(X, kernel_1), bias_1))
    return tf.add(tf.matmul(hidden, kernel_2), bias_2)


def run_decoder(Z, kernel_1, bias_1, kernel_2, bias_2):
    """Compute g(Z) = sigmoid(tanh(Z U^T + u) V^T + v), the decoder's operations written out.

    Parameters
    ----------
    Z : tensor of shape (n, k)
        Codes.
    kernel_1, bias_1, kernel_2, bias_2 : tensors
        The weights, as :func:`decoder_weights` returns them.

    Returns
    -------
    tensor of shape (n, m)
    """
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
    """Return the losses, gradients and Hessians of ||x - g(z)||^2 + lambda ||z||^2."""
    with tf.GradientTape() as outer:
        outer.watch(Z)
        with tf.GradientTape() as inner:
            inner.watch(Z)
            losses = (tf.reduce_sum(tf.square(X - run_decoder(Z, *weights)), axis=1)
                      + prior_weight * tf.reduce_sum(tf.square(Z), axis=1))
        gradients = inner.gradient(losses, Z)
    return losses, gradients, outer.batch_jacobian(gradients, Z)


@tf.function(input_signature=[_MATRIX, _MATRIX, _NUMBER, *_WEIGHTS])
def _losses_and_gradients(X, Z, prior_weight, *weights):
    """Return the losses and gradients of :func:`_derivatives`, without the Hessians."""
    with tf.GradientTape() as tape:
        tape.watch(Z)
        losses = (tf.reduce_sum(tf.square(X - run_decoder(Z, *weights)), axis=1)
                  + prior_weight * tf.reduce_sum(tf.square(Z), axis=1))
    return losses, tape.gradient(losses, Z)


def _descend_steps(X, Z, step_size, n_steps, prior_weight, *weights):
    """Take ``n_steps`` gradient steps on sum ||x - g(z)||^2 + lambda ||z||^2, a graph loop.

    Parameters
    ----------
    X, Z : float64 tensors of shape (n, m), (n, k)
        Images and the start.
    step_size : float64 scalar tensor
    n_steps : int32 scalar tensor
    prior_weight : float64 scalar tensor
        lambda.
    *weights : float64 tensors
        The decoder's, as :func:`decoder_weights` returns them.

    Returns
    -------
    tensor of shape (n, k)
        The codes after the steps.
    """
    gradient = gradient_of(lambda Z: tf.reduce_sum(tf.square(X - run_decoder(Z, *weights)))
                           + prior_weight * tf.reduce_sum(tf.square(Z)))
    # n_steps is a tensor: traced, gradient_descent's loop becomes one graph loop
    return gradient_descent(gradient, Z, step_size=step_size, n_steps=n_steps)


_DESCEND_SIGNATURE = [_MATRIX, _MATRIX, _NUMBER, tf.TensorSpec([], tf.int32), _NUMBER,
                      *_WEIGHTS]
# Run by TensorFlow's graph executor: for predictions, whose batch sizes vary.
descend = tf.function(_descend_steps, input_signature=_DESCEND_SIGNATURE)
# Compiled by XLA, once per batch size, its loop then fused into a few kernels: for
# the thousands of steps of long_inversion, where the compilation pays for itself.
_descend_xla = tf.function(_descend_steps, input_signature=_DESCEND_SIGNATURE,
                           jit_compile=True)


def inversion_derivatives(decoder, X, Z, *, prior_weight=0.0):
    """Compute each image's inversion loss L(z) = ||x - g(z)||^2, gradient and Hessian.

    Computed in float64. Image i's loss depends on row i of Z only, so its
    Hessian is one k x k block.

    Parameters
    ----------
    decoder : keras.Sequential
        Made by :func:`make_decoder`.
    X : array-like of shape (n, m)
        Images.
    Z : array-like of shape (n, k)
        Codes, one per image.
    prior_weight : float, default=0.0
        lambda >= 0 adds lambda ||z||^2 to each loss: with a prior z ~ N(0, I)
        and Gaussian pixel noise of variance lambda, the loss is 2 lambda
        times the negative log posterior of z, up to a constant. The gradient
        gains 2 lambda z and the Hessian 2 lambda I.

    Returns
    -------
    losses : ndarray of shape (n,)
    gradients : ndarray of shape (n, k)
    hessians : ndarray of shape (n, k, k)

    Raises
    ------
    ValueError
        If Z's shape does not match, the decoder is not made by
        :func:`make_decoder`, or ``prior_weight`` is negative.
    TypeError
        If ``prior_weight`` is not a number.
    """
    prior_weight = check_positive("prior_weight", prior_weight, allow_zero=True)
    weights = decoder_weights(decoder)
    X = np.asarray(X, dtype=np.float64)
    Z = _check_codes("Z", Z, X.shape[0], weights[0].shape[0])
    return tuple(a.numpy() for a in _derivatives(
        tf.constant(X), tf.constant(Z), tf.constant(prior_weight, tf.float64), *weights))


def long_inversion(decoder, X, initial, *, step_size, n_steps, prior_weight=0.0):
    """Take many gradient steps on each image's loss L(z) = ||x - g(z)||^2, in float64.

    The same steps as :func:`invert_decoder`, compiled and without recording
    them (no gradient back through them), so that thousands of steps are
    cheap: for asking where the descent is going rather than for training.

    Parameters
    ----------
    decoder : keras.Sequential
        Made by :func:`make_decoder`.
    X : array-like of shape (n, m)
        Images.
    initial : array-like of shape (n, k)
        The start.
    step_size : float
        The step size.
    n_steps : int
        Steps, >= 0.
    prior_weight : float, default=0.0
        lambda >= 0 descends L(z) + lambda ||z||^2 instead (see
        :func:`inversion_derivatives`); with lambda > 0 the loss grows without
        bound as ||z|| does, so it has a minimiser.

    Returns
    -------
    Z : ndarray of shape (n, k)
        The codes after ``n_steps``.
    losses : ndarray of shape (n,)
    gradient_norms : ndarray of shape (n,)
        Of the loss descended.

    Raises
    ------
    ValueError, TypeError
        For a bad argument, named in the message.
    """
    n_steps = check_int("n_steps", n_steps, minimum=0)
    step_size = check_positive("step_size", step_size)
    prior_weight = check_positive("prior_weight", prior_weight, allow_zero=True)
    weights = decoder_weights(decoder)
    X = np.asarray(X, dtype=np.float64)
    Z = _check_codes("initial", initial, X.shape[0], weights[0].shape[0])
    X, prior_weight = tf.constant(X), tf.constant(prior_weight, tf.float64)
    Z = _descend_xla(X, tf.constant(Z), tf.constant(step_size, tf.float64),
                     tf.constant(n_steps, tf.int32), prior_weight, *weights)
    losses, gradients = _losses_and_gradients(X, Z, prior_weight, *weights)
    return Z.numpy(), losses.numpy(), np.linalg.norm(gradients.numpy(), axis=1)
