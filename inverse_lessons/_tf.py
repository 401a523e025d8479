"""Import TensorFlow quietly.

TensorFlow prints notices on stderr at import (the oneDNN notice, CPU feature
hints) unless two environment variables are set *before* the first import.
Every module of the package imports TensorFlow through here so that those
notices never reach a notebook or the rendered book.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import tensorflow as tf  # noqa: E402

__all__ = ["tf", "to_dtype"]


def to_dtype(value, dtype):
    """``value`` as a tensor of ``dtype``, without a float32 detour.

    ``tf.cast(1.3, tf.float64)`` first makes a float32 tensor and so loses
    digits; Python and numpy numbers are converted directly instead.
    """
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return value if value.dtype == dtype else tf.cast(value, dtype)
    return tf.convert_to_tensor(value, dtype=dtype)
