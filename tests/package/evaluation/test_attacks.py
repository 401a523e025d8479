"""Flip searches (inverse_lessons.evaluation.attacks, .deepfool, .svc_pairs and
.likelihood_attacks) and the exact smallest flip of a one-generator-per-class
AnalysisBySynthesis, against brute force and closed forms."""

import copy

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from inverse_lessons import AnalysisBySynthesis
from inverse_lessons.data import load_digits_split
from inverse_lessons.evaluation.attacks import boundary_flip_l2, svc_flip_l2
from inverse_lessons.evaluation.deepfool import deepfool_runs, free_directions
from inverse_lessons.evaluation.likelihood_attacks import (
    complete_image_scores,
    exact_smallest_flip,
    smallest_flip_l2,
    smallest_quadric_step,
)
from inverse_lessons.evaluation.svc_pairs import svc_pair_functions

X_TRAIN, Y_TRAIN, X_TEST, Y_TEST = load_digits_split()


@pytest.fixture(scope="module")
def single():
    return AnalysisBySynthesis(n_components=1, random_state=0).fit(X_TRAIN, Y_TRAIN)


def test_exact_smallest_flip_against_a_dense_polar_grid():
    """Two dimensions, three Gaussian classes with covariances of their own: the
    boundaries are curved (conics), and the grid is scored by scipy's densities."""
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, [1.0, 0.3], (80, 2)), rng.normal([1.5, 1.0], 0.4, (80, 2)),
                   rng.normal([-1.2, 1.2], [0.3, 0.8], (80, 2))])
    m = AnalysisBySynthesis(n_latent=1, n_components=1, min_variance=1e-3).fit(
        X, np.repeat([0, 1, 2], 80))

    def predict(P):
        scores = [multivariate_normal(m.means_[c, 0], m.components_[c, 0] @ m.components_[c, 0].T
                                      + np.diag(m.noise_variances_[c, 0])).logpdf(P).reshape(-1)
                  for c in range(3)]
        return np.argmax(np.stack(scores, axis=1) + m.class_log_prior_, axis=1)

    points = X[::20]
    own = predict(points)
    delta, across = exact_smallest_flip(m, points)
    exact = np.linalg.norm(delta, axis=1)
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    for x, label, r, d, c in zip(points, own, exact, delta, across, strict=True):
        radii = r * np.linspace(0, 1.02, 256)[1:]           # steps of 0.4 % of r
        flips = predict((x + radii[None, :, None] * directions[:, None]).reshape(-1, 2))
        flips = flips.reshape(len(angles), -1) != label
        grid = radii[flips.argmax(axis=1)[flips.any(axis=1)]].min()
        # nothing inside the circle of radius r flips; on the grid, just past it, a point does
        assert r <= grid <= r * 1.01
        assert predict((x + 1.001 * d)[None])[0] != label
        assert predict((x + 0.999 * d)[None])[0] == label and c != label


def test_exact_smallest_flip_on_digits_is_a_tie_and_no_random_change_beats_it(single):
    X = X_TEST[:40]
    before = single.predict(X)
    delta, across = exact_smallest_flip(single, X)
    r = np.linalg.norm(delta, axis=1)
    assert np.all(single.predict(X + 1.001 * delta) != before)
    assert np.all(single.predict(X + 0.999 * delta) == before)
    scores = single.log_likelihoods(X + delta) + single.class_log_prior_
    index = np.searchsorted(single.classes_, np.stack([before, across]))
    tie = scores[np.arange(len(X)), index[0]] - scores[np.arange(len(X)), index[1]]
    np.testing.assert_allclose(tie, 0, atol=1e-6)
    # changes of 0.99 times the smallest: random directions, and the exact one turned
    # a little at random, never flip
    rng = np.random.default_rng(0)
    for i in range(len(X)):
        u = rng.standard_normal((400, 64))
        u[200:] = delta[i] / r[i] + 0.2 * u[200:] / np.sqrt(64)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        assert np.all(single.predict(X[i] + 0.99 * r[i] * u) == before[i])


def test_the_attack_reaches_the_exact_smallest_flip_within_3_percent(single):
    X = X_TEST[:100]
    exact = np.linalg.norm(exact_smallest_flip(single, X)[0], axis=1)
    delta, flipped = smallest_flip_l2(single, X)
    ratio = np.linalg.norm(delta, axis=1) / exact
    assert flipped.all() and np.all(ratio >= 1 - 1e-6) and np.all(ratio <= 1.03)
    # the exact problem is unclipped: a change kept in [0, 1] can only be larger
    clipped, flipped = smallest_flip_l2(single, X, box=(0.0, 1.0))
    assert flipped.all()
    assert np.all(np.linalg.norm(clipped, axis=1) >= exact * (1 - 1e-6))
    assert (X + clipped).min() >= 0 and (X + clipped).max() <= 1
    assert np.all(single.predict(X + clipped) != single.predict(X))


