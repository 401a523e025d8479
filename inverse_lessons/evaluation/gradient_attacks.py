"""Gradient attacks for the robustness suite: the smallest flip of a differentiable model.

:func:`score_functions` gives a fitted model's class scores as TensorFlow
functions of the image (its own ``differentiable_scores``, every gradient kind it
offers, or exact ones for logistic regression, an RBF SVC and
:class:`~inverse_lessons.AnalysisBySynthesis`); :func:`gradient_flips` attacks
through them: DeepFool towards every other class from the image and random
starts (the loop of :func:`~inverse_lessons.evaluation.deepfool.deepfool_runs`),
then bisection, PGD at shrinking radii and (L2) turns towards the
boundary's normal. :func:`flip_sizes` measures any change against the model's own
``predict``. The suite that combines these with decision-based and transfer
attacks is :mod:`inverse_lessons.evaluation.robustness`.
"""

from __future__ import annotations

import inspect
import weakref

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from inverse_lessons._tf import tf
from inverse_lessons._validation import check_choice, check_int, check_positive
from inverse_lessons.evaluation.attacks import (
    bisect_flip,
    check_box,
    check_complete_images,
    refine_flip,
)
from inverse_lessons.evaluation.deepfool import deepfool_runs, perturbation_size
from inverse_lessons.models.analysis_by_synthesis import AnalysisBySynthesis
from inverse_lessons.models.ppca import class_log_likelihoods

__all__ = ["NORMS", "bisect_changes", "check_attackable", "class_predictor", "fitted_estimator",
           "flip_sizes", "gradient_flips", "score_functions"]

NORMS = ("l2", "linf")
_BATCH = 1024          # images per gradient evaluation


def fitted_estimator(model):
    """Return the fitted estimator inside a fitted ``GridSearchCV``, else ``model``."""
    return model.best_estimator_ if isinstance(model, GridSearchCV) else model


def check_attackable(model):
    """Return the image width ``model`` (fitted, with ``predict``) takes; TypeError if none."""
    if not callable(getattr(model, "predict", None)):
        raise TypeError("model must be a fitted classifier with a predict method, got "
                        f"{type(model).__name__}")
    check_is_fitted(model)
    width = getattr(model, "n_features_in_", None)
    if width is None:
        raise TypeError(f"model must have n_features_in_ (a fitted scikit-learn style "
                        f"classifier), got {type(model).__name__}")
    return int(width)


def class_predictor(model):
    """``predict`` as class indices (into ``model.classes_``)."""
    classes = np.asarray(model.classes_)

    def predict(X):
        return np.searchsorted(classes, model.predict(X))
    return predict


# -- the class scores as differentiable functions ------------------------------------------
def _abs_scores(model):
    C, J, d = model.means_.shape
    k = model.components_.shape[-1]
    constants = [tf.constant(v) for v in (
        model.means_.reshape(C * J, d), model.components_.reshape(C * J, d, k),
        model.noise_variances_.reshape(C * J, d))]
    extra = tf.constant(model.log_weights_ + model.class_log_prior_[:, None])

    def scores(X):
        X = tf.cast(X, tf.float64)
        ll, _ = class_log_likelihoods(X, tf.ones((1, d), tf.float64), *constants,
                                      pattern=tf.zeros(tf.shape(X)[:1], tf.int64))
        return tf.reduce_logsumexp(tf.reshape(ll, [-1, C, J]) + extra[None], axis=-1)
    return scores


def _svc_scores(svc):
    """Each class's sum of its one-against-one decision values (for it, minus against it)."""
    if not isinstance(svc.gamma, (int, float)) or isinstance(svc.gamma, bool):
        raise TypeError("an RBF SVC is attacked through its decision values only with a "
                        f"numeric gamma, got gamma={svc.gamma!r}")
    n_classes, starts = len(svc.classes_), np.concatenate([[0], np.cumsum(svc.n_support_)])
    pairs = [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]
    A = np.zeros((len(pairs), len(svc.support_vectors_)))
    signs = np.zeros((len(pairs), n_classes))
    for p, (i, j) in enumerate(pairs):
        A[p, starts[i]:starts[i + 1]] = svc.dual_coef_[j - 1, starts[i]:starts[i + 1]]
        A[p, starts[j]:starts[j + 1]] = svc.dual_coef_[i, starts[j]:starts[j + 1]]
        signs[p, i], signs[p, j] = 1.0, -1.0
    S, A, b, signs = (tf.constant(v) for v in (svc.support_vectors_, A, svc.intercept_, signs))
    gamma = float(svc.gamma)

    def scores(X):
        X = tf.cast(X, tf.float64)
        squared = (tf.reduce_sum(X ** 2, 1)[:, None] - 2 * X @ tf.transpose(S)
                   + tf.reduce_sum(S ** 2, 1)[None])
        return (tf.exp(-gamma * squared) @ tf.transpose(A) + b) @ signs
    return scores


