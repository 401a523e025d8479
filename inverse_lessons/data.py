"""The digits data of chapters 3-7: scikit-learn's bundled 8x8 images (no download).

One pixel scale is used everywhere in the book: the raw intensities 0-16
divided by 16, so a pixel is a number between 0 (white paper) and 1 (full ink).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

__all__ = ["PIXEL_MAX", "IMAGE_SHAPE", "N_PIXELS", "N_CLASSES", "load_digits_split"]

#: The raw pixel maximum of the bundled digits; images are divided by it.
PIXEL_MAX = 16.0
#: Height and width of one image.
IMAGE_SHAPE = (8, 8)
#: Pixels of one flattened image (8 x 8).
N_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
#: The number of classes, the digits 0-9.
N_CLASSES = 10

N_TRAIN = 1000
N_TEST = 500


def load_digits_split():
    """The book's canonical split of the 8x8 digits, as in the original series.

    Returns ``X_train, y_train, X_test, y_test``: images 0-999 for training
    and 1000-1499 for testing, each image flattened to 64 float64 pixels in
    [0, 1] (raw value / 16), labels as int64 digits 0-9. Shapes (1000, 64),
    (1000,), (500, 64), (500,).
    """
    digits = load_digits()
    X = digits.data.astype(np.float64) / PIXEL_MAX
    y = digits.target.astype(np.int64)
    train, test = slice(0, N_TRAIN), slice(N_TRAIN, N_TRAIN + N_TEST)
    return X[train], y[train], X[test], y[test]
