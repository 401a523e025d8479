"""Damaged images for chapter 6: missing pixels (NaN) and noise, and filling them in.

All functions take images as rows, X of shape (n, 64) in [0, 1], return a new
array of the same shape (the input is never modified) and are deterministic
given ``seed``.
"""

from __future__ import annotations

import numpy as np

from inverse_lessons.data import IMAGE_SHAPE

__all__ = ["drop_pixels", "drop_block", "add_noise", "with_damaged_copies", "fill_missing"]


def _images(X):
    X = np.array(X, dtype=np.float64)   # a copy
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d array of images (n, pixels), got shape {X.shape}")
    return X


def drop_pixels(X, fraction, *, seed=0):
    """Mark each pixel missing (NaN) independently with probability ``fraction``.

    Parameters
    ----------
    X : array-like, shape (n_images, n_pixels)
        Images as rows, pixels in [0, 1].
    fraction : float
        Probability that a pixel goes missing, in [0, 1].
    seed : int, default 0
        Seed of the random pattern.

    Returns
    -------
    ndarray of float64, shape (n_images, n_pixels)
        A copy of ``X`` with the dropped pixels set to NaN.

    Raises
    ------
    ValueError
        If ``fraction`` is outside [0, 1] or ``X`` is not 2-d.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    X = _images(X)
    X[np.random.default_rng(seed).random(X.shape) < fraction] = np.nan
    return X


def drop_block(X, *, rows=(4, 8)):
    """Mark a band of image rows missing, by default the bottom half (rows 4-7).

    Parameters
    ----------
    X : array-like, shape (n_images, 64)
        8x8 images flattened row by row, pixels in [0, 1].
    rows : tuple of int, default (4, 8)
        ``(start, stop)``: image rows ``start`` to ``stop - 1`` go missing.

    Returns
    -------
    ndarray of float64, shape (n_images, 64)
        A copy of ``X`` with the band set to NaN.

    Raises
    ------
    ValueError
        If ``rows`` is not a band inside the image or ``X`` has not 64 pixels per row.
    """
    start, stop = rows
    height, width = IMAGE_SHAPE
    if not 0 <= start < stop <= height:
        raise ValueError(f"rows must satisfy 0 <= start < stop <= {height}, got {rows}")
    X = _images(X)
    if X.shape[1] != height * width:
        raise ValueError(f"X must have {height * width} pixels per image, got {X.shape[1]}")
    X[:, start * width:stop * width] = np.nan
    return X


def add_noise(X, sigma, *, seed=0):
    """Add Gaussian noise of standard deviation ``sigma``, clipped to [0, 1].

    Parameters
    ----------
    X : array-like, shape (n_images, n_pixels)
        Images as rows, pixels in [0, 1].
    sigma : float
        Standard deviation of the noise, in pixel units; non-negative.
    seed : int, default 0
        Seed of the noise.

    Returns
    -------
    ndarray of float64, shape (n_images, n_pixels)
        The noisy copy, clipped back to [0, 1].

    Raises
    ------
    ValueError
        If ``sigma`` is negative or ``X`` is not 2-d.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be non-negative, got {sigma}")
    X = _images(X)
    noisy = X + sigma * np.random.default_rng(seed).standard_normal(X.shape)
    return np.clip(noisy, 0.0, 1.0)


def with_damaged_copies(X, y, fractions=(0.0, 0.25, 0.5, 0.5, 0.75), *, seed=0):
    """Stack copies of the training set that miss a fraction of their pixels.

    Parameters
    ----------
    X : array-like, shape (n_images, n_pixels)
        Clean training images.
    y : array-like, shape (n_images,)
        Their labels.
    fractions : sequence of float, default (0.0, 0.25, 0.5, 0.5, 0.75)
        One copy per entry, missing that fraction of its pixels (0 gives the
        clean images); each copy has its own random pattern.
    seed : int, default 0
        Copy ``i`` uses the seed ``seed + i + 1``.

    Returns
    -------
    X_stacked : ndarray of float64, shape (len(fractions) * n_images, n_pixels)
        The copies one after the other, missing pixels as NaN.
    y_stacked : ndarray, shape (len(fractions) * n_images,)
        The labels repeated to match.
    """
    X = _images(X)
    copies = [X if f == 0 else drop_pixels(X, f, seed=seed + i + 1)
              for i, f in enumerate(fractions)]
    return np.concatenate(copies), np.concatenate([np.asarray(y)] * len(fractions))


def fill_missing(X, value):
    """Replace NaN (missing pixels) by ``value``.

    Parameters
    ----------
    X : array-like, shape (n_images, n_pixels)
        Images with missing pixels as NaN.
    value : float or array-like of shape (n_pixels,)
        The fill: one number, or one number per pixel (a pixel mean, say).

    Returns
    -------
    ndarray of float64, shape (n_images, n_pixels)
        A copy of ``X`` with every NaN replaced.
    """
    X = np.asarray(X, dtype=np.float64)
    return np.where(np.isnan(X), np.broadcast_to(value, X.shape), X)