def score_functions(model):
    """Return the model's class scores as differentiable TensorFlow functions, by gradient kind.

    Returns a dict name -> f, f mapping a tf.Tensor of images (n, d) to a
    tf.Tensor of scores (n, C) whose argmax is (or, for an SVC's one-against-one
    votes, guides) the prediction: for a model with ``differentiable_scores``, one
    entry per value of its ``gradient`` argument ("unrolled", "envelope"), or
    "exact" if it has none; for ``LogisticRegression``, an RBF ``SVC`` with
    numeric gamma, and ``AnalysisBySynthesis`` (complete images), "exact".
    A ``GridSearchCV`` is unwrapped. Raises TypeError for any other model.
    """
    check_attackable(model)
    inner = fitted_estimator(model)
    method = getattr(inner, "differentiable_scores", None)
    if callable(method):
        if "gradient" in inspect.signature(method).parameters:
            return {kind: (lambda X, kind=kind: method(X, gradient=kind))
                    for kind in ("unrolled", "envelope")}
        return {"exact": method}
    if isinstance(inner, LogisticRegression):
        W, b = tf.constant(inner.coef_.T), tf.constant(inner.intercept_)
        if inner.coef_.shape[0] == 1:          # two classes: scores (0, w.x + b)
            return {"exact": lambda X: tf.concat(
                [tf.zeros_like(X[:, :1], tf.float64), tf.cast(X, tf.float64) @ W + b], 1)}
        return {"exact": lambda X: tf.cast(X, tf.float64) @ W + b}
    if isinstance(inner, SVC) and inner.kernel == "rbf":
        return {"exact": _svc_scores(inner)}
    if isinstance(inner, AnalysisBySynthesis):
        return {"exact": _abs_scores(inner)}
    raise TypeError("a gradient attack needs a model with differentiable_scores(X[, "
                    "gradient]) or a LogisticRegression, RBF SVC or AnalysisBySynthesis "
                    f"(possibly in a GridSearchCV), got {type(inner).__name__}")


def _gap(scores, X, own, target):
    """Return the scores s (n, C), f = s_target - s_own (target -1: the largest other) and df/dX.

    Each row's entries are picked by (row, class) pairs with ``tf.gather_nd``, whose
    gradient is a short graph (a batched ``tf.gather``'s is hundreds of operations,
    traced for every model).
    """
    rows = tf.range(tf.shape(X)[0])
    with tf.GradientTape() as tape:
        tape.watch(X)
        s = tf.cast(scores(X), tf.float64)
        mine = tf.gather_nd(s, tf.stack([rows, own], axis=1))
        others = tf.where(tf.one_hot(own, tf.shape(s)[1]) > 0,
                          tf.constant(-np.inf, tf.float64), s)
        f = tf.where(target < 0, tf.reduce_max(others, axis=1),
                     tf.gather_nd(s, tf.stack([rows, tf.maximum(target, 0)], axis=1))) - mine
    return s, f, tf.cast(tape.gradient(f, X), tf.float64)


class _Slopes:
    """:func:`_gap` compiled once per score function (eager if it cannot be compiled)."""

    def __init__(self, scores, width):
        self.scores = scores
        # one trace for every batch size: tracing an unrolled inference costs seconds
        spec = [tf.TensorSpec([None, width], tf.float32), tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32)]
        # no AutoGraph: the score functions have no Python control flow on tensors
        self.compiled = tf.function(lambda X, own, target: _gap(scores, X, own, target),
                                    input_signature=spec, autograph=False)

    def __call__(self, points, own, target=None):
        """Return the gaps f (n,) of the points (n, d) and their gradients (n, d)."""
        return self._run(points, own, target)[1:]

    def class_scores(self, points):
        """Return the class scores (n, C) of the points (n, d), from the same compiled function.

        Its gaps and gradients are not used: one call of a function already traced
        costs less than tracing the scores alone.
        """
        return self._run(points, np.zeros(len(points), int))[0]

    def _run(self, points, own, target=None):
        target = np.full(len(points), -1) if target is None else target
        outputs = []
        for start in range(0, len(points), _BATCH):
            rows = slice(start, start + _BATCH)
            args = (tf.constant(points[rows], tf.float32), tf.constant(own[rows], tf.int32),
                    tf.constant(target[rows], tf.int32))
            try:
                out = self.compiled(*args) if self.compiled else _gap(self.scores, *args)
            except (TypeError, ValueError, NotImplementedError, tf.errors.OpError):
                if not self.compiled:
                    raise
                self.compiled = None
                out = _gap(self.scores, *args)
            outputs.append([v.numpy() for v in out])
        return [np.concatenate(v) for v in zip(*outputs, strict=True)]


