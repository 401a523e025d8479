"""Small changes that flip any classifier's prediction: the generic searches of chapter 8.

Every search here returns *upper bounds* on the smallest L2 change that flips a
prediction (a change that does flip, checked with the classifier's own
``predict``), never the smallest change itself.

- :func:`bisect_flip`, :func:`refine_flip` and :func:`shorten_flips`: the
  shared parts. A bisection along a direction to the first point that flips,
  and a refinement that turns the direction towards the boundary's normal at
  the point reached and keeps the turn when the flip comes sooner (at a
  locally smallest change, the change is parallel to that normal).
- :func:`svc_flip_l2`: DeepFool (the loop of
  :func:`~inverse_lessons.evaluation.deepfool.deepfool_runs`) on an RBF support
  vector classifier's one-against-one decision functions
  (:func:`~inverse_lessons.evaluation.svc_pairs.svc_pair_functions`), whose
  gradients are exact.
- :func:`boundary_flip_l2`: a decision-based search for any classifier (only
  its predictions are used): bisection towards the nearest training images of
  another class, then the refinement with normals estimated from random probes.

The searches through a likelihood model, :func:`smallest_flip_l2` and the exact
:func:`exact_smallest_flip` of an ``AnalysisBySynthesis``, are in
:mod:`~inverse_lessons.evaluation.likelihood_attacks`; they use the parts above.

Images are rows, pixel units. With ``box=(low, high)`` every point a search
tries is clipped to the box (the change a search returns keeps the image in
it); ``box=None`` searches all of space.
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from inverse_lessons._validation import check_int, check_positive
from inverse_lessons.evaluation.deepfool import deepfool_runs, free_directions
from inverse_lessons.evaluation.svc_pairs import svc_pair_functions, svc_votes
from inverse_lessons.threads import one_blas_thread

__all__ = ["bisect_flip", "boundary_flip_l2", "check_box", "check_complete_images",
           "refine_flip", "shorten_flips", "svc_flip_l2"]


def check_box(box):
    """``box`` as floats (low, high) with low < high, or None; ValueError otherwise."""
    if box is None:
        return None
    try:
        low, high = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"box must be None or a pair (low, high), got {box!r}") from None
    if not low < high:
        raise ValueError(f"box must have low < high, got {box!r}")
    return low, high


def check_complete_images(X, d=None, box=None):
    """``X`` as complete, finite float images (n, d) inside ``box``; ValueError otherwise."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or (d is not None and X.shape[1] != d) or not np.isfinite(X).all():
        raise ValueError(f"X must hold complete, finite images, shape (n, "
                         f"{'d' if d is None else d}); got shape {X.shape}"
                         + ("" if X.ndim != 2 else " (or NaN or inf)"))
    if box is not None and (X.min() < box[0] or X.max() > box[1]):
        raise ValueError(f"X must lie in the box {box}, got pixels from {X.min()} to "
                         f"{X.max()}")
    return X


def _points(X, directions, lengths, box):
    """X + t u, clipped to the box: (n, d)."""
    points = X + lengths[:, None] * directions
    return points if box is None else np.clip(points, *box)


def bisect_flip(predict, X, directions, own, length, steps, box=None):
    """Bisection for a short flipping change along each direction, at most ``length``.

    The bisection (``steps`` halvings) keeps an end that flips, so each step
    returned is at most ``length``. Without a box, t is the change's norm; with
    one, the norm is at most t.

    Parameters
    ----------
    predict : callable mapping images (m, d) to labels (m,).
    X : (n, d) images, pixel units.
    directions : (n, d) unit vectors u.
    own : (n,) the images' labels, as ``predict`` gives them.
    length : (n,) the longest step tried, pixel units.
    steps : int, halvings.
    box : None or (low, high), checked: X + t u is clipped to it.

    Returns
    -------
    t : (n,) the steps at which X + t u (clipped to ``box``) flips ``own``; inf
        where ``length`` itself does not flip.
    """
    out = np.full(len(X), np.inf)
    if len(X) == 0:
        return out
    ok = np.flatnonzero(predict(_points(X, directions, length, box)) != own)
    if ok.size == 0:
        return out
    X, directions, own = X[ok], directions[ok], own[ok]
    low, high = np.zeros(ok.size), length[ok].copy()
    for _ in range(steps):
        mid = (low + high) / 2
        flips = predict(_points(X, directions, mid, box)) != own
        high, low = np.where(flips, mid, high), np.where(flips, low, mid)
    out[ok] = high
    return out


