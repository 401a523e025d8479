"""An RBF support vector classifier as smooth functions of the image: its duels and votes.

A multi-class ``sklearn.svm.SVC`` predicts by one-against-one votes: for each pair
of classes (i, j) a decision function f_ij(x) = sum_s a_s exp(-gamma |x - s|^2) +
b_ij over the support vectors s, positive for a vote for i. Each f_ij is smooth
in x, with an exact gradient, which is what a gradient attack on the SVC
(:func:`~inverse_lessons.evaluation.attacks.svc_flip_l2`) needs.
:func:`svc_pair_functions` builds them from the fitted model's public attributes
and :func:`svc_votes` counts their votes.

Images are rows, pixel units.
"""

from __future__ import annotations

import numpy as np

__all__ = ["svc_pair_functions", "svc_votes"]


def svc_pair_functions(svc, gamma):
    """Return the one-against-one decision functions of a fitted RBF ``SVC`` and their gradients.

    Built from the public ``support_vectors_``, ``dual_coef_``, ``intercept_``
    and ``n_support_``: f_ij(x) = sum_s a_s exp(-gamma |x - s|^2) + b_ij, with
    gradient sum_s a_s K(x, s) (-2 gamma) (x - s), one function per pair of
    classes (i, j), i < j, in scikit-learn's order; a positive value votes for
    class i.

    Parameters
    ----------
    svc : a fitted ``sklearn.svm.SVC`` with ``kernel="rbf"``.
    gamma : float, the kernel's width (``svc.gamma``, or its value for "scale").

    Returns
    -------
    values : callable ``values(X, gradients=True, which=None)``, mapping images
        X (n, d) to the pair values (n, P) and, unless ``gradients=False``,
        their gradients (n, P, d); with ``which`` (n, q) pair indices, only
        those pairs' gradients, (n, q, d).
    pairs : (P, 2) int, the class indices (i, j) of each pair.
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


def svc_votes(f, pairs, n_classes):
    """Count the one-against-one votes of each class from the pair values.

    Parameters
    ----------
    f : ndarray of shape (n, P)
        The pair values of :func:`svc_pair_functions`; a positive value votes
        for the pair's first class, any other for its second.
    pairs : ndarray of shape (P, 2)
        The class indices (i, j) of each pair.
    n_classes : int
        C.

    Returns
    -------
    ndarray of shape (n, C)
        Votes. Their ``argmax`` is the SVC's prediction (libsvm breaks ties
        towards the lower class index, as ``np.argmax`` does).
    """
    votes = np.zeros((len(f), n_classes))
    np.add.at(votes.T, pairs[:, 0], (f > 0).T)
    np.add.at(votes.T, pairs[:, 1], (f <= 0).T)
    return votes
