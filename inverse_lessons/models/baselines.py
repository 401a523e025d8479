"""The scikit-learn baselines every digits chapter compares against.

Each baseline is tuned by 5-fold cross-validation on the training split only,
so the test split stays untouched until the final score. For damaged test
images (NaN = missing pixel), :class:`DamagedBaselines` fills the missing
pixels in four ways before three tuned classifiers.

Chapter 8's baselines (:data:`TUNED_BASELINES`) are each a
:class:`~inverse_lessons.models.filled_classifier.FilledClassifier`. The fillings
(:mod:`inverse_lessons.models.fillings`) and that classifier are re-exported
here, so that one import serves a chapter.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.svm import SVC

from inverse_lessons._validation import check_choice
from inverse_lessons.damage import fill_missing  # noqa: F401  (exercises import it from here)
from inverse_lessons.inversion.closed_form import closed_form_inversion
from inverse_lessons.inversion.linear import least_squares_inversion
from inverse_lessons.models.filled_classifier import FilledClassifier
from inverse_lessons.models.fillings import FILLINGS, apply_filling, check_images, fit_fillings
from inverse_lessons.threads import one_blas_thread

__all__ = [
    "baseline_models",
    "template_accuracy",
    "fit_baselines",
    "baseline_accuracies",
    "DamagedBaselines",
    "BASELINE_GRID",
    "TUNED_BASELINES",
    "tuned_baseline",
    "fit_tuned_baselines",
]


def baseline_models():
    """Make the unfitted, self-tuning baselines.

    Returns
    -------
    dict of str to estimator
        Logistic regression (C), nearest centroid, k-NN (k) and an RBF SVC (C);
        the tuned ones are ``GridSearchCV`` with 5 folds.
    """
    return {
        "logistic regression (tuned C)": GridSearchCV(
            LogisticRegression(max_iter=5000), {"C": np.logspace(-2, 3, 11)}, cv=5),
        "nearest centroid": NearestCentroid(),
        "k-NN (tuned k)": GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [1, 3, 5, 7]},
                                       cv=5),
        "RBF SVC (tuned C)": GridSearchCV(SVC(kernel="rbf"), {"C": [1.0, 10.0, 100.0]}, cv=5),
    }


def template_accuracy(X_train, y_train, X_test, y_test, *, n_steps=100, step_size=2e-3):
    """Score chapter 3's classifier: invert a generator of one template per class.

    The first training image of each class is its template; an image's label is
    the class of its largest latent.

    Parameters
    ----------
    X_train : array-like, shape (n_train, 64)
        Training images; the first of each class is used.
    y_train : array-like, shape (n_train,)
        Their labels.
    X_test : array-like, shape (n_test, 64)
        Test images.
    y_test : array-like, shape (n_test,)
        Their labels.
    n_steps : int, default 100
        Gradient steps of the inversion.
    step_size : float, default 2e-3
        Their step size.

    Returns
    -------
    steps : float
        Test accuracy after ``n_steps`` gradient steps.
    least_squares : float
        Test accuracy of the exact least-squares inversion.
    """
    classes = np.unique(y_train)
    G = np.stack([X_train[np.flatnonzero(y_train == c)[0]] for c in classes], axis=1)
    gd = closed_form_inversion(G, X_test, n_steps=n_steps, step_size=step_size).numpy()
    ls = least_squares_inversion(G, X_test).numpy()
    return (float(np.mean(classes[gd.argmax(1)] == y_test)),
            float(np.mean(classes[ls.argmax(1)] == y_test)))


def fit_baselines(X_train, y_train):
    """Fit every baseline of :func:`baseline_models` on the training split.

    Each tuned one chooses its setting by its own cross-validation on these
    images. The baselines run on one thread (BLAS and OpenMP): the same fits, and
    on problems this small a second thread costs more to start and synchronise
    than it saves.

    Parameters
    ----------
    X_train : array-like, shape (n_train, 64)
        Training images.
    y_train : array-like, shape (n_train,)
        Their labels.

    Returns
    -------
    dict of str to estimator
        The fitted baselines, by the names of :func:`baseline_models`.
    """
    with one_blas_thread(), _blank_pixels_ignored():
        return {name: model.fit(X_train, y_train) for name, model in baseline_models().items()}


@contextlib.contextmanager
def _blank_pixels_ignored():
    """Silence NearestCentroid's warning about pixels blank in every image of a class.

    Their zero spread does not affect its (Euclidean) predictions.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*zero standard deviation",
                                category=UserWarning)
        yield