def refine_flip(predict, normal, X, own, directions, lengths, *, refine_steps=10,
                bisection_steps=16, box=None, retry=False):
    """Shorten flipping changes by turning them towards the boundary's normal.

    Up to ``refine_steps`` times: at the point reached, ``normal`` gives the
    direction in which the point moves further into the other class (a
    gradient, or an estimate); the direction is turned fully, half, a quarter
    or an eighth of the way to it, and the first turn whose bisection
    (:func:`bisect_flip`, ``bisection_steps`` halvings, at most the current
    step) flips with a smaller change is kept. An image no turn shortens is
    left alone after that, unless ``retry`` (for a ``normal`` that is a random
    estimate, which may do better the next time).

    Parameters
    ----------
    predict : callable mapping images (m, d) to labels (m,).
    normal : callable ``normal(points, own)``, points (m, d) and their images'
        labels (m,), returning directions (m, d).
    X : (n, d) images with labels ``own`` (n,).
    directions, lengths : (n, d) unit vectors u and (n,) steps t such that
        X + t u (clipped to ``box``) flips.
    refine_steps, bisection_steps : int.
    box : None or (low, high), checked.
    retry : bool, keep trying images no turn shortened.

    Returns
    -------
    directions, lengths : (n, d) and (n,), the new ones; the changes
        ``clip(X + t u) - X`` are never larger than the ones given.
    """
    unit, t = directions.copy(), lengths.astype(np.float64).copy()
    size = np.linalg.norm(_points(X, unit, t, box) - X, axis=1)
    live = np.arange(len(X))       # images whose change may still shorten
    for _ in range(refine_steps):
        if live.size == 0:
            break
        point = _points(X[live], unit[live], t[live], box)
        towards_normal = free_directions(normal(point, own[live]), point, box)
        towards_normal /= np.linalg.norm(towards_normal, axis=1, keepdims=True) + 1e-24
        todo = np.arange(live.size)      # positions in live not yet shortened
        for turn in (1.0, 0.5, 0.25, 0.125):
            if todo.size == 0:
                break
            i = live[todo]
            towards = unit[i] + turn * (towards_normal[todo] - unit[i])
            towards /= np.linalg.norm(towards, axis=1, keepdims=True) + 1e-24
            step = bisect_flip(predict, X[i], towards, own[i], t[i], bisection_steps, box)
            new = np.full(i.size, np.inf)
            found = np.isfinite(step)
            new[found] = np.linalg.norm(
                _points(X[i[found]], towards[found], step[found], box) - X[i[found]], axis=1)
            better = new < size[i]
            t[i[better]], unit[i[better]], size[i[better]] = (
                step[better], towards[better], new[better])
            todo = todo[~better]
        # an image no turn shortened has the same point and normal next time
        if not retry:
            live = np.delete(live, todo)
    return unit, t


def shorten_flips(predict, normal, X, own, change, refine_steps, bisection_steps, box):
    """Shorten flipping changes (n, d): a bisection along each, then :func:`refine_flip`.

    A change whose own end does not flip again (a point left on the boundary to
    rounding) is returned as it is.
    """
    length = np.linalg.norm(change, axis=1)
    unit = change / np.maximum(length, 1e-300)[:, None]
    t = bisect_flip(predict, X, unit, own, length, bisection_steps, box)
    ok = np.flatnonzero(np.isfinite(t))
    unit[ok], t[ok] = refine_flip(predict, normal, X[ok], own[ok], unit[ok], t[ok],
                                  refine_steps=refine_steps,
                                  bisection_steps=bisection_steps, box=box)
    out = change.copy()
    out[ok] = _points(X[ok], unit[ok], t[ok], box) - X[ok]
    return out


