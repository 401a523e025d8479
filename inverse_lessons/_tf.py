"""Import TensorFlow quietly.

TensorFlow prints notices on stderr at import (the oneDNN notice, CPU feature
hints) unless two environment variables are set *before* the first import.
Every module of the package imports TensorFlow through here so that those
notices never reach a notebook or the rendered book.
"""

import contextlib
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import tensorflow as tf  # noqa: E402

__all__ = ["tf", "to_dtype", "quiet_retracing"]


def to_dtype(value, dtype):
    """Convert ``value`` to a tensor of ``dtype`` without a float32 detour.

    ``tf.cast(1.3, tf.float64)`` first makes a float32 tensor and so loses
    digits; Python and numpy numbers are converted directly instead.

    Parameters
    ----------
    value : tf.Tensor, tf.Variable, array-like or number
        The value to convert.
    dtype : tf.DType
        The dtype wanted.

    Returns
    -------
    tf.Tensor or tf.Variable
        ``value`` itself when it is already a tensor of ``dtype``, else the converted tensor.
    """
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return value if value.dtype == dtype else tf.cast(value, dtype)
    return tf.convert_to_tensor(value, dtype=dtype)


class _NoRetracingNotice(logging.Filter):
    """Drop TensorFlow's "triggered tf.function retracing" notice."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def quiet_retracing():
    """Silence TensorFlow's retracing notice inside the ``with`` block.

    ``line_model.train`` traces a fresh ``tf.function`` on every call on
    purpose: it closes over that call's data and settings. ``train_original``
    traces once per setting and data shape, ``InverseNet.fit`` once per
    configuration and kind of call (and, with missing pixels, per number of
    images). After five traces TensorFlow would warn about frequent retracing,
    a false alarm here.

    Yields
    ------
    None
        The notice is filtered from TensorFlow's logger until the block exits.
    """
    logger = tf.get_logger()
    notice_filter = _NoRetracingNotice()
    logger.addFilter(notice_filter)
    try:
        yield
    finally:
        logger.removeFilter(notice_filter)