def baseline_accuracies(X_train, y_train, X_test, y_test, *, fitted=None):
    """Score every baseline and template inversion on the test split.

    Parameters
    ----------
    X_train, y_train, X_test, y_test
        As for :func:`template_accuracy`.
    fitted : dict of str to estimator, optional
        The baselines as :func:`fit_baselines` returns them, to score them without
        fitting them again; by default they are fitted here.

    Returns
    -------
    dict of str to float
        Test accuracy in [0, 1] by model name.
    """
    fitted = fit_baselines(X_train, y_train) if fitted is None else fitted
    with one_blas_thread(), _blank_pixels_ignored():
        scores = {name: float(model.score(X_test, y_test)) for name, model in fitted.items()}
    gd, ls = template_accuracy(X_train, y_train, X_test, y_test)
    scores["template inversion, 100 steps (ch. 3)"] = gd
    scores["template inversion, least squares (ch. 3)"] = ls
    return scores


class DamagedBaselines:
    """Tuned classifiers after four ways of filling in missing pixels.

    Fitted once on the clean training split; then :meth:`scores` rates every
    classifier after every filling on damaged test images (NaN = missing
    pixel), cheaply enough to call once per damage seed.

    Classifiers (:attr:`CLASSIFIERS`), each tuned by 5-fold cross-validation
    on the training split only (see :func:`baseline_models`): logistic
    regression (C), k-NN (k) and an RBF support vector classifier (C).

    Fillings (:attr:`FILLINGS`), all fitted on the training images only:

    - ``"zero"``: a missing pixel is blank paper, 0;
    - ``"mean"``: the training mean of that pixel;
    - ``"KNNImputer"``: scikit-learn's ``KNNImputer(n_neighbors=5)``, the mean
      of that pixel over the 5 training images nearest on the observed pixels;
    - ``"IterativeImputer"``: scikit-learn's ``IterativeImputer`` (see
      :func:`fit_fillings`), each pixel regressed on the others by Bayesian
      ridge regression, for 5 rounds, clipped to the training pixel range.

    Attributes
    ----------
    classifiers_ : dict of str to GridSearchCV
        The fitted classifiers by name.
    imputers_ : dict of str to imputer or fill value
        By filling: a fitted imputer, or the fill value for zero and mean.
    n_features_in_ : int
        Pixels per image.
    """

    CLASSIFIERS = ("logistic regression", "k-NN", "SVC")
    FILLINGS = FILLINGS
    _MODEL_NAMES = {"logistic regression": "logistic regression (tuned C)",
                    "k-NN": "k-NN (tuned k)", "SVC": "RBF SVC (tuned C)"}

    @staticmethod
    def key(classifier, filling):
        """Name one score: ``"<classifier> after <filling>"``.

        Parameters
        ----------
        classifier : str
            One of :attr:`CLASSIFIERS`.
        filling : str
            One of :attr:`FILLINGS`.

        Returns
        -------
        str
            The key of that score in :meth:`scores`.
        """
        return f"{classifier} after {filling}"

    def fit(self, X_train, y_train):
        """Tune and fit the classifiers and imputers on clean training images.

        Parameters
        ----------
        X_train : array-like, shape (n, pixels)
            Finite (no missing pixels).
        y_train : array-like, shape (n,)
            Labels.

        Returns
        -------
        DamagedBaselines
            self, fitted.
        """
        X_train = check_images("X_train", X_train)
        if np.isnan(X_train).any():
            raise ValueError("X_train must be complete (no NaN): the baselines "
                             "are trained on clean images")
        y_train = np.asarray(y_train)
        if y_train.shape != (len(X_train),):
            raise ValueError(f"y_train must have shape ({len(X_train)},), "
                             f"got {y_train.shape}")
        models = baseline_models()
        # Small problems: one thread is as fast, and much faster on a busy machine.
        with one_blas_thread():
            self.classifiers_ = {name: models[self._MODEL_NAMES[name]].fit(X_train, y_train)
                                 for name in self.CLASSIFIERS}
        self.imputers_ = fit_fillings(X_train)
        self.n_features_in_ = X_train.shape[1]
        return self

    def _check_fitted(self):
        if not hasattr(self, "classifiers_"):
            raise RuntimeError("this DamagedBaselines is not fitted yet: call fit first")

    def fill(self, X, filling):
        """Fill in the missing pixels of ``X``; observed pixels are kept as they are.

        Parameters
        ----------
        X : array-like, shape (n, pixels)
            NaN for a missing pixel.
        filling : str
            One of :attr:`FILLINGS`.

        Returns
        -------
        ndarray, shape (n, pixels)
            ``X`` filled in.
        """
        self._check_fitted()
        check_choice("filling", filling, self.FILLINGS)
        X = self._check_images(X)
        return apply_filling(self.imputers_, X, filling)

    def _check_images(self, X):
        X = check_images("X", X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} pixels per image "
                             f"(as in training), got {X.shape[1]}")
        return X

    def scores(self, X, y):
        """Score every classifier after every filling; each filling is computed once.

        Parameters
        ----------
        X : array-like, shape (n, pixels)
            NaN for a missing pixel.
        y : array-like, shape (n,)
            Labels.

        Returns
        -------
        dict of str to float
            ``"<classifier> after <filling>"`` -> accuracy in [0, 1], classifiers
            in the order of :attr:`CLASSIFIERS`, fillings of :attr:`FILLINGS`.
        """
        self._check_fitted()
        X = self._check_images(X)
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(f"y must have shape ({len(X)},), got {y.shape}")
        with one_blas_thread():
            if not np.isnan(X).any():   # nothing to fill: score each classifier once
                once = {name: float(model.score(X, y))
                        for name, model in self.classifiers_.items()}
                return {self.key(name, filling): once[name]
                        for name in once for filling in self.FILLINGS}
            filled = {filling: self.fill(X, filling) for filling in self.FILLINGS}
            return {self.key(name, filling): float(model.score(filled[filling], y))
                    for name, model in self.classifiers_.items()
                    for filling in self.FILLINGS}


