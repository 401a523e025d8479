"""DeepFool: the loop of a gradient attack, given each point's gap to a boundary and its slope.

DeepFool (Moosavi-Dezfooli et al. 2016) linearises, at the point a run has
reached, the gap between the score of the class it aims at and its own, and
steps to where that linearisation crosses zero, a little beyond; it repeats
until the prediction changes. :func:`deepfool_runs` is that loop for any
classifier that can give the gaps and their gradients (the RBF SVC of
:func:`~inverse_lessons.evaluation.attacks.svc_flip_l2`, the likelihood model
of :func:`~inverse_lessons.evaluation.likelihood_attacks.smallest_flip_l2`);
:func:`free_directions` is the rule by which a step inside the pixel box leaves
alone the pixels at a bound it would push out (the refinement of
:func:`~inverse_lessons.evaluation.attacks.refine_flip` uses it too).

Images are rows, pixel units; ``box=(low, high)`` or None, checked by the caller.
"""

from __future__ import annotations

import numpy as np

__all__ = ["deepfool_runs", "free_directions"]


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



def _shortest_runs(X, image, current, flipped):
    """Find each image's shortest flipping run.

    The rows of ``current`` (runs, d), started from ``X[image]``, that flip and are
    nearest their image, as (found, delta): the images with such a run, and the change
    (n, d) it makes (zero where none flips).
    """
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


def deepfool_runs(X, image, own, gap_and_slope, predict, *, max_iter, overshoot, box):
    """DeepFool runs from images until each run's prediction changes; the shortest per image.

    DeepFool (Moosavi-Dezfooli et al. 2016): at the point x a run has reached,
    the gap f < 0 between the score of the class it aims at and its own class
    is linearised, f + g^T d, and x moves to that linearised boundary times
    ``1 + overshoot``: x <- x - (1 + overshoot) f g / |g|^2 (in the box,
    pixels at a bound that the step would push out are left alone, and the
    point is clipped to it). A run stops when its prediction changes, or after
    ``max_iter`` steps.

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

    Returns
    -------
    found : (k,) int, the images with a run that flipped.
    delta : (n, d) each image's shortest flipping change; zero where none flipped.
    """
    current = X[image].copy()
    flipped = np.zeros(len(image), bool)
    for _ in range(max_iter):
        active = np.flatnonzero(~flipped)
        if active.size == 0:
            break
        f, g = gap_and_slope(current[active], active)
        g = free_directions(g, current[active], box)      # the step moves along +g
        squared = np.sum(g ** 2, axis=1) + 1e-24
        moved = current[active] - ((1 + overshoot) * f / squared)[:, None] * g
        current[active] = moved if box is None else np.clip(moved, *box)
        flipped[active] = predict(current[active]) != own[image[active]]
    return _shortest_runs(X, image, current, flipped)
