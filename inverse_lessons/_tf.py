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

__all__ = ["tf"]
