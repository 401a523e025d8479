"""The strong baselines for damaged digits: four fillings before three tuned classifiers."""

import numpy as np
import pytest

from inverse_lessons.damage import drop_block, drop_pixels
from inverse_lessons.data import load_digits_split
from inverse_lessons.models.baselines import DamagedBaselines

X_TRAIN, Y_TRAIN, X_TEST, Y_TEST = load_digits_split()
X_TEST, Y_TEST = X_TEST[:200], Y_TEST[:200]


@pytest.fixture(scope="module")
def fitted():
    return DamagedBaselines().fit(X_TRAIN, Y_TRAIN)


@pytest.fixture(scope="module")
def tiny():
    """Ten 3-pixel images on a line: pixel 2 is 100 + pixel 0, pixel 1 is 0."""
    i = np.arange(10.0)
    X = np.stack([i, np.zeros(10), 100.0 + i], axis=1)
    return DamagedBaselines().fit(X, (i >= 5).astype(int)), X


def test_knn_imputer_averages_the_five_nearest_training_images(tiny):
    baselines, X = tiny
    # Nearest on the observed pixels 0 and 1: images 2, 3, 1, 4, 0 (pixel 0 = 0..4),
    # whose pixel 2 averages 102; the zero and mean fillings give 0 and 104.5.
    test = np.array([[2.2, 0.0, np.nan]])
    assert baselines.fill(test, "KNNImputer")[0, 2] == pytest.approx(102.0)
    assert baselines.fill(test, "zero")[0, 2] == 0.0
    assert baselines.fill(test, "mean")[0, 2] == pytest.approx(104.5)
    # Pixel 2 is an exact linear function of pixel 0: the iterative imputer finds it.
    assert baselines.fill(test, "IterativeImputer")[0, 2] == pytest.approx(102.2, abs=0.5)


def test_scores_has_every_classifier_after_every_filling(fitted):
    scores = fitted.scores(drop_pixels(X_TEST, 0.5, seed=0), Y_TEST)
    expected = [f"{c} after {f}" for c in DamagedBaselines.CLASSIFIERS
                for f in DamagedBaselines.FILLINGS]
    assert list(scores) == expected and len(expected) == 12
    assert all(0.0 <= a <= 1.0 for a in scores.values())


def test_scores_are_the_accuracies_of_the_filled_images(fitted):
    damaged = drop_pixels(X_TEST, 0.5, seed=1)
    scores = fitted.scores(damaged, Y_TEST)
    for name, model in fitted.classifiers_.items():
        for filling in DamagedBaselines.FILLINGS:
            predicted = model.predict(fitted.fill(damaged, filling))
            assert scores[f"{name} after {filling}"] == np.mean(predicted == Y_TEST)


def test_filling_never_sees_test_labels_or_other_test_images(fitted):
    """The filling of an image depends on that image and the training split only."""
    damaged = drop_pixels(X_TEST, 0.5, seed=2)
    shuffled = np.random.default_rng(0).permutation(Y_TEST)
    for filling in DamagedBaselines.FILLINGS:
        whole = fitted.fill(damaged, filling)
        np.testing.assert_allclose(fitted.fill(damaged[:7], filling), whole[:7],
                                   rtol=0, atol=1e-12)
        np.testing.assert_array_equal(whole[~np.isnan(damaged)],
                                      damaged[~np.isnan(damaged)])
        assert not np.isnan(whole).any()
    a, b = fitted.scores(damaged, Y_TEST), fitted.scores(damaged, shuffled)
    assert max(b.values()) < 0.3 < min(v for k, v in a.items() if "zero" not in k)


def test_fully_observed_images_score_the_same_after_every_filling(fitted):
    scores = fitted.scores(X_TEST, Y_TEST)
    for name in DamagedBaselines.CLASSIFIERS:
        values = {scores[f"{name} after {f}"] for f in DamagedBaselines.FILLINGS}
        assert len(values) == 1 and values.pop() > 0.9


def test_imputers_beat_blank_filling_on_damaged_digits(fitted):
    for damaged in (drop_pixels(X_TEST, 0.5, seed=3), drop_block(X_TEST)):
        scores = fitted.scores(damaged, Y_TEST)
        for name in DamagedBaselines.CLASSIFIERS:
            assert scores[f"{name} after KNNImputer"] > scores[f"{name} after zero"] + 0.1
            assert scores[f"{name} after KNNImputer"] > scores[f"{name} after mean"]