# -- a gradient attack on an RBF support vector classifier ---------------------------------
def svc_flip_l2(svc, X, *, gamma=None, box=(0.0, 1.0), max_iter=50, overshoot=0.02,
                refine_steps=10, bisection_steps=16):
    """Small L2 changes that flip a fitted RBF ``SVC``: DeepFool on its pair functions.

    A multi-class SVC predicts by one-against-one votes. For the predicted
    class t, each duel (t, c) is a smooth function of the image; DeepFool
    (Moosavi-Dezfooli et al. 2016) linearises the duels t still wins, steps
    to the nearest linearised boundary times ``1 + overshoot`` (in the box:
    pixels at a bound that the step would push out are left alone), and
    repeats until the prediction changes (at most ``max_iter`` steps). One run
    starts with the nearest duel, and one per other class c with the duel
    (t, c); the smallest flipping change of the runs is then refined by
    :func:`refine_flip` with the gradient of the duel the point has lost.

    Parameters
    ----------
    svc : fitted ``sklearn.svm.SVC`` with ``kernel="rbf"`` (or a fitted
        ``GridSearchCV`` around one: its ``best_estimator_`` is used).
    X : (n, d) complete images, pixel units, inside ``box`` if one is given.
    gamma : float or None. The kernel's width; None reads ``svc.gamma`` when it
        is a number. For ``gamma="scale"`` pass 1 / (d * X_train.var()).
    box : (low, high) or None. The pixel range every tried point is clipped to.

    Returns
    -------
    perturbations : (n, d) changes; zero where nothing flipped.
    flipped : (n,) bool, checked with ``svc.predict``.
    """
    svc = getattr(svc, "best_estimator_", svc)
    if not isinstance(svc, SVC):
        raise TypeError(f"svc must be a fitted SVC, got {type(svc).__name__}")
    check_is_fitted(svc)
    if svc.kernel != "rbf":
        raise ValueError(f"svc must use kernel='rbf', got {svc.kernel!r}")
    if gamma is None:
        if isinstance(svc.gamma, str):
            raise ValueError(f"svc.gamma is {svc.gamma!r}: pass its value as gamma")
        gamma = svc.gamma
    gamma = check_positive("gamma", gamma)
    box = check_box(box)
    max_iter = check_int("max_iter", max_iter)
    overshoot = check_positive("overshoot", overshoot, allow_zero=True)
    refine_steps = check_int("refine_steps", refine_steps, minimum=0)
    bisection_steps = check_int("bisection_steps", bisection_steps, minimum=0)
    X = check_complete_images(X, svc.shape_fit_[1], box)
    # small problems, many calls: one thread is fastest, above all on a busy machine
    with one_blas_thread():
        return _svc_flip_l2(svc, X, gamma, box, max_iter, overshoot, refine_steps,
                            bisection_steps)


def _svc_flip_l2(svc, X, gamma, box, max_iter, overshoot, refine_steps, bisection_steps):
    """:func:`svc_flip_l2` after its checks."""
    values, pairs = svc_pair_functions(svc, gamma)
    n_classes = len(svc.classes_)

    def predict(images):          # class indices
        return svc_votes(values(images, gradients=False), pairs, n_classes).argmax(axis=1)

    own = predict(X)
    if not np.array_equal(svc.classes_[own], svc.predict(X)):
        raise ValueError("the pair functions do not reproduce svc.predict: is gamma right?")
    n = len(X)
    image = np.concatenate([np.arange(n), np.repeat(np.arange(n), n_classes)])
    target = np.concatenate([np.full(n, -1), np.tile(np.arange(n_classes), n)])
    keep = target != own[image]
    image, target = image[keep], target[keep]
    # sign[p, c] = +1 if pair p's value grows towards class c winning it, -1 if
    # towards c losing, 0 if c is not in the pair
    sign = np.zeros((len(pairs), n_classes))
    sign[np.arange(len(pairs)), pairs[:, 0]], sign[np.arange(len(pairs)), pairs[:, 1]] = 1, -1
    duel_of = np.zeros((n_classes, n_classes), int)    # the pair of classes a and b
    duel_of[pairs[:, 0], pairs[:, 1]] = duel_of[pairs[:, 1], pairs[:, 0]] = np.arange(len(pairs))

    def gap_and_slope(points, runs):
        mine = own[image[runs]]
        mine_duels = duel_of[mine]                          # (m, C), own's duels (and own)
        f, grad = values(points, which=mine_duels)
        rows = np.arange(len(runs))
        # h > 0 while the own class wins a duel; a duel's h falls as the other side gains
        duel_sign = sign[mine_duels, mine[:, None]]         # (m, C)
        duel_sign[rows, mine] = 0                           # own's column: no duel
        h = f[rows[:, None], mine_duels] * duel_sign
        g = grad * duel_sign[:, :, None]
        g = -free_directions(-g, points[:, None, :], box)             # the step moves along -g
        distance = h / (np.linalg.norm(g, axis=2) + 1e-12)
        distance[duel_sign == 0] = np.inf                  # own column
        distance[h <= 0] = np.inf                          # duels already lost
        goal = target[runs]
        aim = (goal >= 0) & (h[rows, np.maximum(goal, 0)] > 0)   # the targeted duel, while won
        nearest = np.where(aim, goal, distance.argmin(axis=1))   # a class: column of h
        return -h[rows, nearest], -g[rows, nearest]        # the gap f = -h < 0

    found, delta = deepfool_runs(X, image, own, gap_and_slope, predict,
                                 max_iter=max_iter, overshoot=overshoot, box=box)
    if found.size:
        def normal(points, labels):          # grows as the duel lost is lost further
            p = duel_of[labels, predict(points)]
            grad = values(points, which=p[:, None])[1][:, 0]
            return -grad * sign[p, labels][:, None]

        delta[found] = shorten_flips(predict, normal, X[found], own[found], delta[found],
                                refine_steps, bisection_steps, box)
    flipped = np.zeros(n, bool)
    flipped[found] = svc.predict(X[found] + delta[found]) != svc.predict(X[found])
    return delta, flipped