#: The grid ``benchmarks/tune_baselines.py`` searches for each classifier; each
#: setting is also tried with and without damaged copies, after each filling.
BASELINE_GRID = {
    "logistic regression": (LogisticRegression(max_iter=5000),
                            {"C": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]}),
    "k-NN": (KNeighborsClassifier(),
             {"n_neighbors": [1, 3, 5, 7, 9], "weights": ["uniform", "distance"]}),
    "SVC": (SVC(kernel="rbf"),
            {"C": [1.0, 3.0, 10.0, 30.0, 100.0],
             "gamma": [0.05, 0.1, 0.2, 0.4, 0.8]}),
}


#: Chapter 8's baselines: each classifier's setting as ``benchmarks/tune_baselines.py``
#: chose it, by the procedure that chose ``AnalysisBySynthesis``'s defaults: 5-fold
#: cross-validation on the training split only (folds of 200 consecutive images), each
#: setting scored by its mean validation accuracy over the four test conditions
#: (clean, half the pixels missing, the bottom half missing, noise of sigma 0.3, this
#: last scored by the setting told sigma), over the grid :data:`BASELINE_GRID`, with
#: and without damaged copies, after each filling, and, told sigma, with or without
#: a noisy copy (``noise_copies``).
TUNED_BASELINES = {
    "logistic regression": dict(params={"C": 1.0}, filling="KNNImputer",
                                damaged_copies=True, noise_copies=True),
    "k-NN": dict(params={"n_neighbors": 1, "weights": "uniform"}, filling="KNNImputer",
                 damaged_copies=False, noise_copies=False),
    "SVC": dict(params={"C": 3.0, "gamma": 0.4}, filling="IterativeImputer",
                damaged_copies=True, noise_copies=True),
}


def tuned_baseline(name, *, noise_std=None, copy_seed=0):
    """Make chapter 8's baseline ``name``, unfitted.

    Parameters
    ----------
    name : str
        A key of :data:`TUNED_BASELINES`.
    noise_std : float or None, default None
        The noise level it is told. Told a level, it trains also on a noisy copy
        at that level if its setting's ``noise_copies`` says so
        (cross-validation found that the copy helps it), and ignores the level if not.
    copy_seed : int, default 0
        Seed of the copies' damage.

    Returns
    -------
    FilledClassifier
        Unfitted.
    """
    check_choice("name", name, tuple(TUNED_BASELINES))
    setting = TUNED_BASELINES[name]
    estimator = clone(BASELINE_GRID[name][0]).set_params(**setting["params"])
    return FilledClassifier(estimator, filling=setting["filling"],
                            damaged_copies=setting["damaged_copies"],
                            noise_std=noise_std if setting["noise_copies"] else None,
                            copy_seed=copy_seed)


def fit_tuned_baselines(X_train, y_train, *, noise_std=None):
    """Fit every baseline of :data:`TUNED_BASELINES`, plain and told ``noise_std``.

    Parameters
    ----------
    X_train : array-like, shape (n, pixels)
        Complete training images.
    y_train : array-like, shape (n,)
        Their labels.
    noise_std : float or None, default None
        The noise level the second fit is told.

    Returns
    -------
    dict of str to (FilledClassifier, FilledClassifier)
        By name, (plain, told): the second trained also on a noisy copy at
        ``noise_std`` where the setting's ``noise_copies`` says so; where it
        does not (or ``noise_std`` is None), both are the same fitted object,
        since knowing the level changes nothing for it.
    """
    fitted = {}
    for name, setting in TUNED_BASELINES.items():
        plain = tuned_baseline(name).fit(X_train, y_train)
        told = (tuned_baseline(name, noise_std=noise_std).fit(X_train, y_train)
                if noise_std is not None and setting["noise_copies"] else plain)
        fitted[name] = plain, told
    return fitted