def test_scores_before_fit_is_a_clear_error():
    with pytest.raises(RuntimeError, match="not fitted yet"):
        DamagedBaselines().scores(X_TEST, Y_TEST)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda b: b.scores(X_TEST[:, :60], Y_TEST), ValueError, "must have 64 pixels"),
    (lambda b: b.scores(X_TEST[0], Y_TEST[:1]), ValueError, "2-d array"),
    (lambda b: b.scores(X_TEST, Y_TEST[:10]), ValueError, "y must have shape"),
    (lambda b: b.scores(np.full((2, 64), np.inf), Y_TEST[:2]), ValueError, "infinities"),
    (lambda b: b.fill(X_TEST, "median"), ValueError, "filling must be one of"),
])
def test_bad_input_to_a_fitted_baseline(fitted, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(fitted)


def test_bad_training_input():
    with pytest.raises(ValueError, match="X_train must be complete"):
        DamagedBaselines().fit(drop_pixels(X_TRAIN, 0.1), Y_TRAIN)
    with pytest.raises(ValueError, match="y_train must have shape"):
        DamagedBaselines().fit(X_TRAIN, Y_TRAIN[:5])


def test_iterative_filling_runs_all_five_rounds(fitted):
    # tol=0: a damaged image is refined five times; with a positive tolerance the
    # fit on complete images would stop after one round, and so would the filling
    imputer = fitted.imputers_["IterativeImputer"]
    assert imputer.n_iter_ == 5
    assert len(imputer.imputation_sequence_) == 5 * 64


def test_scores_are_a_plain_scikit_learn_pipeline(fitted):
    # An imputer fitted on the clean training images, before the tuned classifier
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer
    from sklearn.pipeline import make_pipeline

    from inverse_lessons.models.baselines import baseline_models
    from inverse_lessons.threads import one_blas_thread

    damaged = drop_pixels(X_TEST, 0.5, seed=9)
    scores = fitted.scores(damaged, Y_TEST)
    imputers = {"KNNImputer": KNNImputer(n_neighbors=5),
                "IterativeImputer": IterativeImputer(max_iter=5, tol=0.0, random_state=0,
                                                     min_value=0.0, max_value=1.0)}
    # one thread, as the baselines run: small problems, faster so on a busy machine
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore", ConvergenceWarning)   # tol = 0: never converged
        for filling, imputer in imputers.items():
            pipeline = make_pipeline(imputer, baseline_models()["k-NN (tuned k)"])
            pipeline.fit(X_TRAIN, Y_TRAIN)
            assert scores[f"k-NN after {filling}"] == pipeline.score(damaged, Y_TEST)
            np.testing.assert_array_equal(fitted.fill(damaged, filling),
                                          pipeline[0].transform(damaged))


def test_fit_fillings_and_apply_filling_are_damaged_baselines_fill(fitted):
    from inverse_lessons.models.fillings import apply_filling, fit_fillings

    cheap = ("zero", "mean", "KNNImputer")   # IterativeImputer: the pipeline test
    imputers = fit_fillings(X_TRAIN, fillings=cheap)
    damaged = drop_pixels(X_TEST, 0.5, seed=4)
    assert list(imputers) == list(cheap)
    for filling in cheap:
        np.testing.assert_array_equal(apply_filling(imputers, damaged, filling),
                                      fitted.fill(damaged, filling))
    only = fit_fillings(X_TRAIN, fillings=("mean",))
    assert list(only) == ["mean"]
    with pytest.raises(ValueError, match="filling must be one of"):
        apply_filling(only, damaged, "zero")
    with pytest.raises(ValueError, match="filling must be one of"):
        fit_fillings(X_TRAIN, fillings=("median",))
    with pytest.raises(ValueError, match="must be complete"):
        fit_fillings(damaged)


def test_training_copies_are_the_clean_images_then_their_damaged_copies():
    from inverse_lessons.damage import add_noise
    from inverse_lessons.models.filled_classifier import training_copies

    X, y = X_TRAIN[:50], Y_TRAIN[:50]
    np.testing.assert_array_equal(training_copies(X, y, missing=False)[0], X)
    stacked, labels = training_copies(X, y, noise_std=0.3, seed=7)
    assert stacked.shape == (200, 64)
    np.testing.assert_array_equal(labels, np.tile(y, 4))
    np.testing.assert_array_equal(stacked[:50], X)
    np.testing.assert_array_equal(stacked[50:100], drop_pixels(X, 0.5, seed=8))
    np.testing.assert_array_equal(stacked[100:150], drop_block(X))
    np.testing.assert_array_equal(stacked[150:], add_noise(X, 0.3, seed=9))
    noisy_only, _ = training_copies(X, y, missing=False, noise_std=0.3, seed=7)
    np.testing.assert_array_equal(noisy_only[50:], add_noise(X, 0.3, seed=9))
    with pytest.raises(ValueError, match="noise_std"):
        training_copies(X, y, noise_std=-0.1)
    with pytest.raises(ValueError, match="y must have shape"):
        training_copies(X, y[:3])


def test_filled_classifier_is_its_estimator_on_the_filled_copies():
    from sklearn.neighbors import KNeighborsClassifier

    from inverse_lessons.models.filled_classifier import FilledClassifier, training_copies
    from inverse_lessons.models.fillings import apply_filling, fit_fillings

    knn = KNeighborsClassifier(n_neighbors=3)
    model = FilledClassifier(knn, filling="mean", damaged_copies=True, noise_std=0.3,
                             copy_seed=2).fit(X_TRAIN, Y_TRAIN)
    imputers = fit_fillings(X_TRAIN, fillings=("mean",))
    X_all, y_all = training_copies(X_TRAIN, Y_TRAIN, noise_std=0.3, seed=2)
    reference = KNeighborsClassifier(n_neighbors=3).fit(
        apply_filling(imputers, X_all, "mean"), y_all)
    damaged = drop_block(X_TEST)
    np.testing.assert_array_equal(model.predict(damaged),
                                  reference.predict(apply_filling(imputers, damaged, "mean")))
    assert model.estimator_ is not knn and not hasattr(knn, "classes_")   # cloned
    assert model.score(X_TEST, Y_TEST) > 0.9
    np.testing.assert_allclose(model.predict_proba(X_TEST).sum(axis=1), 1.0)
    # trained on clean images only, it is the plain classifier
    plain = FilledClassifier(KNeighborsClassifier(n_neighbors=3)).fit(X_TRAIN, Y_TRAIN)
    np.testing.assert_array_equal(plain.predict(X_TEST), KNeighborsClassifier(
        n_neighbors=3).fit(X_TRAIN, Y_TRAIN).predict(X_TEST))


def test_filled_classifier_bad_input():
    from sklearn.exceptions import NotFittedError

    from inverse_lessons.models.filled_classifier import FilledClassifier

    with pytest.raises(NotFittedError, match="not fitted yet"):
        FilledClassifier().predict(X_TEST)
    with pytest.raises(ValueError, match="filling must be one of"):
        FilledClassifier(filling="median").fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError, match="must be complete"):
        FilledClassifier().fit(drop_pixels(X_TRAIN, 0.1), Y_TRAIN)
    model = FilledClassifier(filling="zero").fit(X_TRAIN[:100], Y_TRAIN[:100])
    with pytest.raises(ValueError, match="X has 60 features, but FilledClassifier is "
                                         "expecting 64"):
        model.predict(X_TEST[:, :60])


