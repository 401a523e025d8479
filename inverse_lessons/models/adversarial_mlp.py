"""A small multilayer perceptron, optionally trained adversarially: chapter 9's baselines.

:class:`AdversarialMLP` is a scikit-learn classifier written directly in TensorFlow
(no Keras layers), so that its class scores are a differentiable function of the
image (:meth:`AdversarialMLP.differentiable_scores`, the interface the robustness
suite of :mod:`inverse_lessons.evaluation.robustness` attacks). With ``radius > 0``
it is trained as Madry et al. (2018) train: every mini-batch is replaced by its
projected-gradient-descent (PGD) adversary inside a ball of that radius (L-infinity
or L2) around each image, clipped to the pixel range, and the network is trained on
those adversaries only. The steps run in the shared
:class:`~inverse_lessons.models.training.TrainingLoop`, with its Adam.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from inverse_lessons._tf import tf
from inverse_lessons._validation import Integer, Options, Real, Satisfies, check_params
from inverse_lessons.models.base import encode_labels
from inverse_lessons.models.training import (
    TrainingLoop,
    optimiser_state,
    optimiser_update,
    training_diverged,
    training_loop,
)

__all__ = ["AdversarialMLP"]


def _layer_widths(units):
    """Return whether ``units`` is a sequence of integers >= 1 (it may be empty)."""
    return all(
        isinstance(u, numbers.Integral) and not isinstance(u, bool) and u >= 1 for u in units)


def _increasing_pair(pair):
    """Return whether ``pair`` is two finite numbers (low, high) with low < high."""
    low, high = (float(v) for v in pair)
    return np.isfinite(low) and np.isfinite(high) and low < high


_CONSTRAINTS = {
    "hidden_units": [Satisfies(_layer_widths, "a sequence of integers >= 1")],
    "epochs": [Integer(1)],
    "batch_size": [Integer(1)],
    "learning_rate": [Real(0, closed="neither")],
    "weight_decay": [Real(0)],
    "radius": [Real(0)],
    "norm": [Options("linf", "l2")],
    "pgd_steps": [Integer(1)],
    "pixel_range": [Satisfies(_increasing_pair, "a pair (low, high) with low < high")],
    "random_state": [Integer(0)],
}


class AdversarialMLP(ClassifierMixin, BaseEstimator):
    """A ReLU multilayer perceptron, trained plainly or against a PGD adversary.

    Parameters
    ----------
    hidden_units : tuple of int, default (128,)
        Width of each hidden layer.
    epochs : int, default 150
        Passes over the training images (mini-batches of ``batch_size``, Adam).
    batch_size : int, default 100
    learning_rate : float, default 3e-3
    weight_decay : float, default 1e-4
        L2 penalty on the weights (not the biases), added to the mean cross-entropy.
    radius : float, default 0.0
        Radius of the adversary's ball in pixel units (0: plain training).
    norm : "linf" or "l2", default "linf"
        The adversary's ball.
    pgd_steps : int, default 10
        Steps of PGD per mini-batch, each 2.5 radius / pgd_steps long (Madry et
        al.'s choice), from a random start in the ball.
    pixel_range : (low, high), default (0.0, 1.0)
        Adversarial images are clipped to it.
    random_state : int, default 0
        Seed of the initial weights, the batches and the PGD starts.

    Attributes
    ----------
    classes_ : ndarray of shape (C,)
        The class labels.
    weights_ : list of (W, b) pairs of ndarray
        One pair per layer, W of shape (fan_in, fan_out), b of shape (fan_out,).
    loss_curve_ : list of float
        Each step's mini-batch loss, the mean cross-entropy without the weight
        penalty (on the adversaries when ``radius > 0``).
    """

    def __init__(self, hidden_units=(128,), epochs=150, batch_size=100, learning_rate=3e-3,
                 weight_decay=1e-4, radius=0.0, norm="linf", pgd_steps=10,
                 pixel_range=(0.0, 1.0), random_state=0):
        self.hidden_units = hidden_units
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.radius = radius
        self.norm = norm
        self.pgd_steps = pgd_steps
        self.pixel_range = pixel_range
        self.random_state = random_state

    def fit(self, X, y):
        """Train the network on labelled images.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Training images, pixel units.
        y : array-like of shape (n,)
            Their labels (at least two classes).

        Returns
        -------
        AdversarialMLP
            The fitted estimator.

        Raises
        ------
        DivergenceError
            At the first step whose loss is not finite (``loss_curve_`` then
            holds the finite losses before it).
        """
        check_params(self, _CONSTRAINTS)
        units = tuple(int(u) for u in self.hidden_units)
        box = tuple(float(v) for v in self.pixel_range)
        X, y = validate_data(self, X, y, dtype=np.float64)
        labels = encode_labels(self, y)
        rng = np.random.default_rng(self.random_state)
        sizes = (X.shape[1], *units, len(self.classes_))
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            W = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))
            params += [tf.constant(W, tf.float32), tf.zeros(fan_out)]
        n = len(X)
        n_batches = max(1, n // self.batch_size)
        width = -(-n // n_batches)          # np.array_split's first batches are the widest
        seeds = tf.random.Generator.from_seed(int(self.random_state))
        batches = (rows for _ in range(self.epochs)
                   for rows in np.array_split(rng.permutation(n), n_batches))

        def draws(start, count):     # each step's rows (padded), their number and PGD seed
            rows, counts = np.zeros((count, width), np.int32), np.zeros(count, np.int32)
            for i in range(count):
                batch = next(batches)
                rows[i, :len(batch)], counts[i] = batch, len(batch)
            return rows, counts, np.stack([seeds.make_seeds(1)[:, 0].numpy()
                                           for _ in range(count)])

        def diverged(i, loss):
            return training_diverged(i, loss, "use a smaller learning_rate",
                                     step_size=float(self.learning_rate))

        settings = (float(self.weight_decay), float(self.radius), self.norm,
                    int(self.pgd_steps), box)
        loop = training_loop((type(self), *settings),
                             lambda: TrainingLoop(_training_step(*settings), tf.float32))
        _, params, _ = loop.run(
            self, params, optimiser_state(params, float(self.learning_rate)),
            (tf.constant(X, tf.float32), tf.constant(labels, tf.int32)),
            n_steps=self.epochs * n_batches, per_step=draws, diverged=diverged)
        self.weights_ = [(params[i].numpy(), params[i + 1].numpy())
                         for i in range(0, len(params), 2)]
        return self

    def differentiable_scores(self, X):
        """Return the logits as a TensorFlow function of the images, for an attacker.

        Parameters
        ----------
        X : tf.Tensor or array-like of shape (n, d)
            Images, pixel units (not validated: a gradient tape may watch them).

        Returns
        -------
        tf.Tensor of shape (n, C), float32
            The logits, differentiable in ``X``.
        """
        check_is_fitted(self)
        h = tf.cast(X, tf.float32)
        for i, (W, b) in enumerate(self.weights_):
            h = tf.matmul(h, W) + b
            if i < len(self.weights_) - 1:
                h = tf.nn.relu(h)
        return h

    def class_scores(self, X):
        """Return the logits of images, as numbers: ``predict`` takes their argmax.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Images, pixel units.

        Returns
        -------
        ndarray of shape (n, C)
            The logits, float64.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.differentiable_scores(tf.constant(X, tf.float32)).numpy().astype(np.float64)

    def predict_proba(self, X):
        """Return the softmax of the logits.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Images, pixel units.

        Returns
        -------
        ndarray of shape (n, C)
            Class probabilities; rows sum to one.
        """
        scores = self.class_scores(X)
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Return the label of each image's largest logit.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Images, pixel units.

        Returns
        -------
        ndarray of shape (n,)
            Labels from ``classes_``.
        """
        scores = self.class_scores(X)   # first: it checks that the model is fitted
        return self.classes_[scores.argmax(axis=1)]


def _logits(params, X):
    h = X
    for i in range(0, len(params), 2):
        h = tf.matmul(h, params[i]) + params[i + 1]
        if i < len(params) - 2:
            h = tf.nn.relu(h)
    return h


def _cross_entropy(params, X, y):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=y, logits=_logits(params, X)))


def _training_step(weight_decay, radius, norm, pgd_steps, box):
    """Make the pure training step of these settings, for :class:`TrainingLoop`.

    The step is ``(params, state, batch) -> (loss, params, state)``, ``params``
    = [W1, b1, W2, b2, ...], ``batch`` = (images, labels, this step's rows
    padded, their number, its PGD seed); it takes one Adam step on the mean
    cross-entropy plus the weight penalty and records the cross-entropy.
    """
    low, high = box

    def project(X0, X):
        change = X - X0
        if norm == "linf":
            change = tf.clip_by_value(change, -radius, radius)
        else:
            size = tf.norm(change, axis=1, keepdims=True)
            change = change * tf.minimum(1.0, radius / (size + 1e-12))
        return tf.clip_by_value(X0 + change, low, high)

    def adversary(params, X0, y, seed):
        start = tf.random.stateless_uniform(tf.shape(X0), seed, -1.0, 1.0)
        if norm == "l2":
            start = start / tf.sqrt(tf.cast(tf.shape(X0)[1], tf.float32))
        X = project(X0, X0 + radius * start)
        alpha = 2.5 * radius / pgd_steps
        for _ in range(pgd_steps):
            with tf.GradientTape() as tape:
                tape.watch(X)
                loss = _cross_entropy(params, X, y)
            g = tape.gradient(loss, X)
            if norm == "linf":
                g = tf.sign(g)
            else:
                g = g / (tf.norm(g, axis=1, keepdims=True) + 1e-12)
            X = project(X0, X + alpha * g)
        return tf.stop_gradient(X)

    def step(params, state, batch):
        images, labels, rows, count, seed = batch
        rows = rows[:count]       # the padding of a narrower batch dropped
        X, y = tf.gather(images, rows), tf.gather(labels, rows)
        if radius > 0:
            X = adversary(params, X, y, seed)
        with tf.GradientTape() as tape:
            tape.watch(params)
            loss = _cross_entropy(params, X, y)
            penalty = weight_decay * tf.add_n(
                [tf.reduce_sum(tf.square(W)) for W in params[::2]])
            total = loss + penalty
        params, state = optimiser_update(params, tape.gradient(total, params), state)
        return loss, params, state

    return step
