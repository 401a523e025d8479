"""The robustness suite: closed forms, the suite's own check, bad input; the adversarial MLP."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from inverse_lessons._tf import tf
from inverse_lessons.data import load_digits_split
from inverse_lessons.evaluation import robustness as R
from inverse_lessons.evaluation.deepfool import perturbation_size
from inverse_lessons.evaluation.likelihood_attacks import exact_smallest_flip
from inverse_lessons.models.adversarial_mlp import AdversarialMLP
from inverse_lessons.models.analysis_by_synthesis import AnalysisBySynthesis


@pytest.fixture(scope="module")
def digits():
    X_train, y_train, X_test, y_test = load_digits_split()
    return X_train, y_train, X_test[:6], y_test[:6]


@pytest.fixture(scope="module")
def logistic(digits):
    return LogisticRegression(C=1.0, max_iter=5000).fit(*digits[:2])


def test_linear_flip_is_the_distance_to_the_hyperplane():
    # two classes in the plane: the boundary is w.x + b = 0
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-1, 0.5, (20, 2)), rng.normal(1, 0.5, (20, 2))])
    model = LogisticRegression().fit(X, np.repeat([0, 1], 20))
    w, b = model.coef_[0], model.intercept_[0]
    points = np.array([[0.3, -0.2], [-1.0, 0.4]])
    margin = np.abs(points @ w + b)
    assert np.allclose(R.linear_smallest_flip(model, points, "l2"), margin / np.linalg.norm(w))
    assert np.allclose(R.linear_smallest_flip(model, points, "linf"), margin / np.abs(w).sum())


@pytest.mark.parametrize("norm", R.NORMS)
def test_gradient_attack_finds_the_linear_models_exact_flip(logistic, digits, norm):
    X = digits[2]
    change = R.gradient_flips(logistic, X, norm=norm, box=None, restarts=0)["exact"]
    sizes = R.flip_sizes(logistic, X, change, norm)
    exact = R.linear_smallest_flip(logistic, X, norm)
    assert np.all(sizes >= exact * (1 - 1e-6))          # nothing beats the exact flip
    assert np.all(sizes <= exact * 1.01)


def test_suite_reaches_the_one_generator_models_exact_flip(digits):
    # the suite's own check: within 3 % of the trust-region solution on every image
    model = AnalysisBySynthesis(n_components=1).fit(*digits[:2])
    X = digits[2][:4]
    result = R.attack_suite({"one generator": model}, X, norms=("l2",), box=None,
                            gradient=dict(restarts=0),
                            decision=dict(max_iter=3, max_eval=200, init_eval=20))
    best = result["one generator"]["l2"]["sizes"]["best"]
    exact = np.linalg.norm(exact_smallest_flip(model, X)[0], axis=1)
    assert np.all(best >= exact * (1 - 1e-6)) and np.all(best <= exact * 1.03)
    change = result["one generator"]["l2"]["perturbations"]
    assert np.all(model.predict(X + change) != model.predict(X))


def test_decision_and_transfer_attacks_flip_with_predictions_only(logistic, digits):
    X = digits[2][:4]
    change = R.decision_flips(logistic, X, norm="l2", max_iter=5, max_eval=300, init_eval=30)
    assert np.array_equal(change, R.decision_flips(logistic, X, norm="l2", max_iter=5,
                                                   max_eval=300, init_eval=30))  # seeded
    sizes = R.flip_sizes(logistic, X, change, "l2")
    assert np.all(np.isfinite(sizes))
    assert np.all(sizes >= R.linear_smallest_flip(logistic, X, "l2") * (1 - 1e-6))
    inside = X + change
    assert inside.min() >= 0.0 and inside.max() <= 1.0
    # a model's own changes, transferred to itself, flip it again, no longer than before
    again = R.transfer_flips(logistic, X, [change], norm="l2")
    assert np.all(R.flip_sizes(logistic, X, again, "l2") <= sizes * (1 + 1e-9))
    knn = KNeighborsClassifier(n_neighbors=1).fit(*digits[:2])
    moved = R.transfer_flips(knn, X, [change * 3], norm="l2")
    flipped = np.isfinite(R.flip_sizes(knn, X, moved, "l2"))
    assert np.all(knn.predict(X[flipped] + moved[flipped]) != knn.predict(X[flipped]))


def test_score_functions_give_each_models_own_scores(digits):
    X_train, y_train, X = digits[0], digits[1], digits[2]
    three = np.isin(y_train, [0, 1, 2])
    svc = SVC(C=3.0, gamma=0.4, decision_function_shape="ovo").fit(X_train[three],
                                                                  y_train[three])
    pairs = svc.decision_function(X)                           # (0,1), (0,2), (1,2)
    signs = np.array([[1, -1, 0], [1, 0, -1], [0, 1, -1]])
    scores = R.score_functions(svc)["exact"](tf.constant(X)).numpy()
    assert np.allclose(scores, pairs @ signs)
    model = AnalysisBySynthesis().fit(X_train, y_train)
    scores = R.score_functions(model)["exact"](tf.constant(X)).numpy()
    assert np.allclose(scores, model.decision_function(X), atol=1e-6)
    grid = GridSearchCV(LogisticRegression(max_iter=2000), {"C": [1.0]}, cv=2)
    assert list(R.score_functions(grid.fit(X_train, y_train))) == ["exact"]


class _Inference(ClassifierMixin, BaseEstimator):
    """A stand-in with chapter 9's interface: scores with two kinds of gradient."""

    def __init__(self, model=None):
        self.model = model

    def fit(self, X, y):
        self.classes_, self.n_features_in_, self.kinds_ = self.model.classes_, X.shape[1], []
        return self

    def predict(self, X):
        return self.model.predict(X)

    def differentiable_scores(self, X, *, gradient="unrolled"):
        self.kinds_.append(gradient)
        return R.score_functions(self.model)["exact"](X)


