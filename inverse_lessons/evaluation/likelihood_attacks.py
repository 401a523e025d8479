"""Small changes that flip an ``AnalysisBySynthesis``, found through its likelihood.

The class scores of an :class:`~inverse_lessons.AnalysisBySynthesis`, log p(x | c)
+ log p(c), are mixtures of Gaussian log-densities, so their gradients in the
image are exact and cheap (:func:`complete_image_scores`), and with one
generator per class every boundary is a single quadric.

- :func:`smallest_flip_l2`: a gradient attack (DeepFool, the loop of
  :func:`~inverse_lessons.evaluation.deepfool.deepfool_runs`) on the class scores,
  started towards every generator of every other class, then refined
  (:func:`~inverse_lessons.evaluation.attacks.refine_flip`). Upper bounds on the
  smallest flipping change.
- :func:`exact_smallest_flip`: the exact smallest flip of a model with one
  generator per class, a trust-region problem per pair of classes
  (:func:`smallest_quadric_step`); chapter 8 measures the attack against it.

Images are rows, pixel units; ``box`` as in :mod:`~inverse_lessons.evaluation.attacks`.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.validation import check_is_fitted

from inverse_lessons._validation import check_int, check_positive
from inverse_lessons.evaluation.attacks import (
    check_box,
    check_complete_images,
    shorten_flips,
)
from inverse_lessons.evaluation.deepfool import deepfool_runs
from inverse_lessons.models.analysis_by_synthesis import AnalysisBySynthesis
from inverse_lessons.threads import one_blas_thread

__all__ = ["complete_image_scores", "exact_smallest_flip", "smallest_flip_l2",
           "smallest_quadric_step"]


def _logsumexp_last(a):
    """log(sum(exp(a))) over the last axis of a finite array, computed stably.

    scipy's ``logsumexp`` gives the same values, but its array-API checks cost
    more than the sum itself on the small arrays the attack scores thousands of
    times.
    """
    top = a.max(axis=-1)
    return top + np.log(np.exp(a - top[..., None]).sum(axis=-1))


def complete_image_scores(model):
    """Exact class scores and their gradients for complete images, as a function.

    With every pixel observed, each generator's covariance C = W W^T + D is the
    same for every image. By the Woodbury identity C^-1 = D^-1 - A^T A with
    A = L^-1 W^T D^-1 (k, d), L the Cholesky factor of I + W^T D^-1 W, so
    r^T C^-1 r = sum(r^2 / D) - |A r|^2 and the gradient of the Gaussian
    log-density, -C^-1 r with r = x - mu, is -(r / D - A^T A r).
    :func:`smallest_flip_l2` needs them for thousands of images at each step
    (``model.log_likelihoods`` handles missing pixels and computes the same
    scores image by image). It stays apart from
    :mod:`~inverse_lessons.models.ppca`'s likelihood, which solves with each
    image's own k x k factor (the masks may differ), because here that factor
    is shared: folded into A once per model, it leaves a call a few matrix
    products.

    Parameters
    ----------
    model : a fitted :class:`~inverse_lessons.AnalysisBySynthesis`.

    Returns
    -------
    scores : callable ``scores(X, gradients=True)`` mapping complete images
        X (n, d) to the class scores log p(x | c) + log p(c) (n, C), each
        generator's term log w_cj + log N(x; mu_cj, C_cj) + log p(c)
        (n, C, J), and (unless ``gradients=False``) their gradients in x,
        (n, C, d) and (n, C, J, d).
    """
    if not isinstance(model, AnalysisBySynthesis):
        raise TypeError("model must be a fitted AnalysisBySynthesis, got "
                        f"{type(model).__name__}")
    check_is_fitted(model)
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
        # A^T A r for every generator: one matrix product per generator
        pushed = np.matmul(pulled.transpose(1, 0, 2), A).transpose(1, 0, 2)
        # -(r / D - A^T A r), in the memory of r: arrays of n * C * J * d, few of them
        joint_gradients = X[:, None, :] - means[None]                         # r
        joint_gradients *= inv_D[None]                                        # r / D
        np.subtract(pushed, joint_gradients, out=joint_gradients)
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
    kept (:func:`~inverse_lessons.evaluation.attacks.refine_flip`). The gradients are
    exact (:func:`complete_image_scores`).
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
    box = check_box(box)
    X = check_complete_images(X, model.means_.shape[-1], box)
    # small matrices: one thread is fastest, above all on a busy machine
    with one_blas_thread():
        return _smallest_flip_l2(model, X, box, max_iter, overshoot, multi_start,
                                 refine_steps, bisection_steps)


def _smallest_flip_l2(model, X, box, max_iter, overshoot, multi_start, refine_steps,
                      bisection_steps):
    """:func:`smallest_flip_l2` after its checks."""
    n, (C, J) = len(X), model.log_weights_.shape
    scorer = complete_image_scores(model)

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

    def gap_and_slope(points, runs):
        scores, joint, grad, joint_grad = scorer(points)
        rows, mine, goal = np.arange(len(runs)), own[image[runs]], target[runs]
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
        return step_f, step_g

    found, delta = deepfool_runs(X, image, own, gap_and_slope, predict,
                                 max_iter=max_iter, overshoot=overshoot, box=box)
    if found.size:
        # refine: bisection along the change, then along the boundary's normal
        def normal(points, labels):   # the score of the class reached, less the own one's
            grad, rows = scorer(points)[2], np.arange(len(points))
            return grad[rows, predict(points)] - grad[rows, labels]

        delta[found] = shorten_flips(predict, normal, X[found], own[found], delta[found],
                                        refine_steps, bisection_steps, box)
    # the model itself says what flips
    flipped = np.zeros(n, bool)
    flipped[found] = model.predict(X[found] + delta[found]) != model.predict(X[found])
    return delta, flipped


def exact_smallest_flip(model, X):
    """Return the exact smallest L2 change that flips a one-generator-per-class model.

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
    X = check_complete_images(X, model.means_.shape[-1])
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
    step, size = smallest_quadric_step(
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


def smallest_quadric_step(h, g, q0, iterations=80):
    """Return the smallest z with sum(h z^2) / 2 + g . z + q0 = 0, row by row (an eigenbasis).

    The trust-region step of :func:`exact_smallest_flip`: z(m) = g / (m - h)
    for the m > max(h_max, 0) that solves the secular equation (found by
    bisection on log(m - max(h_max, 0))), or the hard case's step along the top
    eigenvector.

    Parameters
    ----------
    h : (n, d) ascending eigenvalues of H, one row per quadric.
    g : (n, d) the linear terms in their eigenbasis.
    q0 : (n,) the constants, negative.
    iterations : int, bisection halvings.

    Returns
    -------
    step : (n, d) the smallest steps, in the eigenbasis; zero rows where the
        quadric cannot be reached.
    size : (n,) their norms, inf where the quadric cannot be reached.
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
