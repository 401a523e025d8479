"""DeepFool: the loop of a gradient attack, given each point's gap to a boundary and its slope.

DeepFool (Moosavi-Dezfooli et al. 2016) linearises, at the point a run has
reached, the gap between the score of the class it aims at and its own, and
steps to where that linearisation crosses zero, a little beyond; it repeats
until the prediction changes. :func:`deepfool_runs` is that loop, in L2 or
L-infinity, for any classifier that can give the gaps and their gradients (the
RBF SVC of :func:`~inverse_lessons.evaluation.attacks.svc_flip_l2`, the
likelihood model of
:func:`~inverse_lessons.evaluation.likelihood_attacks.smallest_flip_l2`, any
differentiable model of
:func:`~inverse_lessons.evaluation.gradient_attacks.gradient_flips`);
:func:`free_directions` is the rule by which a step inside the pixel box leaves
alone the pixels at a bound it would push out (the refinement of
:func:`~inverse_lessons.evaluation.attacks.refine_flip` uses it too).
:func:`perturbation_size` and :func:`shortest_changes` measure changes and keep
each image's shortest flip among several runs.

Images are rows, pixel units; ``box=(low, high)`` or None, checked by the caller.
"""

from __future__ import annotations

import numpy as np

__all__ = ["deepfool_runs", "free_directions", "perturbation_size", "shortest_changes"]


def free_directions(normal, points, box):
    """Zero the components of directions that would push a pixel out of the box.

    Parameters
    ----------
    normal : ndarray of shape (..., d)
        Directions of a step, one per point.
    points : ndarray of shape (..., d)
        The points the steps start from (broadcast against ``normal``).
    box : tuple (low, high) or None
        The pixel range (checked); None leaves the directions as they are.

    Returns
    -------
    ndarray of shape (..., d)
        ``normal`` with 0 where a pixel at ``low`` would fall or a pixel at
        ``high`` would rise.
    """
    if box is None:
        return normal
    stuck = ((points <= box[0]) & (normal < 0)) | ((points >= box[1]) & (normal > 0))
    return np.where(stuck, 0.0, normal)


def perturbation_size(delta, norm):
    """Return the size of each change, the rows of ``delta``.

    Parameters
    ----------
    delta : ndarray of shape (n, d)
        Changes, pixel units.
    norm : {"l2", "linf"}
        The norm they are measured in.

    Returns
    -------
    ndarray of shape (n,)
    """
    return np.linalg.norm(delta, axis=1) if norm == "l2" else np.abs(delta).max(axis=1)


def shortest_changes(X, image, change, flipped, norm):
    """Return each image's shortest flipping change among several.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The images.
    image : ndarray of shape (r,), int
        The image each change is made to (an image may have several).
    change : ndarray of shape (r, d)
        The changes.
    flipped : ndarray of shape (r,), bool
        Whether each change flips its image.
    norm : {"l2", "linf"}
        The norm "shortest" is measured in.

    Returns
    -------
    ndarray of shape (n, d)
        The shortest flipping change of each image; zero where none flips.
    """
    size = np.where(flipped, perturbation_size(change, norm), np.inf)
    delta = np.zeros_like(X)
    for row in np.argsort(-size):          # each image's shortest comes last
        if np.isfinite(size[row]):
            delta[image[row]] = change[row]
    return delta


def deepfool_runs(X, image, own, gap_and_slope, predict, *, max_iter, overshoot, box,
                  norm="l2", start=None):
    """DeepFool runs from images until each run's prediction changes; the shortest per image.

    DeepFool (Moosavi-Dezfooli et al. 2016): at the point x a run has reached,
    the gap f < 0 between the score of the class it aims at and its own class
    is linearised, f + g^T d, and x moves to that linearised boundary times
    ``1 + overshoot`` by the smallest step in ``norm``: in L2
    x <- x - (1 + overshoot) f g / |g|_2^2, in L-infinity
    x <- x - (1 + overshoot) f sign(g) / |g|_1 (in the box, pixels at a bound
    that the step would push out are left alone, and the point is clipped to
    it). A run stops when its prediction changes, or after ``max_iter`` steps.

    Parameters
    ----------
    X : (n, d) images, pixel units.
    image : (r,) int, the image each run starts from (an image may have several).
    own : (n,) the images' labels as ``predict`` gives them.
    gap_and_slope : callable ``(points, runs) -> (f, g)``: for the points
        (m, d) the runs ``runs`` (m,) (indices into ``image``) have reached,
        the gaps f (m,), negative, and their gradients g (m, d) in x.
    predict : callable mapping images (m, d) to labels (m,).
    max_iter : int, the most steps a run takes.
    overshoot : float >= 0, how far beyond the linearised boundary a step goes.
    box : None or (low, high), checked.
    norm : "l2" or "linf", the norm of the steps and of "shortest".
    start : None or (r, d), where the runs start (in the box), such as random
        points near their images; a run whose start ``predict`` already labels
        otherwise takes no step. None: at the images themselves.

    Returns
    -------
    found : (k,) int, the images with a run that flipped.
    delta : (n, d) each image's shortest flipping change; zero where none flipped.
    """
    if start is None:
        current, flipped = X[image].copy(), np.zeros(len(image), bool)
    else:
        current = np.array(start, dtype=np.float64)
        flipped = predict(current) != own[image]
    for _ in range(max_iter):
        active = np.flatnonzero(~flipped)
        if active.size == 0:
            break
        f, g = gap_and_slope(current[active], active)
        g = free_directions(g, current[active], box)      # the step moves along +g
        if norm == "l2":
            dual, direction = np.sum(g ** 2, axis=1), g
        else:
            dual, direction = np.abs(g).sum(axis=1), np.sign(g)
        moved = current[active] - ((1 + overshoot) * f / (dual + 1e-24))[:, None] * direction
        current[active] = moved if box is None else np.clip(moved, *box)
        flipped[active] = predict(current[active]) != own[image[active]]
    return (np.unique(image[flipped]),
            shortest_changes(X, image, current - X[image], flipped, norm))