def test_both_gradients_of_an_inference_are_tried(logistic, digits):
    stand_in = _Inference(logistic).fit(*digits[:2])
    changes = R.gradient_flips(stand_in, digits[2][:2], restarts=0, max_iter=5,
                               radius_steps=1, refine_steps=0)
    assert set(changes) == {"unrolled", "envelope"} and set(stand_in.kinds_) == set(changes)


def test_bad_input(logistic, digits):
    knn = KNeighborsClassifier().fit(*digits[:2])
    with pytest.raises(TypeError, match="differentiable_scores"):
        R.gradient_flips(knn, digits[2])
    with pytest.raises(TypeError, match="predict"):
        R.decision_flips(object(), digits[2])
    with pytest.raises(TypeError, match="gamma"):
        R.score_functions(SVC().fit(*digits[:2]))
    with pytest.raises(ValueError, match=r"\(n, 64\)"):
        R.gradient_flips(logistic, digits[2][:, :10])
    with pytest.raises(ValueError, match=r"\(n, 64\)"):
        R.transfer_flips(logistic, digits[2], [digits[2][:, :3]])
    bad = digits[2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        R.decision_flips(logistic, bad)
    with pytest.raises(ValueError, match="box"):
        R.gradient_flips(logistic, digits[2] + 2.0)
    with pytest.raises(ValueError, match="norm"):
        R.linear_smallest_flip(logistic, digits[2], norm="l1")


def test_adversarial_mlp_scores_and_gradients(digits):
    X_train, y_train, X = digits[0], digits[1], digits[2]
    model = AdversarialMLP(hidden_units=(16,), epochs=3, radius=0.1, pgd_steps=2)
    model.fit(X_train, y_train)
    assert np.array_equal(model.predict(X), model.classes_[model.class_scores(X).argmax(1)])
    assert np.allclose(model.predict_proba(X).sum(axis=1), 1.0)
    # the gradient of a score matches a central finite difference
    x = tf.constant(X[:1], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = model.differentiable_scores(x)[0, 3]
    gradient = tape.gradient(score, x).numpy()[0]
    e = np.zeros(64)
    e[10] = 1e-2
    difference = (model.class_scores(X[:1] + e) - model.class_scores(X[:1] - e))[0, 3] / 2e-2
    assert np.isclose(gradient[10], difference, rtol=1e-2, atol=1e-3)
    with pytest.raises(ValueError, match="norm"):
        AdversarialMLP(norm="l1").fit(X_train, y_train)


def test_baselines_are_the_issues_six():
    models = R.robustness_baselines(seed=1)
    assert list(models) == ["logistic regression", "RBF SVC", "nearest neighbour", "MLP",
                            "MLP, PGD-trained", "analysis by synthesis"]
    assert models["MLP, PGD-trained"].radius == R.PGD_RADIUS > 0 == models["MLP"].radius
    assert isinstance(models["analysis by synthesis"], AnalysisBySynthesis)


def test_nearest_neighbours_exact_flip_in_closed_form():
    # two training points: the boundary is their bisector, at half their distance
    X_train, y_train = np.array([[0.0, 0.0], [2.0, 0.0]]), np.array([0, 1])
    X = np.array([[0.5, 0.3], [1.8, -0.4]])
    sizes, lower = R.nearest_neighbour_smallest_flip(X_train, y_train, X, tol=1e-6)
    assert np.allclose(sizes, [0.5, 0.8], rtol=1e-5) and np.allclose(lower, [0.5, 0.8])


def test_nearest_neighbours_exact_flip_bounds_the_attacks(digits):
    X_train, y_train, X = digits[0], digits[1], digits[2][:2]
    sizes, lower = R.nearest_neighbour_smallest_flip(X_train, y_train, X)
    assert np.all(lower <= sizes) and np.all(sizes <= lower * 1.01)
    knn = KNeighborsClassifier(n_neighbors=1).fit(X_train, y_train)
    change = R.decision_flips(knn, X, box=None, max_iter=3, max_eval=100, init_eval=10)
    assert np.all(R.flip_sizes(knn, X, change, "l2") >= lower * (1 - 1e-9))


@pytest.mark.parametrize("norm", R.NORMS)
def test_linear_flips_changes_reach_the_boundary(logistic, digits, norm):
    X = digits[2]
    sizes, changes = R.linear_smallest_flip(logistic, X, norm, changes=True)
    assert np.allclose(sizes, R.linear_smallest_flip(logistic, X, norm))
    assert np.allclose(perturbation_size(changes, norm), sizes)
    # on the boundary: the own class and the runner-up tie
    scores = logistic.decision_function(X + changes)
    top_two = np.sort(scores, axis=1)[:, -2:]
    assert np.allclose(top_two[:, 0], top_two[:, 1], atol=1e-8)
    assert np.all(logistic.predict(X + 1.001 * changes) != logistic.predict(X))


def test_nearest_neighbours_exact_changes_flip(digits):
    X_train, y_train, X = digits[0], digits[1], digits[2][:2]
    sizes, lower, changes = R.nearest_neighbour_smallest_flip(X_train, y_train, X,
                                                              changes=True)
    assert np.allclose(np.linalg.norm(changes, axis=1), sizes)
    knn = KNeighborsClassifier(n_neighbors=1).fit(X_train, y_train)
    assert np.all(knn.predict(X + changes) != knn.predict(X))


def test_median_interval():
    rng = np.random.default_rng(1)
    values = rng.exponential(size=101)
    median, low, high = R.median_interval(values)
    assert median == np.median(values) and low < median < high
    assert R.median_interval(np.full(7, 0.5)) == (0.5, 0.5, 0.5)
    wide = R.median_interval(values[:11])          # fewer values, a wider interval
    assert wide[2] - wide[1] > high - low
    assert R.median_interval([1.0, np.inf, np.inf])[0] == np.inf   # no flip: largest
    with pytest.raises(ValueError, match="values"):
        R.median_interval([])
    with pytest.raises(ValueError, match="level"):
        R.median_interval(values, level=1.5)


def test_added_flips_take_over_where_shorter(logistic, digits):
    X = digits[2][:4]
    result = R.attack_suite({"lr": logistic}, X, norms=("l2",),
                            gradient=dict(restarts=0, max_iter=5), decision=False)["lr"]["l2"]
    result["sizes"]["best"][:] = np.inf            # pretend nothing was found
    result["perturbations"][:] = 0.0
    _, exact = R.linear_smallest_flip(logistic, X, "l2", changes=True)
    R.add_flips(result, logistic, X, [exact], label="exact", norm="l2")
    sizes = result["sizes"]
    assert np.array_equal(sizes["best"], sizes["exact"]) and np.all(np.isfinite(sizes["best"]))
    assert np.all(sizes["exact"] >= np.linalg.norm(exact, axis=1) * (1 - 1e-9))  # the box
    assert np.all(logistic.predict(X + result["perturbations"]) != logistic.predict(X))
    R.add_flips(result, logistic, X, [exact], label="no box", norm="l2", box=None)
    assert np.allclose(sizes["no box"], np.linalg.norm(exact, axis=1), rtol=1e-3)
    with pytest.raises(ValueError, match="images"):
        R.add_flips(result, logistic, X[:2], [exact[:2]], label="again")


def test_a_model_no_attack_applies_to_is_left_unflipped(digits):
    # 1-NN has no gradient: without HopSkipJump only transfer can flip it
    knn = KNeighborsClassifier(n_neighbors=1).fit(*digits[:2])
    X = digits[2][:3]
    alone = R.attack_suite({"1-NN": knn}, X, norms=("l2",), decision=False)
    assert np.all(np.isinf(alone["1-NN"]["l2"]["sizes"]["best"]))
    assert not alone["1-NN"]["l2"]["perturbations"].any()