def test_smallest_quadric_step_hard_case_against_brute_force():
    """g has no part along H's top eigenvector: the secular equation has no root
    above h_max, and the answer leaves the curve d(m) along that eigenvector."""
    h = np.array([-1.0, 2.0])                     # ascending; the top one is 2
    for g, q0 in [((0.5, 0.0), -1.0), ((0.3, 0.4), -1.0), ((1.0, 0.0), -0.1)]:
        g = np.array(g)
        step, size = smallest_quadric_step(h[None], g[None], np.array([q0]))
        assert np.isclose(0.5 * np.sum(h * step[0] ** 2) + g @ step[0] + q0, 0, atol=1e-9)
        angles = np.linspace(0, 2 * np.pi, 4000, endpoint=False)
        radii = np.linspace(0, 3, 1501)[1:]
        z = radii[:, None, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)[None]
        q = 0.5 * (z ** 2 * h).sum(axis=2) + z @ g + q0
        brute = radii[np.argmax((q >= 0).any(axis=1))]
        assert brute - 0.002 <= size[0] <= brute + 1e-9
    # unreachable: H negative definite and q bounded below zero
    _, size = smallest_quadric_step(np.array([[-2.0, -1.0]]), np.array([[0.1, 0.1]]),
                                     np.array([-1.0]))
    assert size[0] == np.inf


def test_exact_smallest_flip_refuses_mixtures_and_other_models():
    mixture = AnalysisBySynthesis(n_latent=4, n_components=2, random_state=0)
    mixture.fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError, match="one generator per class"):
        exact_smallest_flip(mixture, X_TEST[:2])
    with pytest.raises(TypeError, match="AnalysisBySynthesis"):
        exact_smallest_flip(LogisticRegression(), X_TEST[:2])


@pytest.fixture(scope="module")
def svc():
    return SVC(C=10.0, gamma=0.05).fit(X_TRAIN, Y_TRAIN)


def test_svc_pair_functions_and_gradients(svc):
    values, pairs = svc_pair_functions(svc, 0.05)
    X = X_TEST[:5]
    f, grad = values(X)
    ovo = copy.deepcopy(svc).set_params(decision_function_shape="ovo")
    np.testing.assert_allclose(f, ovo.decision_function(X), rtol=1e-10, atol=1e-10)
    eps = 1e-6
    for i in [0, 17, 40]:
        e = np.zeros(64)
        e[i] = eps
        numeric = (values(X + e, gradients=False) - values(X - e, gradients=False)) / (2 * eps)
        np.testing.assert_allclose(grad[:, :, i], numeric, rtol=1e-5, atol=1e-7)


def test_svc_flip_l2_flips_in_the_box_and_beats_the_nearest_training_image(svc):
    X = X_TEST[:10]
    delta, flipped = svc_flip_l2(svc, X)
    before = svc.predict(X)
    assert flipped.all() and np.all(svc.predict(X + delta) != before)
    assert (X + delta).min() >= 0 and (X + delta).max() <= 1
    norms = np.linalg.norm(delta, axis=1)
    labels = svc.predict(X_TRAIN)
    for i in range(len(X)):
        assert norms[i] <= np.linalg.norm(X_TRAIN[labels != before[i]] - X[i], axis=1).min()
    plain, _ = svc_flip_l2(svc, X, refine_steps=0)
    assert np.all(norms <= np.linalg.norm(plain, axis=1) + 1e-12)
    with pytest.raises(ValueError, match="gamma"):
        svc_flip_l2(SVC().fit(X_TRAIN[:200], Y_TRAIN[:200]), X)
    with pytest.raises(ValueError, match="reproduce"):
        svc_flip_l2(svc, X, gamma=0.5)
    with pytest.raises(ValueError, match="box"):
        svc_flip_l2(svc, X - 0.5)


def test_boundary_flip_l2_nears_the_exact_flip_of_logistic_regression():
    """Logistic regression's smallest flip (no box) is exact: the nearest of its
    hyperplanes a_t - a_j = 0. The decision-based search sees predictions only."""
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(X_TRAIN, Y_TRAIN)
    X = X_TEST[:15]
    logits = lr.decision_function(X)
    top, rows = logits.argmax(axis=1), np.arange(len(X))
    steep = np.linalg.norm(lr.coef_[top][:, None] - lr.coef_[None], axis=2)
    gaps = (logits[rows, top][:, None] - logits) / np.maximum(steep, 1e-12)
    gaps[rows, top] = np.inf
    exact = gaps.min(axis=1)
    delta, flipped = boundary_flip_l2(lr.predict, X, X_TRAIN, box=None)
    found = np.linalg.norm(delta, axis=1)
    assert flipped.all() and np.all(found >= exact * (1 - 1e-9))
    unrefined = np.linalg.norm(boundary_flip_l2(lr.predict, X, X_TRAIN, box=None,
                                                refine_steps=0)[0], axis=1)
    assert np.median(found / exact) < 1.1 < np.median(unrefined / exact)
    assert np.all(found <= unrefined + 1e-12)


