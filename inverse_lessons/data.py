"""The digits data of chapters 3-7: scikit-learn's bundled 8x8 images (no download).

One pixel scale is used everywhere in the book: the raw intensities 0-16
divided by 16, so a pixel is a number between 0 (white paper) and 1 (full ink).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

__all__ = ["PIXEL_MAX", "IMAGE_SHAPE", "N_PIXELS", "N_CLASSES", "load_digits_split",
           "neighbour_gap"]

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
    """Load the book's canonical split of the 8x8 digits, as in the original series.

    Images 0-999 train and images 1000-1499 test; no shuffle, so every chapter
    sees the same images in the same order.

    Returns
    -------
    X_train : ndarray of float64, shape (1000, 64)
        Training images, flattened row by row, pixels in [0, 1] (raw value / 16).
    y_train : ndarray of int64, shape (1000,)
        Their digits, 0-9.
    X_test : ndarray of float64, shape (500, 64)
        Test images, as ``X_train``.
    y_test : ndarray of int64, shape (500,)
        Their digits, 0-9.
    """
    digits = load_digits()
    X = digits.data.astype(np.float64) / PIXEL_MAX
    y = digits.target.astype(np.int64)
    train, test = slice(0, N_TRAIN), slice(N_TRAIN, N_TRAIN + N_TEST)
    return X[train], y[train], X[test], y[test]


def neighbour_gap(X, seed=0):
    """Measure how far apart in the data set similar images lie, in positions.

    A gap far below the random one means that similar images come in runs, as
    the digits do (runs of similar handwriting): then cross-validation should
    hold out runs of consecutive images, not a shuffle (chapter 8).

    Parameters
    ----------
    X : array-like, shape (n_images, n_pixels)
        Images as rows, in data-set order; at least two.
    seed : int, default 0
        Seed of the random permutation that gives the reference gap.

    Returns
    -------
    ours : float
        Median over the rows i of ``|i - j|``, j the row nearest to row i in
        Euclidean distance (pixel units).
    random : float
        The same median for a random pairing of the positions.

    Raises
    ------
    ValueError
        If ``X`` is not 2-d or has fewer than two rows.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 2:
        raise ValueError(f"X must be a 2-d array of at least two rows, got shape {X.shape}")
    squared = np.sum(X ** 2, axis=1)
    distances = squared[:, None] + squared[None] - 2 * X @ X.T
    np.fill_diagonal(distances, np.inf)
    positions = np.arange(len(X))
    ours = np.median(np.abs(distances.argmin(axis=1) - positions))
    shuffled = np.random.default_rng(seed).permutation(positions)
    return float(ours), float(np.median(np.abs(shuffled - positions)))