_TRACED = weakref.WeakKeyDictionary()   # model -> (fitted state, {kind: _Slopes})


def _slopes(model, kind, function, width):
    """Return the compiled gap for ``kind``, traced once per fitted state and width."""
    state = (width, *(id(v) for k, v in sorted(vars(model).items()) if k.endswith("_")))
    try:
        cached_state, traced = _TRACED.get(model, (None, {}))
    except TypeError:                       # an unhashable model: no cache
        return _Slopes(function, width)
    if cached_state != state:
        traced = {}
        _TRACED[model] = (state, traced)
    if kind not in traced:
        traced[kind] = _Slopes(function, width)
    return traced[kind]


def _clip(X, box):
    return X if box is None else np.clip(X, *box)


def _deepfool(scores, predict, X, own, norm, box, starts, max_iter, overshoot, targets):
    """Run DeepFool towards other classes from each start; keep each image's shortest flip.

    ``starts`` is a list of (n, d) offsets (zeros for the image itself). The runs go
    towards every other class, or (``targets`` an int) the ``targets`` classes scored
    highest after the own one (:func:`~inverse_lessons.evaluation.deepfool.deepfool_runs`).
    Returns each image's shortest flipping change (n, d), zero where no run flipped.
    """
    n = len(X)
    values = scores.class_scores(X)
    n_classes = values.shape[1]
    values[np.arange(n), own] = -np.inf
    rank = np.argsort(np.argsort(-values, axis=1), axis=1)     # 0: the runner-up
    image, start, target = (a.ravel() for a in np.meshgrid(
        np.arange(n), np.arange(len(starts)), np.arange(n_classes), indexing="ij"))
    keep = (target != own[image]) & (rank[image, target] < (targets or n_classes))
    image, start, target = image[keep], start[keep], target[keep]

    def gap_and_slope(points, runs):
        return scores(points, own[image[runs]], target[runs])

    _, delta = deepfool_runs(X, image, own, gap_and_slope, predict, max_iter=max_iter,
                             overshoot=overshoot, box=box, norm=norm,
                             start=_clip(X[image] + np.stack(starts)[start, image], box))
    return delta


def bisect_changes(predict, X, own, delta, norm, box, steps, stretch=1.0):
    """Shorten each change by bisection along its direction.

    The search reaches up to ``stretch`` times its length; zero rows (no flip) stay zero.
    """
    size = perturbation_size(delta, norm)
    ok = np.flatnonzero(size > 0)
    out = np.zeros_like(X)
    if ok.size == 0:
        return out
    unit = delta[ok] / size[ok, None]
    t = bisect_flip(predict, X[ok], unit, own[ok], stretch * size[ok], steps, box)
    found = np.isfinite(t)
    out[ok[found]] = _clip(X[ok[found]] + t[found, None] * unit[found], box) - X[ok[found]]
    return out


def _pgd_shrink(scores, predict, X, own, delta, norm, box, radius_steps, pgd_steps):
    """Find smaller flips by PGD at shrinking radii.

    Bisection on the radius between 0 and each image's current flip, each radius tried
    by ``pgd_steps`` steps of projected gradient ascent on the largest other score less
    the own one, started from the current change scaled into the ball. Keeps the smaller
    flips found.
    """
    best, size = delta.copy(), perturbation_size(delta, norm)
    low, high = np.zeros(len(X)), size.copy()
    live = np.flatnonzero(size > 0)
    for _ in range(radius_steps):
        if live.size == 0:
            break
        radius = (low[live] + high[live]) / 2
        X0 = X[live]
        point = _clip(X0 + best[live] * (radius / high[live])[:, None], box)
        done = predict(point) != own[live]
        alpha = 2.5 * radius / pgd_steps
        for _ in range(pgd_steps):
            go = np.flatnonzero(~done)
            if go.size == 0:
                break
            _, g = scores(point[go], own[live[go]])
            if norm == "l2":
                g = g / (np.linalg.norm(g, axis=1, keepdims=True) + 1e-24)
            else:
                g = np.sign(g)
            change = point[go] + alpha[go, None] * g - X0[go]
            if norm == "l2":
                change *= np.minimum(1.0, radius[go] / (np.linalg.norm(change, axis=1)
                                                        + 1e-24))[:, None]
            else:
                change = np.clip(change, -radius[go, None], radius[go, None])
            point[go] = _clip(X0[go] + change, box)
            done[go] = predict(point[go]) != own[live[go]]
        shorter = done & (perturbation_size(point - X0, norm) < size[live])
        best[live[shorter]] = point[shorter] - X0[shorter]
        size[live[shorter]] = perturbation_size(best[live[shorter]], norm)
        high[live[done]] = np.minimum(radius[done], size[live[done]])
        low[live[~done]] = radius[~done]
    return best


