"""FilledClassifier under scikit-learn's estimator checks, and what they cannot check."""

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from inverse_lessons.damage import drop_pixels
from inverse_lessons.data import load_digits_split
from inverse_lessons.models.filled_classifier import FilledClassifier

X_TRAIN, Y_TRAIN, X_TEST, Y_TEST = load_digits_split()


def expected_failed_checks(estimator):
    """The one check that cannot apply, with why."""
    return {"check_estimators_pickle": (
        "NaN (a missing pixel) is allowed at prediction, so the allow_nan tag is set, "
        "and with it the check puts NaN in the training images; fit needs complete "
        "ones (the fillings are fitted on clean images). Pickling is tested below.")}


# All of scikit-learn's checks, after each kind of filling, with a noisy training copy
# too. Damaged copies are not among them: their bottom-half copy needs 8x8 images
# (64 pixels), which the checks' toy data are not; the tests of test_baselines.py
# check them on digits.
@parametrize_with_checks(
    [FilledClassifier(),
     FilledClassifier(LogisticRegression(), filling="IterativeImputer", noise_std=0.3),
     FilledClassifier(LogisticRegression(), filling="mean", copy_seed=3)],
    expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_pickled_classifier_predicts_the_same():
    model = FilledClassifier(filling="IterativeImputer").fit(X_TRAIN[:300], Y_TRAIN[:300])
    damaged = drop_pixels(X_TEST[:50], 0.5, seed=0)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(damaged), model.predict(damaged))


def test_probabilities_only_when_the_classifier_gives_them():
    assert not hasattr(FilledClassifier(), "predict_proba")    # SVC() has none
    assert hasattr(FilledClassifier(SVC(probability=True)), "predict_proba")
    model = FilledClassifier(LogisticRegression(max_iter=1000), filling="mean")
    model.fit(X_TRAIN[:300], Y_TRAIN[:300])
    damaged = drop_pixels(X_TEST[:20], 0.5, seed=1)
    np.testing.assert_array_equal(model.predict(damaged),
                                  model.classes_[model.decision_function(damaged).argmax(1)])
    np.testing.assert_allclose(model.predict_proba(damaged).sum(axis=1), 1.0)


@pytest.mark.parametrize("setting, error, pattern", [
    (dict(filling="median"), ValueError, "filling must be one of"),
    (dict(damaged_copies="yes"), TypeError, "damaged_copies must be True or False"),
    (dict(noise_std=0.0), ValueError, "noise_std must be None or a positive real"),
    (dict(copy_seed=-1), ValueError, "copy_seed must be an integer >= 0"),
])
def test_bad_settings_are_named(setting, error, pattern):
    with pytest.raises(error, match=pattern):
        FilledClassifier(**setting).fit(X_TRAIN[:100], Y_TRAIN[:100])