# -- a decision-based search for any classifier ----------------------------------------------
def boundary_flip_l2(predict, X, X_train, *, box=(0.0, 1.0), n_starts=5, refine_steps=20,
                     n_probes=64, probe_radius=0.02, bisection_steps=16, seed=0):
    """Small L2 changes that flip any classifier, from its predictions alone.

    For each image, the straight lines to the ``n_starts`` nearest training
    images that ``predict`` labels differently are bisected to their first
    flipping point, and the shortest is refined by :func:`refine_flip`, with
    the boundary's normal estimated from ``n_probes`` random probes around the
    point reached, at distance ``probe_radius`` (pixel units) from it (the
    probe directions, each weighted by whether it flips, +1, or not, -1, less
    the mean weight: the estimate of HopSkipJump, Chen et al. 2020).

    Parameters
    ----------
    predict : callable mapping images (m, d) to labels (m,), such as a fitted
        classifier's ``predict``.
    X : (n, d) complete images, inside ``box`` if one is given.
    X_train : (N, d) images to aim at (the training split).
    seed : seed of the random probes.

    Returns
    -------
    perturbations : (n, d) changes; zero where nothing flipped.
    flipped : (n,) bool, checked with ``predict``.
    """
    box = check_box(box)
    n_starts = check_int("n_starts", n_starts)
    refine_steps = check_int("refine_steps", refine_steps, minimum=0)
    n_probes = check_int("n_probes", n_probes, minimum=2)
    probe_radius = check_positive("probe_radius", probe_radius)
    bisection_steps = check_int("bisection_steps", bisection_steps, minimum=0)
    X = check_complete_images(X, box=box)
    X_train = check_complete_images(X_train, X.shape[1])
    # small problems, many calls: one thread is fastest, above all on a busy machine
    with one_blas_thread():
        return _boundary_flip_l2(predict, X, X_train, box, n_starts, refine_steps, n_probes,
                                 probe_radius, bisection_steps, np.random.default_rng(seed))


def _boundary_flip_l2(predict, X, X_train, box, n_starts, refine_steps, n_probes,
                      probe_radius, bisection_steps, rng):
    """:func:`boundary_flip_l2` after its checks."""
    own, train_labels = predict(X), predict(X_train)
    n, d = X.shape
    distances = np.linalg.norm(X[:, None] - X_train[None], axis=2)
    distances[own[:, None] == train_labels[None]] = np.inf     # only other labels
    nearest = np.argsort(distances, axis=1)[:, :n_starts]      # (n, n_starts)
    image = np.repeat(np.arange(n), n_starts)
    usable = np.isfinite(distances[image, nearest.ravel()])
    image, target = image[usable], nearest.ravel()[usable]
    change = X_train[target] - X[image]
    length = np.linalg.norm(change, axis=1)
    t = bisect_flip(predict, X[image], change / length[:, None], own[image], length,
                    bisection_steps, box)
    lengths, units = np.full(n, np.inf), np.zeros_like(X)
    for row in np.argsort(-t):               # each image's shortest line comes last
        if np.isfinite(t[row]):
            lengths[image[row]], units[image[row]] = t[row], change[row] / length[row]
    found = np.flatnonzero(np.isfinite(lengths))

    def normal(points, labels):
        u = rng.standard_normal((len(points), n_probes, d))
        u /= np.linalg.norm(u, axis=2, keepdims=True)
        probes = (points[:, None] + probe_radius * u).reshape(-1, d)
        if box is not None:
            probes = np.clip(probes, *box)
        flips = predict(probes).reshape(len(points), n_probes) != labels[:, None]
        sign = np.where(flips, 1.0, -1.0)
        sign -= sign.mean(axis=1, keepdims=True)
        return np.einsum("np,npd->nd", sign, u)

    delta = np.zeros_like(X)
    if found.size:
        unit, t = refine_flip(predict, normal, X[found], own[found], units[found],
                              lengths[found], refine_steps=refine_steps,
                              bisection_steps=bisection_steps, box=box, retry=True)
        delta[found] = _points(X[found], unit, t, box) - X[found]
    flipped = np.zeros(n, bool)
    flipped[found] = predict(X[found] + delta[found]) != own[found]
    return delta, flipped