def test_tuned_baselines_are_their_settings():
    from inverse_lessons.models.baselines import BASELINE_GRID, TUNED_BASELINES, tuned_baseline

    for name, setting in TUNED_BASELINES.items():
        assert set(setting["params"]) == set(BASELINE_GRID[name][1])
        for key, value in setting["params"].items():     # a point of the searched grid
            assert value in BASELINE_GRID[name][1][key]
        told = tuned_baseline(name, noise_std=0.3)
        assert told.estimator.get_params()[next(iter(setting["params"]))] == \
            setting["params"][next(iter(setting["params"]))]
        assert told.noise_std == (0.3 if setting["noise_copies"] else None)
        assert tuned_baseline(name).noise_std is None
        assert told.damaged_copies == setting["damaged_copies"]
    with pytest.raises(ValueError, match="name must be one of"):
        tuned_baseline("random forest")


def test_fit_tuned_baselines_share_the_plain_fit_when_sigma_changes_nothing(monkeypatch):
    from sklearn.neighbors import KNeighborsClassifier

    from inverse_lessons.models import baselines

    monkeypatch.setattr(baselines, "TUNED_BASELINES", {
        "k-NN": dict(params={"n_neighbors": 1, "weights": "uniform"}, filling="mean",
                     damaged_copies=False, noise_copies=False),
        "logistic regression": dict(params={"C": 1.0}, filling="zero",
                                    damaged_copies=False, noise_copies=True)})
    X, y = X_TRAIN[:200], Y_TRAIN[:200]
    pairs = baselines.fit_tuned_baselines(X, y, noise_std=0.3)
    assert pairs["k-NN"][0] is pairs["k-NN"][1]
    assert isinstance(pairs["k-NN"][0].estimator_, KNeighborsClassifier)
    plain, told = pairs["logistic regression"]
    assert plain is not told and told.noise_std == 0.3 and plain.noise_std is None
    assert len(told.estimator_.coef_) == 10
    untold = baselines.fit_tuned_baselines(X, y)
    assert all(a is b for a, b in untold.values())


def test_baseline_accuracies_score_the_fitted_baselines_without_refitting():
    from inverse_lessons.models.baselines import baseline_accuracies, baseline_models, fit_baselines

    fitted = fit_baselines(X_TRAIN, Y_TRAIN)
    assert list(fitted) == list(baseline_models())
    assert fitted["k-NN (tuned k)"].best_params_["n_neighbors"] in (1, 3, 5, 7)
    given = baseline_accuracies(X_TRAIN, Y_TRAIN, X_TEST, Y_TEST, fitted=fitted)
    for name, model in fitted.items():
        assert given[name] == model.score(X_TEST, Y_TEST)
    assert baseline_accuracies(X_TRAIN, Y_TRAIN, X_TEST, Y_TEST) == given   # fitted anew
