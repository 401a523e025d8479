"""The smallest change that flips any classifier, found by a suite of attacks.

Carlini et al. (2019, "On evaluating adversarial robustness") ask of a robustness
claim that the adversary be adaptive and varied: for each test image, the smallest
perturbation (L2 or L-infinity, the image kept in the pixel range) that changes the
model's decision, as the best of several attacks, one of which needs no gradient,
so that a model whose gradients mislead (gradient masking) cannot look robust.
Every attack here returns changes that do flip the model (checked with its own
``predict``): upper bounds on the smallest flip, never the smallest flip itself.

- :func:`gradient_flips`: DeepFool towards every other class, from the image and
  from random starts, then shortened: by bisection along the change, a PGD search
  at shrinking radii, and (L2) turns towards the boundary's normal. It needs the
  class scores as a differentiable TensorFlow function (:func:`score_functions`):
  a model's own ``differentiable_scores(X, gradient=...)`` (every gradient it
  offers is tried, "unrolled" and "envelope" for an inference), or exact ones for
  logistic regression, an RBF SVC and :class:`~inverse_lessons.AnalysisBySynthesis`.
- :func:`decision_flips`: HopSkipJump (Chen et al. 2020) from
  adversarial-robustness-toolbox, given only ``predict``.
- :func:`transfer_flips`: other models' changes, each shortened by bisection along
  its direction.
- :func:`attack_suite`: all three on several models, the best per image.
- :func:`linear_smallest_flip`: the exact smallest flip of a linear classifier,
  |margin| / ||w||_2 (L2) or / ||w||_1 (L-infinity), for checking the suite; and
  :func:`nearest_neighbour_smallest_flip`, 1-NN's exact smallest L2 flip.
- :func:`robustness_baselines`: chapter 9's baselines, unfitted.

Images are rows (n, d) in pixel units; ``box=(low, high)`` keeps every point an
attack tries in the box, ``None`` searches all of space.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from inverse_lessons._validation import check_choice, check_int, check_positive
from inverse_lessons.evaluation.deepfool import perturbation_size, shortest_changes
from inverse_lessons.evaluation.gradient_attacks import (
    NORMS,
    bisect_changes,
    check_attackable,
    check_box,
    check_complete_images,
    class_predictor,
    fitted_estimator,
    flip_sizes,
    gradient_flips,
    score_functions,
)

__all__ = ["add_flips", "attack_suite", "decision_flips",
           "linear_smallest_flip", "median_interval", "nearest_neighbour_smallest_flip",
           "PGD_RADIUS",
           "robustness_baselines", "transfer_flips"]


def decision_flips(model, X, *, norm="l2", box=(0.0, 1.0), max_iter=20, max_eval=1000,
                   init_eval=100, bisection_steps=16, seed=0):
    """Small flips found from ``model.predict`` alone: HopSkipJump (Chen et al. 2020).

    adversarial-robustness-toolbox's ``HopSkipJump`` (untargeted, L2 or
    L-infinity) around a black box that returns the one-hot prediction, then
    each change shortened by bisection along its direction. The gradient plays
    no part, so a model whose gradients mislead a gradient attack (gradient
    masking) is flipped here as easily as its decisions allow. ``max_iter``,
    ``max_eval`` and ``init_eval`` are HopSkipJump's; ``seed`` seeds its
    starts (random images in the box that the model labels otherwise) and numpy's
    global generator, which ART draws from (its state is restored after).

    Returns the changes (n, d), zero where nothing flipped.
    """
    with warnings.catch_warnings():      # ART's notice that PyTorch is absent
        warnings.simplefilter("ignore", UserWarning)
        from art.attacks.evasion import HopSkipJump
        from art.estimators.classification import BlackBoxClassifier

    check_choice("norm", norm, NORMS)
    box = check_box(box)
    X = check_complete_images(X, check_attackable(model), box)
    predict = class_predictor(model)
    n_classes = len(model.classes_)

    def one_hot(images):
        return np.eye(n_classes, dtype=np.float32)[predict(np.asarray(images, np.float64))]

    black_box = BlackBoxClassifier(one_hot, (X.shape[1],), n_classes, clip_values=box)
    attack = HopSkipJump(black_box, targeted=False, norm=2 if norm == "l2" else np.inf,
                         max_iter=max_iter, max_eval=max_eval, init_eval=init_eval,
                         verbose=False)
    own = predict(X)
    # HopSkipJump's own start, a random image of another class, is drawn from an
    # unseeded generator: start from seeded ones instead (uniform in the box)
    rng = np.random.default_rng(seed)
    low, high = box if box is not None else (X.min(), X.max())
    start = X.copy()
    for _ in range(20):
        todo = np.flatnonzero(np.all(start == X, axis=1))
        if todo.size == 0:
            break
        draws = rng.uniform(low, high, (todo.size, X.shape[1]))
        flips = predict(draws) != own[todo]
        start[todo[flips]] = draws[flips]
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        adversarial = attack.generate(X.astype(np.float32),
                                      x_adv_init=start.astype(np.float32)).astype(np.float64)
    finally:
        np.random.set_state(state)
    delta = np.where((predict(adversarial) != own)[:, None], adversarial - X, 0.0)
    return bisect_changes(predict, X, own, delta, norm, box, bisection_steps)


def transfer_flips(model, X, perturbations, *, norm="l2", box=(0.0, 1.0), stretch=2.0,
                   bisection_steps=16):
    """Other models' changes tried on ``model``: each image's shortest flip among them.

    ``perturbations``: a list of (n, d) changes (zero rows are skipped); each is
    tried along its direction up to ``stretch`` times its length and shortened by
    bisection, all of them in one bisection (each row on its own). Returns the
    shortest flipping change per image (n, d), zero where none flips.
    """
    check_choice("norm", norm, NORMS)
    box = check_box(box)
    X = check_complete_images(X, check_attackable(model), box)
    stretch = check_positive("stretch", stretch)
    if len(perturbations) == 0:
        return np.zeros_like(X)
    predict = class_predictor(model)
    own = predict(X)
    changes = np.concatenate([check_complete_images(p, X.shape[1], None)
                              for p in perturbations])
    image = np.tile(np.arange(len(X)), len(perturbations))      # the image of each row
    changes = bisect_changes(predict, X[image], own[image], changes, norm, box,
                             bisection_steps, stretch)
    return shortest_changes(X, image, changes, perturbation_size(changes, norm) > 0, norm)


def attack_suite(models, X, *, norms=NORMS, box=(0.0, 1.0), gradient=None, decision=None,
                 transfer=True, progress=None):
    """Each model's smallest flips of the images ``X``, as the best of the suite.

    ``models``: dict name -> fitted classifier. Gradient attacks
    (:func:`gradient_flips`, options ``gradient``, a dict) on every model
    :func:`score_functions` accepts, HopSkipJump (:func:`decision_flips`, options
    ``decision``; ``False`` skips it) on every model, then, with ``transfer``,
    every other model's best changes tried on each (:func:`transfer_flips`).
    ``progress``: None or a callable given a line of text after each attack.

    Returns
    -------
    dict name -> norm -> dict with "sizes": dict attack -> (n,) flip sizes, inf
    where the attack found no flip (attacks "gradient:<kind>", "decision",
    "transfer" and "best"), and "perturbations": (n, d) the best changes.
    """
    for norm in norms:
        check_choice("norm", norm, NORMS)
    found = {name: {} for name in models}
    for name, model in models.items():
        try:
            score_functions(model)
            differentiable = True
        except TypeError:
            check_attackable(model)
            differentiable = False
        for norm in norms:
            attacks, seconds = {}, {}
            found[name][norm] = attacks
            clock = time.perf_counter()
            if differentiable:
                for kind, delta in gradient_flips(model, X, norm=norm, box=box,
                                                  **(gradient or {})).items():
                    attacks[f"gradient:{kind}"] = delta
                seconds["gradient"], clock = time.perf_counter() - clock, time.perf_counter()
            if decision is not False:
                attacks["decision"] = decision_flips(model, X, norm=norm, box=box,
                                                     **(decision or {}))
                seconds["decision"] = time.perf_counter() - clock
            if progress is not None:
                progress(f"{name} {norm}: " + ", ".join(
                    f"{a} median {np.median(flip_sizes(model, X, d, norm)):.3f}"
                    for a, d in attacks.items()) + " (" + ", ".join(
                    f"{a} {t:.0f} s" for a, t in seconds.items()) + ")")
    sizes = {name: {norm: {a: flip_sizes(models[name], X, d, norm)
                           for a, d in found[name][norm].items()} for norm in norms}
             for name in models}
    # transfer: every other model's best before transfer
    before = {name: {norm: _best(X, found[name][norm], sizes[name][norm]) for norm in norms}
              for name in models}
    results = {}
    for name, model in models.items():
        results[name] = {}
        for norm in norms:
            attacks, sized = found[name][norm], sizes[name][norm]
            if transfer and len(models) > 1:
                attacks["transfer"] = transfer_flips(
                    model, X, [before[o][norm] for o in models if o != name], norm=norm,
                    box=box)
                sized["transfer"] = flip_sizes(model, X, attacks["transfer"], norm)
            stacked = np.stack([*sized.values(), np.full(len(X), np.inf)])
            changes = np.stack([*attacks.values(), np.zeros_like(X)])
            sized["best"] = stacked.min(axis=0)
            results[name][norm] = {"sizes": sized, "perturbations": changes[
                stacked.argmin(axis=0), np.arange(len(changes[0]))]}
    return results


def add_flips(result, model, X, changes, *, label, norm="l2", box=(0.0, 1.0)):
    """Add more candidate changes to one model's entry of :func:`attack_suite` (in place).

    ``result``: ``attack_suite(...)[name][norm]`` for ``model`` and the images
    ``X`` (n, d); ``changes``: a list of (n, d) changes from elsewhere (an exact
    flip, or other models' changes on the same images), each tried along its
    direction and shortened by bisection in ``box`` (:func:`transfer_flips`).
    Their sizes go in ``result["sizes"][label]`` (inf where none flips), and
    "best" and "perturbations" take them where they are shorter.

    Returns
    -------
    result, updated.
    """
    delta = transfer_flips(model, X, changes, norm=norm, box=box)
    size = flip_sizes(model, X, delta, norm)
    sizes = result["sizes"]
    if len(size) != len(sizes["best"]):
        raise ValueError(f"result is for {len(sizes['best'])} images, X has {len(size)}")
    shorter = size < sizes["best"]
    sizes[label] = size
    sizes["best"] = np.where(shorter, size, sizes["best"])
    result["perturbations"][shorter] = delta[shorter]
    return result


def _best(X, found, sizes):
    """Each image's shortest flip among the changes ``found`` (dict attack -> (n, d)).

    ``sizes``: dict attack -> (n,) their :func:`flip_sizes` (inf where no flip).
    """
    if not found:                   # no attack applies (and HopSkipJump is off)
        return np.zeros_like(X)
    changes = np.stack(list(found.values()))
    sizes = np.stack([sizes[a] for a in found])
    return np.where(np.isfinite(sizes.min(axis=0))[:, None],
                    changes[sizes.argmin(axis=0), np.arange(changes.shape[1])], 0.0)


def linear_smallest_flip(model, X, norm="l2", *, changes=False):
    """Return the exact smallest flip (unclipped) of a fitted ``LogisticRegression``: (n,) sizes.

    Class c overtakes the predicted class y where (w_c - w_y) . (x + d) +
    b_c - b_y >= 0, a half-space; the smallest change reaching it has size
    |margin| / ||w_c - w_y||_2 in L2 and |margin| / ||w_c - w_y||_1 in
    L-infinity (the dual norm), margin = (w_y - w_c) . x + b_y - b_c; the
    smallest flip is the smallest of these over c (two classes: w_1 - w_0 = w).
    With ``changes``, also the changes d (n, d) themselves: margin times
    (w_c - w_y) / ||w_c - w_y||_2^2 (L2) or sign(w_c - w_y) / ||w_c - w_y||_1
    (L-infinity), which land on the boundary (a tie; stretch them a little, or
    give them to :func:`transfer_flips`, to flip).
    """
    check_choice("norm", norm, NORMS)
    inner = fitted_estimator(model)
    if not isinstance(inner, LogisticRegression):
        raise TypeError(f"model must be a fitted LogisticRegression, got "
                        f"{type(inner).__name__}")
    X = check_complete_images(X, check_attackable(model), None)
    W, b = inner.coef_, inner.intercept_
    if W.shape[0] == 1:
        W, b = np.vstack([np.zeros_like(W), W]), np.array([0.0, b[0]])
    scores = X @ W.T + b
    own = scores.argmax(axis=1)
    differences = W[None] - W[own][:, None]                       # w_c - w_y (n, C, d)
    dual = np.abs(differences).sum(-1) if norm == "linf" else np.linalg.norm(differences,
                                                                             axis=-1)
    margin = scores[np.arange(len(X)), own][:, None] - scores
    with np.errstate(divide="ignore", invalid="ignore"):
        sizes = np.where(dual > 0, margin / dual, np.inf)
    sizes[np.arange(len(X)), own] = np.inf
    if not changes:
        return sizes.min(axis=1)
    rows, target = np.arange(len(X)), sizes.argmin(axis=1)
    towards = differences[rows, target]                            # (n, d)
    direction = (np.sign(towards) if norm == "linf" else
                 towards / np.linalg.norm(towards, axis=1, keepdims=True))
    return sizes[rows, target], sizes[rows, target, None] * direction


#: The L-infinity radius of the PGD-trained MLP's adversary (pixel units): the
#: plain MLP's median smallest L-infinity flip on 60 training images (0.10, by
#: :func:`gradient_flips`), the radius at which half the training images of the
#: undefended network can be flipped. Madry et al. trained at 0.3 on MNIST, whose
#: pixels are nearly binary; the 8x8 digits are averages of 4x4 blocks, so the
#: radius is chosen from the undefended model on this data instead.
PGD_RADIUS = 0.1


def robustness_baselines(*, seed=0):
    """Chapter 9's baselines, unfitted: a dict name -> classifier.

    Logistic regression, RBF SVC and nearest neighbour with chapter 8's settings
    (:data:`~inverse_lessons.models.baselines.TUNED_BASELINES`, chosen by
    cross-validation on the training split), an MLP, the same MLP trained against a
    PGD adversary of L-infinity radius :data:`PGD_RADIUS`, and chapter 8's
    :class:`~inverse_lessons.AnalysisBySynthesis` with its defaults.
    """
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    from inverse_lessons.models.adversarial_mlp import AdversarialMLP
    from inverse_lessons.models.analysis_by_synthesis import AnalysisBySynthesis
    from inverse_lessons.models.baselines import TUNED_BASELINES

    return {
        "logistic regression": LogisticRegression(
            max_iter=5000, **TUNED_BASELINES["logistic regression"]["params"]),
        "RBF SVC": SVC(**TUNED_BASELINES["SVC"]["params"]),
        "nearest neighbour": KNeighborsClassifier(**TUNED_BASELINES["k-NN"]["params"]),
        "MLP": AdversarialMLP(random_state=seed),
        "MLP, PGD-trained": AdversarialMLP(radius=PGD_RADIUS, norm="linf", random_state=seed),
        "analysis by synthesis": AnalysisBySynthesis(random_state=seed),
    }


def nearest_neighbour_smallest_flip(X_train, y_train, X, *, tol=1e-3, changes=False):
    """Return the exact smallest L2 flip (unclipped) of 1-nearest-neighbour on ``X_train``.

    x (labelled y by its nearest training image) + d is labelled another class as
    soon as some training image b of another class is nearer than every training
    image a of class y: the polyhedron P_b = {p : 2 (a - b) . p <= |a|^2 - |b|^2
    for every a}. The smallest flip is min_b dist(x, P_b): one projection onto a
    polyhedron per b, solved by its dual, max over lambda >= 0 of
    -|G^T lambda|^2 / 2 - h . lambda (L-BFGS-B), whose value is a certified lower
    bound on dist^2 / 2 and whose d = -G^T lambda is the projection. The b are
    taken in order of a lower bound on dist(x, P_b) (the largest distance to one
    of its half-spaces); the search stops when that bound passes the best flip.

    Returns (sizes, lower), both (n,): the norms of the shortest flips found (each
    d stretched by ``tol`` relative and checked to flip 1-NN) and certified lower
    bounds on the smallest flip; with ``changes``, (sizes, lower, changes), the
    changes (n, d) themselves (stretched, so they flip 1-NN).
    """
    from scipy.optimize import minimize

    X_train = np.asarray(X_train, np.float64)
    y_train = np.asarray(y_train)
    if X_train.ndim != 2 or len(y_train) != len(X_train):
        raise ValueError("X_train must be (m, d) images and y_train their m labels, got "
                         f"shapes {X_train.shape} and {y_train.shape}")
    X = check_complete_images(X, X_train.shape[1], None)

    def predict(P):
        distances = ((P[:, None] - X_train[None]) ** 2).sum(-1)
        return y_train[distances.argmin(axis=1)]

    own = predict(X)
    sizes, lower = np.full(len(X), np.inf), np.full(len(X), np.inf)
    found = np.zeros_like(X)
    for i, x in enumerate(X):
        A, B = X_train[y_train == own[i]], X_train[y_train != own[i]]
        G = 2 * (A[None] - B[:, None])                                       # (b, a, d)
        h = (A ** 2).sum(1)[None] - (B ** 2).sum(1)[:, None] - G @ x         # (b, a)
        bound = np.max(np.maximum(-h, 0) / np.linalg.norm(G, axis=2), axis=1)
        best, best_lower = np.inf, np.inf
        for b in np.argsort(bound):
            if bound[b] >= best:
                best_lower = min(best_lower, bound[b])
                break

            def dual(lam, Gb=G[b], hb=h[b]):
                v = Gb.T @ lam
                return 0.5 * v @ v + hb @ lam, Gb @ v + hb
            fit = minimize(dual, np.zeros(len(A)), jac=True, method="L-BFGS-B",
                           bounds=[(0, None)] * len(A), options={"maxiter": 1000})
            d = -G[b].T @ fit.x
            best_lower = min(best_lower, np.sqrt(max(-2 * fit.fun, 0.0)))
            if np.linalg.norm(d) < best and predict((x + d * (1 + tol))[None])[0] != own[i]:
                best, found[i] = np.linalg.norm(d), d * (1 + tol)
        sizes[i], lower[i] = best * (1 + tol), min(best_lower, best)
    return (sizes, lower, found) if changes else (sizes, lower)


def median_interval(values, *, level=0.95, n_resamples=2000, seed=0):
    """Return the median of ``values`` and a bootstrap interval for it.

    The percentile bootstrap over the values (images): ``n_resamples``
    resamples with replacement, the median of each, and their ``(1 - level) /
    2`` and ``(1 + level) / 2`` quantiles. Infinite values (no flip found)
    count as the largest.

    Returns
    -------
    (median, low, high) : three floats.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or np.isnan(values).any():
        raise ValueError(f"values must be a non-empty 1-D array without NaN, got shape "
                         f"{values.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    n_resamples = check_int("n_resamples", n_resamples)
    rows = np.random.default_rng(seed).integers(0, len(values), (n_resamples, len(values)))
    medians = np.median(values[rows], axis=1)
    low, high = np.quantile(medians, [(1 - level) / 2, (1 + level) / 2],
                            method="inverted_cdf")       # no interpolation (inf)
    return float(np.median(values)), float(low), float(high)