def flip_sizes(model, X, perturbations, norm="l2"):
    """Return the norms (n,) of the changes that flip ``model``'s prediction, inf where not."""
    check_choice("norm", norm, NORMS)
    X = check_complete_images(X, check_attackable(model))
    perturbations = check_complete_images(perturbations, X.shape[1])
    flips = model.predict(X + perturbations) != model.predict(X)
    size = perturbation_size(perturbations, norm)
    return np.where(flips & (size > 0), size, np.inf)


def gradient_flips(model, X, *, norm="l2", box=(0.0, 1.0), restarts=2, start_radius=0.05,
                   max_iter=50, overshoot=0.02, radius_steps=8, pgd_steps=10,
                   refine_steps=10, bisection_steps=16, targets=None, seed=0):
    """Small flips of a differentiable model, by gradient attacks with restarts.

    For each gradient kind of :func:`score_functions`: DeepFool (Moosavi-Dezfooli
    et al. 2016) towards every other class, or the ``targets`` classes scored
    highest after the image's own (the linearised gap to it, an L2 or
    L-infinity step to its zero, times 1 + ``overshoot``), from the image and from
    ``restarts`` random starts within ``start_radius`` (L-infinity) of it; each
    image's shortest flip is shortened by bisection along its direction, by PGD at
    shrinking radii (:func:`_pgd_shrink`) and, for L2, by turns towards the
    boundary's normal (:func:`~inverse_lessons.evaluation.attacks.refine_flip`).

    Parameters
    ----------
    model : a fitted classifier :func:`score_functions` accepts.
    X : (n, d) complete images, pixel units, in ``box`` if given.
    norm : "l2" or "linf". box : None or (low, high).

    Returns
    -------
    perturbations : dict gradient kind -> (n, d) changes, zero where nothing
        flipped; each flips ``model.predict`` where its size (:func:`flip_sizes`)
        is finite.
    """
    check_choice("norm", norm, NORMS)
    box = check_box(box)
    functions = score_functions(model)
    X = check_complete_images(X, check_attackable(model), box)
    restarts = check_int("restarts", restarts, minimum=0)
    start_radius = check_positive("start_radius", start_radius, allow_zero=True)
    predict = class_predictor(model)
    own = predict(X)
    rng = np.random.default_rng(seed)
    starts = [np.zeros_like(X)] + [rng.uniform(-start_radius, start_radius, X.shape)
                                   for _ in range(restarts)]
    out = {}
    for kind, function in functions.items():
        scores = _slopes(fitted_estimator(model), kind, function, X.shape[1])
        delta = _deepfool(scores, predict, X, own, norm, box, starts, max_iter, overshoot,
                          targets)
        delta = bisect_changes(predict, X, own, delta, norm, box, bisection_steps)
        delta = _pgd_shrink(scores, predict, X, own, delta, norm, box, radius_steps,
                            pgd_steps)
        if norm == "l2" and refine_steps:
            ok = np.flatnonzero(perturbation_size(delta, norm) > 0)
            if ok.size:
                def normal(points, labels, scores=scores):
                    reached = predict(points)
                    return (scores(points, labels, reached)[1])
                size = perturbation_size(delta[ok], norm)
                unit, t = refine_flip(predict, normal, X[ok], own[ok], delta[ok] / size[:, None],
                                      size, refine_steps=refine_steps,
                                      bisection_steps=bisection_steps, box=box)
                delta[ok] = _clip(X[ok] + t[:, None] * unit, box) - X[ok]
        out[kind] = np.where(np.isfinite(flip_sizes(model, X, delta, norm))[:, None], delta, 0.0)
    return out