def test_boundary_flip_l2_on_k_nn_keeps_the_box():
    knn = KNeighborsClassifier(n_neighbors=1).fit(X_TRAIN, Y_TRAIN)
    X = X_TEST[:5]
    delta, flipped = boundary_flip_l2(knn.predict, X, X_TRAIN, refine_steps=5)
    assert flipped.all() and np.all(knn.predict(X + delta) != knn.predict(X))
    assert (X + delta).min() >= 0 and (X + delta).max() <= 1
    with pytest.raises(ValueError, match="box"):
        boundary_flip_l2(knn.predict, X, X_TRAIN, box=(1, 0))
    with pytest.raises(ValueError, match="n_probes"):
        boundary_flip_l2(knn.predict, X, X_TRAIN, n_probes=1)


def test_deepfool_runs_take_one_exact_step_across_a_hyperplane():
    """A linear score gap f(x) = w.x + b < 0: one step moves (1 + overshoot) times the
    distance to the hyperplane along w (the closed form), which flips every image;
    an image with two runs keeps one of them."""
    rng = np.random.default_rng(0)
    w, X = rng.standard_normal(6), rng.standard_normal((4, 6))
    b = -(X @ w).max() - 0.5                 # every image on the side f < 0

    def predict(points):
        return (points @ w + b > 0).astype(int)

    def gap_and_slope(points, runs):       # the gap f and its gradient w
        return points @ w + b, np.tile(w, (len(points), 1))

    image = np.array([0, 1, 1, 2, 3])      # image 1 has two (identical) runs
    found, delta = deepfool_runs(X, image, predict(X), gap_and_slope, predict,
                                 max_iter=1, overshoot=0.02, box=None)
    expected = -1.02 * ((X @ w + b) / (w @ w))[:, None] * w[None]
    assert np.array_equal(found, np.arange(4))
    np.testing.assert_allclose(delta, expected, rtol=1e-12, atol=1e-12)
    assert np.all(predict(X + delta) == 1)


def test_deepfool_runs_in_linf_step_along_the_sign_and_start_where_told():
    """The same hyperplane in L-infinity: one step of (1 + overshoot) |f| / ||w||_1 along
    sign(w), the smallest L-infinity step to it, kept by its L-infinity size; a run
    started on the other side takes no step, and an image's shorter run wins."""
    rng = np.random.default_rng(1)
    w, X = rng.standard_normal(6), rng.standard_normal((3, 6))
    b = -(X @ w).max() - 0.5

    def predict(points):
        return (points @ w + b > 0).astype(int)

    def gap_and_slope(points, runs):
        return points @ w + b, np.tile(w, (len(points), 1))

    far = X[2] + 10 * np.sign(w)              # flipped already: a long change
    near = X[2] + 1e-3 * np.sign(w)           # unflipped: one step from near X[2]
    image = np.array([0, 1, 2, 2])
    start = np.vstack([X[0], X[1], far, near])
    found, delta = deepfool_runs(X, image, predict(X), gap_and_slope, predict, max_iter=1,
                                 overshoot=0.02, box=None, norm="linf", start=start)
    gap = X @ w + b
    expected = -1.02 * (gap / np.abs(w).sum())[:, None] * np.sign(w)[None]
    assert np.array_equal(found, np.arange(3))
    np.testing.assert_allclose(delta[:2], expected[:2], rtol=1e-12, atol=1e-12)
    step = -1.02 * (near @ w + b) / np.abs(w).sum() * np.sign(w)
    np.testing.assert_allclose(delta[2], near + step - X[2], rtol=1e-12, atol=1e-12)
    assert np.abs(delta[2]).max() < 10 and np.all(predict(X + delta) == 1)


def test_complete_image_scores_refuses_other_models(svc):
    with pytest.raises(TypeError, match="AnalysisBySynthesis"):
        complete_image_scores(svc)


def test_free_directions_leave_the_pixels_the_box_stops():
    points = np.array([[0.0, 0.0, 0.5, 1.0, 1.0]])
    normal = np.array([[-1.0, 2.0, -3.0, 4.0, -5.0]])
    # a pixel at 0 may not fall, one at 1 may not rise; the others move freely
    np.testing.assert_array_equal(free_directions(normal, points, (0.0, 1.0)),
                                  [[0.0, 2.0, -3.0, 0.0, -5.0]])
    assert free_directions(normal, points, None) is normal
