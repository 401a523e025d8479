"""Fine-tuning analysis by synthesis: training the generators through the likelihood.

:class:`~inverse_lessons.models.analysis_by_synthesis.AnalysisBySynthesis` fits
each class's generators to that class alone. With ``fine_tune_steps`` it then
trains all of them together on the cross-entropy of the posterior over classes
(chapter 8, third page): the same bilevel idea as chapter 4, the inner
problem (the inversion of every generator) solved in closed form by
:func:`~inverse_lessons.models.ppca.class_log_likelihoods` and differentiated
through. The steps run in the shared :class:`~inverse_lessons.models.training.TrainingLoop`.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import clone

from inverse_lessons._tf import tf
from inverse_lessons.models.ppca import mixture_log_likelihoods
from inverse_lessons.models.training import (
    TrainingLoop,
    optimiser_state,
    optimiser_update,
    training_diverged,
    training_loop,
)

__all__ = ["fine_tune", "fine_tune_fitted", "fine_tune_loss", "held_out_rows", "monitor_terms"]


def fine_tune_loss(X, mask, labels, log_prior, extra, parameters):
    """Compute the cross-entropy of the posterior over classes, the fine-tuning's loss.

    The isotropic variance enters as s^2 = exp(log s^2): its gradient is s^2
    times that of the variance, of the order of the variance itself, so Adam
    moves it as much as the other parameters.

    Parameters
    ----------
    X, mask : tensors of shape (n, d)
        Images and their masks, as for
        :func:`~inverse_lessons.models.ppca.class_log_likelihoods`.
    labels : tensor of shape (n,)
        Class indices.
    log_prior : tensor of shape (C,)
    extra : tensor of shape (C, d)
        The variance added to every pixel (known noise).
    parameters : list of tensors
        [means (C, J, d), components (C, J, d, k), log s^2 (C, J), mixing
        logits (C, J)].

    Returns
    -------
    scalar tensor
        The mean over images, in nats.
    """
    mu, W, log_s2, mixing = parameters
    variances = tf.exp(log_s2)[:, :, None] + extra[:, None, :]
    scores, _, _ = mixture_log_likelihoods(X, mask, tf.nn.log_softmax(mixing, axis=1), mu, W,
                                           variances)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, scores + log_prior[None]))


def _fine_tune_step(params, state, batch):
    """Take one step of Adam on the cross-entropy of the posterior over classes.

    A pure step for :class:`TrainingLoop`. ``params`` = [means, components,
    log s^2, mixing logits] (see :func:`fine_tune_loss`); ``batch`` = (images,
    labels, log prior, extra variances, log of the variance floor, monitored
    images, their mask, their labels, this step's rows, this step's mask), no
    monitored image without a monitor. After the step log s^2 is clipped to
    at least the log of the floor (a projected step: the floor is a bound, not
    part of the parametrisation).

    Returns
    -------
    record : tuple of scalar tensors
        The loss before the step, and the monitored images' loss after it (NaN,
        the mean of nothing, without a monitor).
    params : list of tensors
    state : tuple
    """
    X, labels, log_prior, extra, log_floor, *monitor, rows, mask = batch
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = fine_tune_loss(tf.gather(X, rows), mask, tf.gather(labels, rows), log_prior,
                              extra, params)
    params, state = optimiser_update(params, tape.gradient(loss, params), state)
    params[2] = tf.maximum(params[2], log_floor)
    watched = fine_tune_loss(*monitor, log_prior, extra, params)
    return (loss, watched), params, state


def fine_tune(model, X, codes, extra, rng, monitor=None):
    """Train every generator of a fitted ``model`` discriminatively, through the likelihood.

    Parameters
    ----------
    model : AnalysisBySynthesis
        Generatively fitted, with an empty ``fine_tune_monitor_curve_``; its
        generators (and so its noise variances) are replaced by the tuned ones
        and its fine-tuning curves are set.
    X : ndarray of shape (n, d)
        The fine-tuning images (NaN = missing).
    codes : ndarray of shape (n,)
        Their class indices.
    extra : ndarray of shape (C, d)
        The variance added to every pixel of each class (known noise).
    rng : numpy.random.RandomState
        Draws the batches and the pixel drops.
    monitor : tuple of tensors or None
        Monitored images, mask and class indices (:func:`monitor_terms`).

    Raises
    ------
    DivergenceError
        If a loss is not finite.
    """
    floor = float(model.min_variance)
    # log s2, clipped at log(floor) after every step; the generative fit puts
    # every variance at or above the floor
    log_s2 = np.log(np.maximum(model.isotropic_variances_, floor))
    params = [tf.constant(v) for v in (model.means_, model.components_, log_s2,
                                        model.log_weights_)]
    fixed = [tf.constant(model.class_log_prior_), tf.constant(extra)]
    if monitor is not None:          # once: cheaper run eagerly than traced
        model.fine_tune_monitor_curve_.append(float(fine_tune_loss(*monitor, *fixed, params)))
    observed = (~np.isnan(X)).astype(np.float64)
    n = len(X)
    batch = n if model.fine_tune_batch_size is None else min(model.fine_tune_batch_size, n)

    def draws(start, count):      # each step's rows and mask, in the order of the steps
        rows, masks = [], []
        for _ in range(count):
            rows.append(np.arange(n) if batch == n else rng.choice(n, size=batch,
                                                                   replace=False))
            mask = observed[rows[-1]]
            if model.fine_tune_missing:
                mask = mask * (rng.random(mask.shape) >= model.fine_tune_missing)
            masks.append(mask)
        return np.stack(rows), np.stack(masks)

    def diverged(i, loss, _):
        return training_diverged(i, loss, "use a smaller fine_tune_learning_rate",
                                 step_size=float(model.fine_tune_learning_rate))

    loop = training_loop(("fine_tune",), lambda: TrainingLoop(
        _fine_tune_step, tf.float64, n_records=2))
    # without a monitor, no monitored image: one trace of the loop serves both
    nobody = (tf.zeros((0, X.shape[1]), tf.float64),) * 2 + (tf.zeros(0, tf.int32),)
    data = (tf.constant(np.nan_to_num(X)), tf.constant(codes, tf.int32), *fixed,
            tf.constant(math.log(floor), tf.float64),
            *(monitor if monitor is not None else nobody))
    history, params, _ = loop.run(
        model, params, optimiser_state(params, float(model.fine_tune_learning_rate)), data,
        n_steps=model.fine_tune_steps, per_step=draws, diverged=diverged,
        curve="fine_tune_loss_curve_")
    if monitor is not None:
        model.fine_tune_monitor_curve_ += [watched for _, watched in history]
    mu, W, log_s2, mixing = (p.numpy() for p in params)
    model.means_, model.components_ = mu, W
    model.isotropic_variances_ = np.maximum(np.exp(log_s2), floor)   # exp(log) rounds
    model.noise_variances_ = model.isotropic_variances_[:, :, None] + extra[:, None, :]
    model.log_weights_ = tf.nn.log_softmax(mixing, axis=1).numpy()


def fine_tune_fitted(model, X, codes, held, extra, rng, monitor=None):
    """Fine-tune a generatively fitted ``model`` as its settings ask, keeping it as it was.

    With ``fine_tune_steps`` > 0, ``model.before_fine_tuning_`` becomes the
    model as fitting it without fine-tuning would return it, and the
    generators are then trained (:func:`fine_tune`) on the held-out images,
    or on all of them if none is held out. The fine-tuning curves are set
    either way (empty without fine-tuning).

    Parameters
    ----------
    model : AnalysisBySynthesis
        Generatively fitted, its generators fitted to the images not held out.
    X : ndarray of shape (n, d)
        The training images (NaN = missing).
    codes : ndarray of shape (n,)
        Their class indices.
    held : ndarray of shape (n,), bool
        The images held out of the generative fit (:func:`held_out_rows`).
    extra : ndarray of shape (C, d)
        The variance added to every pixel of each class (known noise).
    rng : numpy.random.RandomState
        Draws the batches and the pixel drops.
    monitor : tuple (images (m, d), labels (m,)) or None
        Images whose cross-entropy is recorded along the fine-tuning
        (:func:`monitor_terms`).

    Raises
    ------
    ValueError
        For a bad ``monitor``.
    DivergenceError
        If a loss is not finite.
    """
    model.fine_tune_loss_curve_, model.fine_tune_monitor_curve_ = [], []
    if not model.fine_tune_steps:
        return
    tuning = held if held.any() else np.ones(len(X), bool)
    model.before_fine_tuning_ = _untuned_copy(model, codes[~held])
    fine_tune(model, X[tuning], codes[tuning], extra, rng, monitor_terms(model, monitor))


def _untuned_copy(model, codes):
    """Return a generatively fitted ``model`` as fitting it without fine-tuning would.

    ``codes`` are the class indices of the images its generators were fitted
    to (they set the class prior). The arrays are shared with ``model`` until
    fine-tuning replaces them.
    """
    copy = clone(model).set_params(fine_tune_steps=0)
    copy.__dict__.update({name: value for name, value in vars(model).items()
                          if name.endswith("_") and not name.startswith("_")})
    counts = np.bincount(codes, minlength=len(model.classes_))
    copy.class_log_prior_ = np.log(counts / counts.sum())
    copy.fine_tune_loss_curve_, copy.fine_tune_monitor_curve_ = [], []
    return copy


def held_out_rows(y, fraction):
    """Mark the training images that fine-tuning holds out of the generative fit.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, in the order of the training images.
    fraction : float
        The share of each class held out: its last ``ceil(fraction * count)``
        images, in the order given (on the digits, a run of similar
        handwriting); see ``AnalysisBySynthesis(fine_tune_holdout=...)``.

    Returns
    -------
    ndarray of shape (n,), bool
        True for a held-out image.
    """
    y = np.asarray(y)
    held = np.zeros(len(y), bool)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        held[rows[len(rows) - math.ceil(fraction * len(rows)):]] = True
    return held


def monitor_terms(model, monitor):
    """Check the images to monitor along the fine-tuning and return them as tensors.

    Parameters
    ----------
    model : AnalysisBySynthesis
        Being fitted (its ``classes_`` and ``n_features_in_`` are set).
    monitor : tuple (images (m, d), labels (m,)) or None
        Images (NaN = missing) and their labels.

    Returns
    -------
    tuple of tensors or None
        (images with missing pixels zeroed, mask, class indices), or None.

    Raises
    ------
    ValueError
        If ``monitor`` is not a pair of images of the model's size and labels
        of classes seen in fit.
    """
    if monitor is None:
        return None
    try:
        X, y = monitor
    except (TypeError, ValueError):
        raise ValueError("monitor must be None or a pair (X, y)") from None
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != model.n_features_in_ or len(y) != len(X):
        raise ValueError(f"monitor must hold images (m, {model.n_features_in_}) and m "
                         f"labels, got shapes {X.shape} and {np.shape(y)}")
    y = np.asarray(y)
    codes = np.minimum(np.searchsorted(model.classes_, y), len(model.classes_) - 1)
    if np.any(model.classes_[codes] != y):
        raise ValueError("monitor's labels must be classes seen in fit")
    mask = (~np.isnan(X)).astype(np.float64)
    return (tf.constant(np.nan_to_num(X)), tf.constant(mask),
            tf.constant(codes, tf.int32))
