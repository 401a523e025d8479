"""Measure the calibration of predicted probabilities: does 90 % confidence mean 90 % correct.

A classifier is calibrated when, among the images it labels with confidence p,
a fraction p is labelled correctly. The expected calibration error (ECE) of
Guo et al. (2017) bins the test images by confidence and averages the gap
between accuracy and mean confidence in each bin, weighted by the bin's share
of the images.
"""

from __future__ import annotations

import numpy as np

__all__ = ["reliability", "expected_calibration_error"]


def _check(proba, y, classes):
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(f"proba must be 2-d (images, classes), got shape {proba.shape}")
    if not np.all(np.isfinite(proba)) or proba.min() < 0:
        raise ValueError("proba must hold finite, non-negative probabilities")
    if not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("each row of proba must sum to 1")
    y = np.asarray(y)
    if y.shape != (len(proba),):
        raise ValueError(f"y must have shape ({len(proba)},), got {y.shape}")
    classes = np.arange(proba.shape[1]) if classes is None else np.asarray(classes)
    if classes.shape != (proba.shape[1],):
        raise ValueError(f"classes must have one entry per column of proba "
                         f"({proba.shape[1]}), got shape {classes.shape}")
    return proba, y, classes


def reliability(proba, y, *, n_bins=15, classes=None):
    """Tabulate reliability: per confidence bin, mean confidence and accuracy.

    Parameters
    ----------
    proba : array-like, shape (n_images, n_classes)
        Predicted probabilities, rows summing to one.
    y : array-like, shape (n_images,)
        True labels.
    n_bins : int, default 15
        Equal-width bins of the confidence (the largest probability of a row)
        over (0, 1]: bin b holds confidences in (b / n_bins, (b + 1) / n_bins].
    classes : array-like of shape (n_classes,), optional
        The label of each column (default 0, 1, ...).

    Returns
    -------
    confidence, accuracy : ndarray, shape (n_bins,)
        Mean confidence and accuracy of the images in each bin (NaN if empty).
    counts : ndarray of int, shape (n_bins,)
        Images per bin.

    Raises
    ------
    ValueError
        If ``proba`` is not a 2-d array of probabilities, the shapes disagree,
        or ``n_bins`` is not a positive integer.
    """
    proba, y, classes = _check(proba, y, classes)
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, confidence, n_bins) / counts
        accuracy = np.bincount(bins, correct.astype(float), n_bins) / counts
    return mean_conf, accuracy, counts


def expected_calibration_error(proba, y, *, n_bins=15, classes=None):
    """Compute the ECE, the sum over bins of (images in bin / all) * |accuracy - confidence|.

    Parameters
    ----------
    proba, y, n_bins, classes
        As for :func:`reliability` (15 bins by default, as in Guo et al. 2017).

    Returns
    -------
    float
        In [0, 1]: 0 for a calibrated classifier; for one that is always sure
        (confidence 1), its error rate.
    """
    confidence, accuracy, counts = reliability(proba, y, n_bins=n_bins, classes=classes)
    full = counts > 0
    weights = counts[full] / counts.sum()
    return float(np.sum(weights * np.abs(accuracy[full] - confidence[full])))
