"""Report five seeds and paired tests: the bookkeeping a chapter of several pages shares.

Chapter 4 fits every model with five seeds and states the mean with the range beside it;
its numbers reach the prose through myst-nb's ``glue``, and bounds stated as
"p <= ..." are rounded the safe way. Chapter 6 scores every model on the same damaged
test sets, with a paired test on each. Each chapter's pages run alone, so these helpers
live here instead of being copied from page to page.
"""

from __future__ import annotations

import numpy as np

__all__ = ["damaged_test_sets", "filled_rmse", "fit_seeds", "glue_spread", "largest_p",
           "most_disagreements", "round_down", "round_up", "spread"]


def _positive_finite(x):
    x = float(x)
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"x must be a positive finite number, got {x}")
    return x


def _digits(digits):
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    return int(digits)


def round_up(x, digits=2):
    """Round ``x`` up to ``digits`` significant digits, so that "p <= result" stays true.

    Parameters
    ----------
    x : float
        Positive and finite.
    digits : int, default 2
        Significant digits kept, at least 1.

    Returns
    -------
    float
        At least ``x``: 0.01234 -> 0.013 with two digits.

    Raises
    ------
    ValueError
        If ``x`` is not positive and finite or ``digits`` not a positive integer.
    """
    x, digits = _positive_finite(x), _digits(digits)
    scale = 10.0 ** (np.floor(np.log10(x)) - digits + 1)
    return float(np.ceil(x / scale) * scale)


def round_down(x, digits=2):
    """Round ``x`` down to ``digits`` significant digits, so that "p >= result" stays true.

    Parameters
    ----------
    x : float
        Positive and finite.
    digits : int, default 2
        Significant digits kept, at least 1.

    Returns
    -------
    float
        At most ``x``: 0.01234 -> 0.012 with two digits.

    Raises
    ------
    ValueError
        If ``x`` is not positive and finite or ``digits`` not a positive integer.
    """
    x, digits = _positive_finite(x), _digits(digits)
    scale = 10.0 ** (np.floor(np.log10(x)) - digits + 1)
    return float(np.floor(x / scale) * scale)


def _values(values):
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-d sequence, got shape {values.shape}")
    return values


def spread(values):
    """Format ``values`` as ``'mean (min-max)'`` to three decimals, for a table cell or a print.

    Parameters
    ----------
    values : sequence of float, shape (n_seeds,)
        One score per seed; not empty.

    Returns
    -------
    str
        ``'0.958 (0.950-0.964)'``; a single value is shown alone (``'0.958'``):
        it has no range.

    Raises
    ------
    ValueError
        If ``values`` is empty or not 1-d.
    """
    values = _values(values)
    if values.size == 1:
        return f"{values[0]:.3f}"
    return f"{values.mean():.3f} ({values.min():.3f}-{values.max():.3f})"


def glue_spread(name, values):
    """Glue the mean, min and max of ``values`` as ``name_mean``, ``name_min``, ``name_max``.

    For the prose of a notebook built by myst-nb (``{glue:text}`name_mean:.3f```).

    Parameters
    ----------
    name : str
        The prefix of the three glued names.
    values : sequence of float, shape (n_seeds,)
        One score per seed; not empty.

    Returns
    -------
    dict of str to float
        The three floats glued, keyed by the glued names.
    """
    from myst_nb import glue

    values = _values(values)
    glued = {f"{name}_{stat}": float(getattr(np, stat)(values))
             for stat in ("mean", "min", "max")}
    for key, value in glued.items():
        glue(key, value, display=False)
    return glued


def fit_seeds(X, y, seeds, **params):
    """Fit ``InverseNet(random_state=seed, **params)`` on (X, y) once per seed.

    Parameters
    ----------
    X : array-like, shape (n_images, n_pixels)
        Training images, pixels in [0, 1].
    y : array-like of int, shape (n_images,)
        Their labels.
    seeds : iterable of int
        One fit per seed; not empty.
    **params
        Passed to :class:`~inverse_lessons.InverseNet`.

    Returns
    -------
    list of InverseNet
        The fitted models, one per seed, in the order of ``seeds``.

    Raises
    ------
    ValueError
        If ``seeds`` is empty.
    """
    from inverse_lessons.models.inverse_net import InverseNet

    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: at least one seed is needed")
    return [InverseNet(random_state=seed, **params).fit(X, y) for seed in seeds]


