"""Small changes that flip a classifier's prediction: the searches chapter 8 uses.

Every search here returns *upper bounds* on the smallest L2 change that flips a
prediction (a change that does flip, checked with the classifier's own
``predict``), never the smallest change itself; chapter 8 compares them with
the exact smallest change where one is known (:func:`exact_smallest_flip`).

- :func:`bisect_flip` and :func:`refine_flip`: the shared parts. A bisection
  along a direction to the first point that flips, and a refinement that turns
  the direction towards the boundary's normal at the point reached and keeps
  the turn when the flip comes sooner (at a locally smallest change, the
  change is parallel to that normal).
- :func:`svc_flip_l2`: a gradient attack (DeepFool) on an RBF support vector
  classifier's one-against-one decision functions, whose gradients are exact.
- :func:`smallest_flip_l2`: the same gradient attack on an
  :class:`~inverse_lessons.AnalysisBySynthesis`, with exact gradients of its
  class scores, started towards every generator of every other class; and
  :func:`exact_smallest_flip`, the exact smallest flip of a model with one
  generator per class (a trust-region problem per pair of classes).
- :func:`boundary_flip_l2`: a decision-based search for any classifier (only
  its predictions are used): bisection towards the nearest training images of
  another class, then the refinement with normals estimated from random probes.

Images are rows, pixel units. With ``box=(low, high)`` every point a search
tries is clipped to the box (the change a search returns keeps the image in
it); ``box=None`` searches all of space.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from inverse_lessons._validation import check_int, check_positive
from inverse_lessons.models.analysis_by_synthesis import AnalysisBySynthesis
from inverse_lessons.threads import one_blas_thread

__all__ = ["bisect_flip", "boundary_flip_l2", "exact_smallest_flip", "refine_flip",
           "smallest_flip_l2", "svc_flip_l2"]


def _check_box(box):
    if box is None:
        return None
    try:
        low, high = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"box must be None or a pair (low, high), got {box!r}") from None
    if not low < high:
        raise ValueError(f"box must have low < high, got {box!r}")
    return low, high


def _check_images(X, d=None, box=None):
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


def _free(normal, points, box):
    """``normal`` with the components that would push a pixel out of the box zeroed."""
    if box is None:
        return normal
    stuck = ((points <= box[0]) & (normal < 0)) | ((points >= box[1]) & (normal > 0))
    return np.where(stuck, 0.0, normal)


def bisect_flip(predict, X, directions, own, length, steps, box=None):
    """Bisection for a short flipping change along each direction, at most ``length``.

    ``predict`` maps images (n, d) to labels; ``X`` (n, d) images,
    ``directions`` (n, d) unit vectors, ``own`` (n,) their labels, ``length``
    (n,) the longest step tried, pixel units. Returns the steps t (n,) at which
    X + t u (clipped to ``box``) flips ``own``: the bisection (``steps``
    halvings) keeps a flipping end, so each is at most ``length`` (inf where
    ``length`` itself does not flip). Without a box, t is the change's norm;
    with one, the norm is at most t.
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

    ``X`` (n, d) images with labels ``own`` (n,); X + t u (clipped to ``box``)
    flips for the unit ``directions`` u (n, d) and steps ``lengths`` t (n,).
    Up to ``refine_steps`` times: at the point reached, ``normal(points, own)``
    (m, d) gives the direction in which the point moves further into the other
    class (a gradient, or an estimate); the direction is turned fully, half, a
    quarter or an eighth of the way to it, and the first turn whose bisection
    (``bisection_steps`` halvings, at most the current step) flips with a
    smaller change is kept. An image no turn shortens is left alone after
    that, unless ``retry`` (for a ``normal`` that is a random estimate, which
    may do better the next time). Returns the new directions (n, d) and steps
    (n,); the changes are ``clip(X + t u) - X``, never larger than the ones
    given.
    """
    unit, t = directions.copy(), lengths.astype(np.float64).copy()
    size = np.linalg.norm(_points(X, unit, t, box) - X, axis=1)
    live = np.arange(len(X))       # images whose change may still shorten
    for _ in range(refine_steps):
        if live.size == 0:
            break
        point = _points(X[live], unit[live], t[live], box)
        towards_normal = _free(normal(point, own[live]), point, box)
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


def _shorten(predict, normal, X, own, change, refine_steps, bisection_steps, box):
    """Flipping changes (n, d) shortened by a bisection along each, then by
    :func:`refine_flip`. A change whose own end does not flip again (a point left
    on the boundary to rounding) is returned as it is."""
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


def _shortest_runs(X, image, current, flipped):
    """Each image's shortest flipping run: the rows of ``current`` (runs, d), started from
    ``X[image]``, that flip and are nearest their image, as (found, delta): the images with
    such a run, and the change (n, d) it makes (zero where none flips)."""
    lengths = np.linalg.norm(current - X[image], axis=1)
    lengths[~flipped] = np.inf
    shortest = np.full(len(X), -1)
    for row in np.argsort(-lengths):        # each image's shortest run comes last
        if np.isfinite(lengths[row]):
            shortest[image[row]] = row
    found = np.flatnonzero(shortest >= 0)
    delta = np.zeros_like(X)
    delta[found] = current[shortest[found]] - X[found]
    return found, delta


# -- a gradient attack on an RBF support vector classifier ---------------------------------
def _svc_pairs(svc, gamma):
    """The one-against-one decision functions of a fitted RBF ``SVC`` and their gradients.

    Returns a function mapping images (n, d) to values (n, P) and, unless
    ``gradients=False``, gradients (n, P, d), one per pair (i, j), i < j, in
    scikit-learn's order; a positive value votes for class i. With ``which``
    (n, q) pair indices, only those pairs' gradients, (n, q, d). Built from the
    public ``support_vectors_``, ``dual_coef_``, ``intercept_`` and
    ``n_support_``: f_ij(x) = sum_s a_s exp(-gamma |x - s|^2) + b_ij, with
    gradient sum_s a_s K(x, s) (-2 gamma) (x - s).
    """
    sv = svc.support_vectors_
    start = np.concatenate([[0], np.cumsum(svc.n_support_)])
    n_classes = len(svc.classes_)
    pairs = [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]
    coef = np.zeros((len(pairs), len(sv)))         # each pair's weights on every SV
    for p, (i, j) in enumerate(pairs):
        coef[p, start[i]:start[i + 1]] = svc.dual_coef_[j - 1, start[i]:start[i + 1]]
        coef[p, start[j]:start[j + 1]] = svc.dual_coef_[i, start[j]:start[j + 1]]
    sv_sq = np.sum(sv ** 2, axis=1)

    def values(X, gradients=True, which=None):
        sq = np.sum(X ** 2, axis=1)[:, None] - 2 * X @ sv.T + sv_sq[None]
        K = np.exp(-gamma * np.maximum(sq, 0.0))                    # (n, S)
        f = K @ coef.T + svc.intercept_[None]
        if not gradients:
            return f
        # sum_s a_s K_s (x - s) = x (K a) - (K * a) S
        chosen = coef[None] if which is None else coef[which]       # (n or 1, q, S)
        weighted = K[:, None, :] * chosen                           # (n, q, S)
        grad = -2 * gamma * (weighted.sum(axis=2)[:, :, None] * X[:, None, :]
                             - weighted @ sv)
        return f, grad

    return values, np.array(pairs)


def _votes(f, pairs, n_classes):
    """One-against-one votes (n, C) from pair values f (n, P); libsvm's argmax breaks ties
    towards the lower class index, as ``np.argmax`` does."""
    votes = np.zeros((len(f), n_classes))
    np.add.at(votes.T, pairs[:, 0], (f > 0).T)
    np.add.at(votes.T, pairs[:, 1], (f <= 0).T)
    return votes


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
    box = _check_box(box)
    max_iter = check_int("max_iter", max_iter)
    overshoot = check_positive("overshoot", overshoot, allow_zero=True)
    refine_steps = check_int("refine_steps", refine_steps, minimum=0)
    bisection_steps = check_int("bisection_steps", bisection_steps, minimum=0)
    X = _check_images(X, svc.shape_fit_[1], box)
    # small problems, many calls: one thread is fastest, above all on a busy machine
    with one_blas_thread():
        return _svc_flip_l2(svc, X, gamma, box, max_iter, overshoot, refine_steps,
                            bisection_steps)


def _svc_flip_l2(svc, X, gamma, box, max_iter, overshoot, refine_steps, bisection_steps):
    """:func:`svc_flip_l2` after its checks."""
    values, pairs = _svc_pairs(svc, gamma)
    n_classes = len(svc.classes_)

    def predict(images):          # class indices
        return _votes(values(images, gradients=False), pairs, n_classes).argmax(axis=1)

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
    current = X[image].copy()
    flipped = np.zeros(len(image), bool)
    for _ in range(max_iter):
        active = np.flatnonzero(~flipped)
        if active.size == 0:
            break
        mine = own[image[active]]
        mine_duels = duel_of[mine]                          # (m, C), own's duels (and own)
        f, grad = values(current[active], which=mine_duels)
        rows = np.arange(active.size)
        # h > 0 while the own class wins a duel; a duel's h falls as the other side gains
        duel_sign = sign[mine_duels, mine[:, None]]         # (m, C)
        duel_sign[rows, mine] = 0                           # own's column: no duel
        h = f[rows[:, None], mine_duels] * duel_sign
        g = grad * duel_sign[:, :, None]
        g = -_free(-g, current[active][:, None, :], box)      # the step moves along -g
        distance = h / (np.linalg.norm(g, axis=2) + 1e-12)
        distance[duel_sign == 0] = np.inf                  # own column
        distance[h <= 0] = np.inf                          # duels already lost
        goal = target[active]
        aim = (goal >= 0) & (h[rows, np.maximum(goal, 0)] > 0)   # the targeted duel, while won
        nearest = np.where(aim, goal, distance.argmin(axis=1))   # a class: column of h
        step_h, step_g = h[rows, nearest], g[rows, nearest]
        squared = np.sum(step_g ** 2, axis=1) + 1e-24
        moved = current[active] - ((1 + overshoot) * step_h / squared)[:, None] * step_g
        current[active] = moved if box is None else np.clip(moved, *box)
        flipped[active] = predict(current[active]) != mine
    found, delta = _shortest_runs(X, image, current, flipped)
    if found.size:
        def normal(points, labels):          # grows as the duel lost is lost further
            p = duel_of[labels, predict(points)]
            grad = values(points, which=p[:, None])[1][:, 0]
            return -grad * sign[p, labels][:, None]

        delta[found] = _shorten(predict, normal, X[found], own[found], delta[found],
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
    box = _check_box(box)
    n_starts = check_int("n_starts", n_starts)
    refine_steps = check_int("refine_steps", refine_steps, minimum=0)
    n_probes = check_int("n_probes", n_probes, minimum=2)
    probe_radius = check_positive("probe_radius", probe_radius)
    bisection_steps = check_int("bisection_steps", bisection_steps, minimum=0)
    X = _check_images(X, box=box)
    X_train = _check_images(X_train, X.shape[1])
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


# -- attacks on analysis by synthesis ------------------------------------------------------
def _logsumexp_last(a):
    """log(sum(exp(a))) over the last axis of a finite array, computed stably.

    scipy's ``logsumexp`` gives the same values, but its array-API checks cost
    more than the sum itself on the small arrays the attack scores thousands of
    times.
    """
    top = a.max(axis=-1)
    return top + np.log(np.exp(a - top[..., None]).sum(axis=-1))


def _complete_image_scores(model):
    """Exact class scores and their gradients for complete images, as a function.

    With every pixel observed, each generator's covariance C = W W^T + D is the
    same for every image. By the Woodbury identity C^-1 = D^-1 - A^T A with
    A = L^-1 W^T D^-1 (k, d), L the Cholesky factor of I + W^T D^-1 W, so
    r^T C^-1 r = sum(r^2 / D) - |A r|^2 and the gradient of the Gaussian
    log-density, -C^-1 r with r = x - mu, is -(r / D - A^T A r). The function
    returned maps images ``X`` (n, d) to the class scores
    log p(x | c) + log p(c) (n, C), each generator's term
    log w_cj + log N(x; mu_cj, C_cj) + log p(c) (n, C, J), and (unless
    ``gradients=False``) their gradients in x, (n, C, d) and (n, C, J, d).
    Used by :func:`smallest_flip_l2`, which needs them for thousands of images
    at each step (``model.log_likelihoods`` handles missing pixels and
    computes the same scores image by image).
    """
    C, J, d = model.means_.shape
    k = model.components_.shape[-1]
    W = model.components_.reshape(C * J, d, k)
    inv_D = 1.0 / model.noise_variances_.reshape(C * J, d)
    M = np.eye(k)[None] + np.einsum("gdk,gd,gdl->gkl", W, inv_D, W)
    L = np.linalg.cholesky(M)
    A = np.linalg.solve(L, W.transpose(0, 2, 1) * inv_D[:, None, :])    # (CJ, k, d)
    log_det = np.sum(np.log(model.noise_variances_.reshape(C * J, d)), axis=1) + 2 * np.sum(
        np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)
    means = model.means_.reshape(C * J, d)
    constant = (model.log_weights_ + model.class_log_prior_[:, None]).reshape(C * J) - 0.5 * (
        d * math.log(2.0 * math.pi) + log_det + np.sum(means ** 2 * inv_D, axis=1))
    A_flat, A_means = A.reshape(C * J * k, d), np.einsum("gkd,gd->gk", A, means)

    def scores(X, gradients=True):
        # sum(r^2 / D) and A r without forming r for every generator
        weighted = (X ** 2) @ inv_D.T - 2 * X @ (means * inv_D).T            # (n, CJ)
        pulled = (X @ A_flat.T).reshape(len(X), C * J, k) - A_means[None]   # A r
        joint = constant[None] - 0.5 * (weighted - np.sum(pulled ** 2, axis=2))
        joint = joint.reshape(-1, C, J)
        total = _logsumexp_last(joint)
        if not gradients:
            return total, joint
        residual = (X[:, None, :] - means[None]) * inv_D[None]              # r / D
        # A^T A r for every generator: one matrix product per generator
        pushed = np.matmul(pulled.transpose(1, 0, 2), A).transpose(1, 0, 2)
        joint_gradients = -(residual - pushed)
        joint_gradients = joint_gradients.reshape(-1, C, J, d)
        share = np.exp(joint - total[:, :, None])    # each generator's share of its class
        return total, joint, np.einsum("ncj,ncjd->ncd", share, joint_gradients), joint_gradients

    return scores


def smallest_flip_l2(model, X, *, box=None, max_iter=50, overshoot=0.02, multi_start=True,
                     refine_steps=10, bisection_steps=16):
    """Small L2 changes that flip the prediction of a fitted ``AnalysisBySynthesis``.

    A gradient attack, DeepFool (Moosavi-Dezfooli et al. 2016): at each step
    the class scores log p(x | c) + log p(c) are linearised, and the image
    moves straight to the nearest linearised boundary between its predicted
    class and another, times ``1 + overshoot``, until the prediction changes
    (at most ``max_iter`` steps). The boundaries between mixtures of Gaussians
    are curved, so the smallest change is a non-convex problem with several
    local minima, and one DeepFool run finds the one its first linearisation
    points at. With ``multi_start`` DeepFool also runs once towards each
    generator of every other class (that generator's term linearised instead
    of its class's score), and the smallest flipping change of all the runs is
    kept. Then it is refined, each bisection ``bisection_steps`` halvings: a
    bisection along its direction to the boundary, and up to ``refine_steps``
    times a turn towards the boundary's normal at the point reached (at a
    locally smallest change, the change is parallel to that normal): the
    direction is turned fully, half, a quarter or an eighth of the way to the
    normal, the first turn whose bisection flips with a shorter change is
    kept (:func:`refine_flip`). The gradients are
    exact (:func:`_complete_image_scores`).
    ``multi_start=False, refine_steps=0, bisection_steps=0`` is plain DeepFool.

    Parameters
    ----------
    model : a fitted :class:`AnalysisBySynthesis`.
    X : (n, d) complete images (no NaN), pixel units, inside ``box`` if given.
    box : None or (low, high), such as (0, 1) for the digits' pixel range.
        Every point tried is clipped to it, and a DeepFool step leaves alone
        the pixels at a bound that it would push out: the changes returned
        keep the images in the box. None: all of space (the changes may take
        pixels out of their range).

    Returns
    -------
    perturbations : (n, d) changes, pixel units; zero where nothing flipped.
    flipped : (n,) bool, checked with ``model.predict``: it labels
        X + perturbations differently from X wherever ``flipped``. The norms
        are upper bounds on the smallest such change, not the smallest
        change itself (the attack is a local search).
    """
    if not isinstance(model, AnalysisBySynthesis):
        raise TypeError("model must be a fitted AnalysisBySynthesis, got "
                        f"{type(model).__name__}")
    check_is_fitted(model)
    max_iter = check_int("max_iter", max_iter)
    overshoot = check_positive("overshoot", overshoot, allow_zero=True)
    refine_steps = check_int("refine_steps", refine_steps, minimum=0)
    bisection_steps = check_int("bisection_steps", bisection_steps, minimum=0)
    box = _check_box(box)
    X = _check_images(X, model.means_.shape[-1], box)
    # small matrices: one thread is fastest, above all on a busy machine
    with one_blas_thread():
        return _smallest_flip_l2(model, X, box, max_iter, overshoot, multi_start,
                                 refine_steps, bisection_steps)


def _smallest_flip_l2(model, X, box, max_iter, overshoot, multi_start, refine_steps,
                      bisection_steps):
    """:func:`smallest_flip_l2` after its checks."""
    n, (C, J) = len(X), model.log_weights_.shape
    scorer = _complete_image_scores(model)

    def predict(images):
        return scorer(images, gradients=False)[0].argmax(axis=1)   # class indices

    own = predict(X)
    # one run per image (untargeted, target -1), and with multi_start one per
    # image and generator (c, j) of another class (target c * J + j)
    image, target = np.arange(n), np.full(n, -1)
    if multi_start:
        image = np.concatenate([image, np.repeat(np.arange(n), C * J)])
        target = np.concatenate([target, np.tile(np.arange(C * J), n)])
        keep = (target < 0) | (target // J != own[image])
        image, target = image[keep], target[keep]
    current = X[image].copy()
    flipped = np.zeros(len(image), bool)
    for _ in range(max_iter):
        active = np.flatnonzero(~flipped)
        if active.size == 0:
            break
        scores, joint, grad, joint_grad = scorer(current[active])
        rows, mine, goal = np.arange(active.size), own[image[active]], target[active]
        # f_c = s_c - s_own (< 0 while unflipped) and its gradient, per class
        f = scores - scores[rows, mine][:, None]
        g = grad - grad[rows, mine][:, None]
        distance = -f / (np.linalg.norm(g, axis=2) + 1e-12)
        distance[rows, mine] = np.inf
        nearest = distance.argmin(axis=1)
        step_f, step_g = f[rows, nearest], g[rows, nearest]
        aimed = np.flatnonzero(goal >= 0)   # towards one generator: joint_cj - s_own
        c, j = goal[aimed] // J, goal[aimed] % J
        step_f[aimed] = joint[aimed, c, j] - scores[aimed, mine[aimed]]
        step_g[aimed] = joint_grad[aimed, c, j] - grad[aimed, mine[aimed]]
        step_g = _free(step_g, current[active], box)   # the step moves along +g
        squared = np.sum(step_g ** 2, axis=1) + 1e-24
        moved = current[active] - ((1 + overshoot) * step_f / squared)[:, None] * step_g
        current[active] = moved if box is None else np.clip(moved, *box)
        flipped[active] = predict(current[active]) != own[image[active]]
    found, delta = _shortest_runs(X, image, current, flipped)
    if found.size:
        # refine: bisection along the change, then along the boundary's normal
        def normal(points, labels):   # the score of the class reached, less the own one's
            grad, rows = scorer(points)[2], np.arange(len(points))
            return grad[rows, predict(points)] - grad[rows, labels]

        delta[found] = _shorten(predict, normal, X[found], own[found], delta[found],
                                        refine_steps, bisection_steps, box)
    # the model itself says what flips
    flipped = np.zeros(n, bool)
    flipped[found] = model.predict(X[found] + delta[found]) != model.predict(X[found])
    return delta, flipped


def exact_smallest_flip(model, X):
    """The exact smallest L2 change that flips a one-generator-per-class model.

    With ``n_components=1`` each class c is one Gaussian N(mu_c, C_c), so the
    score difference between another class c and the predicted class y,

        q(d) = s_c(x + d) - s_y(x + d) = d^T H d / 2 + g^T d + q_0,

    with s the class scores log p(x | c) + log p(c), H = C_y^-1 - C_c^-1,
    g = C_y^-1 (x - mu_y) - C_c^-1 (x - mu_c) and q_0 = s_c(x) - s_y(x) < 0, is
    a quadratic in the change d: the boundary between the two classes is a
    single quadric. The image is flipped as soon as q(d) >= 0 for some c, so
    the smallest flip is the smallest ||d|| with q(d) = 0, over c. For each c
    this is a trust-region subproblem, solved exactly: with H = V diag(h) V^T,
    the solution is d(m) = (m I - H)^-1 g for the m > max(h_max, 0) at which
    q(d(m)) = 0 (the secular equation; q(d(m)) falls strictly as m grows, so
    its root is found by bisection on log(m - max(h_max, 0))), or, in the hard
    case where g has no component along H's top eigenvector, d(h_max) plus a
    multiple of that eigenvector. Any smaller change keeps every q < 0 (at
    radius r, d(m) maximises q over the ball of radius r, Gay 1981 / Moré and
    Sorensen 1983). No box: the exact problem is unclipped.

    Parameters
    ----------
    model : a fitted :class:`AnalysisBySynthesis` with ``n_components=1``.
    X : (n, d) complete images, pixel units.

    Returns
    -------
    perturbations : (n, d) the smallest changes, each ending on the boundary
        (X + perturbations ties the two classes; any longer step along it
        flips). Zero rows where no class can be reached (where every q stays
        negative, possible only when the covariance differences allow it).
    across : (n,) the class across that boundary (``model.classes_``), or -1
        where none can be reached.
    """
    if not isinstance(model, AnalysisBySynthesis):
        raise TypeError("model must be a fitted AnalysisBySynthesis, got "
                        f"{type(model).__name__}")
    check_is_fitted(model)
    if model.means_.shape[1] != 1:
        raise ValueError("exact_smallest_flip needs one generator per class "
                         f"(n_components=1); this model has {model.means_.shape[1]}: a "
                         "mixture's boundaries are not single quadrics")
    X = _check_images(X, model.means_.shape[-1])
    with one_blas_thread():      # many small matrices
        return _exact_smallest_flip(model, X)


def _exact_smallest_flip(model, X):
    """:func:`exact_smallest_flip` after its checks."""
    mu, W = model.means_[:, 0], model.components_[:, 0]
    n_classes, d = mu.shape
    covariances = W @ W.transpose(0, 2, 1) + np.stack(
        [np.diag(v) for v in model.noise_variances_[:, 0]])
    precisions = np.linalg.inv(covariances)
    precisions = (precisions + precisions.transpose(0, 2, 1)) / 2
    scores = model.log_likelihoods(X) + model.class_log_prior_
    own = scores.argmax(axis=1)
    # every pair's H = P_y - P_c in its eigenbasis, at once (the diagonal is unused)
    h, V = np.linalg.eigh(precisions[:, None] - precisions[None, :])    # (C, C, d), (C, C, d, d)
    image, other = np.nonzero(np.arange(n_classes)[None] != own[:, None])   # rows (i, c)
    y = own[image]
    pulled = np.einsum("nd,nde->ne", X[image] - mu[y], precisions[y]) - np.einsum(
        "nd,nde->ne", X[image] - mu[other], precisions[other])           # g, (rows, d)
    basis = V[y, other]                                                   # (rows, d, d)
    step, size = _smallest_quadric_step(
        h[y, other], np.einsum("nd,nde->ne", pulled, basis),
        scores[image, other] - scores[image, y])
    step = np.einsum("nde,ne->nd", basis, step)
    size = size.reshape(len(X), n_classes - 1)
    nearest = size.argmin(axis=1)
    rows = np.arange(len(X)) * (n_classes - 1) + nearest
    reached = np.isfinite(size[np.arange(len(X)), nearest])
    delta = np.where(reached[:, None], step[rows], 0.0)
    labels = np.where(reached, model.classes_[other[rows]], -1)
    return delta, labels


def _smallest_quadric_step(h, g, q0, iterations=80):
    """The smallest z with sum(h z^2) / 2 + g . z + q0 = 0, row by row (an eigenbasis).

    ``h`` (n, d) ascending eigenvalues of H, ``g`` (n, d) the linear terms in
    their eigenbasis, ``q0`` (n,) negative constants. Returns the steps (n, d),
    in the same basis, and their norms (n,), inf (and a zero step) where the
    quadric cannot be reached.
    """
    low_m = np.maximum(h[:, -1], 0.0)

    def q(m):                          # q(z(m)), z(m) = g / (m - h), rows of m (n,)
        gap = m[:, None] - h
        return np.sum(g ** 2 * (0.5 * h / gap ** 2 + 1 / gap), axis=1) + q0

    scale = np.abs(h).max(axis=1) + np.abs(g).max(axis=1) + 1.0
    lo, hi = np.log(1e-14 * scale), np.log(scale)        # log(m - low_m)
    for _ in range(200):               # widen until q(hi) < 0 (q -> q0 < 0 as m grows)
        up = q(low_m + np.exp(hi)) >= 0
        if not up.any():
            break
        hi[up] += 2.0
    reachable = q(low_m + np.exp(lo)) >= 0
    for _ in range(iterations):
        mid = (lo + hi) / 2
        positive = q(low_m + np.exp(mid)) >= 0
        lo, hi = np.where(positive, mid, lo), np.where(positive, hi, mid)
    m = low_m + np.exp((lo + hi) / 2)
    step = g / (m[:, None] - h)
    # the hard case: at m = h_max > 0 the step without the top eigenvector's part
    # still has q < 0; the rest is made up along that eigenvector
    hard = ~reachable & (h[:, -1] > 0)
    if hard.any():
        hh, gh = h[hard], g[hard]
        top = hh == hh[:, -1:]
        gap = np.where(top, 1.0, hh[:, -1:] - hh)
        base = np.where(top, 0.0, gh / gap)
        rest = -(np.sum(np.where(top, 0.0, base ** 2 * (0.5 * hh + gap)), axis=1) + q0[hard])
        base[:, -1] = np.sqrt(np.maximum(rest, 0.0) * 2 / hh[:, -1])
        step[hard] = base
        reachable = reachable | hard
    size = np.linalg.norm(step, axis=1)
    size[~reachable] = np.inf
    step[~reachable] = 0.0
    return step, size
