"""The forward models of the first two chapters.

A forward model maps a cause (the latent, z or x in chapter 1) to what we
observe. All of them are written with TensorFlow operations so that the
solver can differentiate them, and they accept numpy arrays, Python numbers or
tensors of any shape (applied element-wise).
"""

from __future__ import annotations

from inverse_lessons._tf import tf, to_dtype

__all__ = ["toy_forward", "line_forward", "square_forward", "TOY_SLOPE", "TOY_INTERCEPT"]

#: The toy model of chapter 1 is f(x) = TOY_SLOPE * x + TOY_INTERCEPT = 2x - 4.
TOY_SLOPE = 2.0
TOY_INTERCEPT = -4.0


def line_forward(y, a, b):
    """Apply the parameterised line f_theta(y) = a * y + b (chapter 2).

    Parameters
    ----------
    y : array-like or tf.Tensor, any shape
        The latent.
    a, b : float or tf.Tensor
        Slope and intercept: scalars, or tensors that broadcast against ``y``
        (``tf.Variable`` objects being trained, say).

    Returns
    -------
    tf.Tensor, shape of ``y``
        ``a * y + b``, in ``y``'s dtype.
    """
    y = tf.convert_to_tensor(y)
    return to_dtype(a, y.dtype) * y + to_dtype(b, y.dtype)


def toy_forward(x):
    """Apply the toy forward model of chapter 1, f(x) = 2x - 4, element-wise.

    Parameters
    ----------
    x : array-like or tf.Tensor, any shape
        The cause.

    Returns
    -------
    tf.Tensor, shape of ``x``
        ``2 x - 4``.
    """
    x = tf.convert_to_tensor(x)
    return line_forward(x, TOY_SLOPE, TOY_INTERCEPT)


def square_forward(x):
    """Apply a forward model that is not injective, f(x) = x**2: f(-2) = f(2) = 4.

    Inverting it has two answers; which one gradient descent finds depends on
    where it starts.

    Parameters
    ----------
    x : array-like or tf.Tensor, any shape
        The cause.

    Returns
    -------
    tf.Tensor, shape of ``x``
        ``x**2``.
    """
    x = tf.convert_to_tensor(x)
    return tf.square(x)