def most_disagreements(models, X):
    """Count the most images of ``X`` on which a model's label differs from ``models[0]``'s.

    Parameters
    ----------
    models : sequence of fitted classifiers
        Not empty; the first is the reference.
    X : array-like, shape (n_images, n_pixels)
        The images to label.

    Returns
    -------
    int
        The largest number of disagreements with the reference (0 for one model).

    Raises
    ------
    ValueError
        If ``models`` is empty.
    """
    models = list(models)
    if not models:
        raise ValueError("models is empty")
    reference = models[0].predict(X)
    return max(int(np.sum(m.predict(X) != reference)) for m in models)


def damaged_test_sets(X_test, seeds=range(5)):
    """Damage the test set in chapter 6's five conditions, one test set per seed.

    ``"clean"`` (``X_test`` itself), ``"25% missing"`` and ``"50% missing"`` (pixels
    dropped at random, one pattern per seed), ``"bottom half missing"`` (rows 4-7 of
    every image, one set) and ``"noise, σ = 0.3"`` (Gaussian noise, clipped to [0, 1],
    one draw per seed). Missing pixels are NaN.

    Parameters
    ----------
    X_test : array-like, shape (n_images, 64)
        Clean test images, pixels in [0, 1].
    seeds : iterable of int, default range(5)
        The damage patterns (noise draws) of the random conditions; not empty.

    Returns
    -------
    dict of str to list of ndarray of shape (n_images, 64)
        The conditions in the order above.

    Raises
    ------
    ValueError
        If ``seeds`` is empty.
    """
    from inverse_lessons.damage import add_noise, drop_block, drop_pixels

    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: at least one damage pattern is needed")
    return {"clean": [X_test],
            "25% missing": [drop_pixels(X_test, 0.25, seed=s) for s in seeds],
            "50% missing": [drop_pixels(X_test, 0.5, seed=s) for s in seeds],
            "bottom half missing": [drop_block(X_test, rows=(4, 8))],
            "noise, σ = 0.3": [add_noise(X_test, 0.3, seed=s) for s in seeds]}


def largest_p(predict_a, predict_b, test_sets, y):
    """Return the largest McNemar exact p-value of two classifiers over several test sets.

    Parameters
    ----------
    predict_a, predict_b : callable
        ``X (n, pixels) -> labels (n,)``.
    test_sets : sequence of array-like of shape (n, pixels)
        One damaged test set per seed, say; not empty.
    y : array-like, shape (n,)
        The true labels.

    Returns
    -------
    float
        In (0, 1]: the largest p over the test sets, so that "p <= result" holds on each.

    Raises
    ------
    ValueError
        If ``test_sets`` is empty.
    """
    from inverse_lessons.evaluation.stats import mcnemar

    test_sets = list(test_sets)
    if not test_sets:
        raise ValueError("test_sets is empty")
    y = np.asarray(y)
    return float(max(mcnemar(predict_a(X) == y, predict_b(X) == y)[2] for X in test_sets))


def filled_rmse(fill, test_sets, X_clean):
    """Compute the RMS error of the filled-in pixels over ``test_sets``, against ``X_clean``.

    Parameters
    ----------
    fill : callable
        ``X (n, pixels; NaN = missing) -> X filled in (n, pixels)``.
    test_sets : sequence of array-like of shape (n, pixels)
        Damaged copies of ``X_clean``.
    X_clean : array-like, shape (n, pixels)
        The undamaged images.

    Returns
    -------
    float
        In pixel units, over the missing pixels of every set only.

    Raises
    ------
    ValueError
        If no pixel is missing in ``test_sets``.
    """
    X_clean = np.asarray(X_clean, dtype=float)
    errors = [(np.asarray(fill(X), dtype=float) - X_clean)[np.isnan(X)] for X in test_sets]
    errors = np.concatenate(errors) if errors else np.empty(0)
    if errors.size == 0:
        raise ValueError("no pixel is missing in test_sets: nothing was filled in")
    return float(np.sqrt(np.mean(errors ** 2)))
