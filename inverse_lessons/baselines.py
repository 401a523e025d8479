"""The scikit-learn baselines every digits chapter compares against.

Each baseline is tuned by 5-fold cross-validation on the training split only,
so the test split stays untouched until the final score.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.svm import SVC

from .linear_inversion import closed_form_inversion, least_squares_inversion

__all__ = [
    "baseline_models",
    "template_accuracy",
    "baseline_accuracies",
    "fill_missing",
    "damaged_baselines",
]


def baseline_models():
    """Unfitted, self-tuning baselines: a dict name -> estimator."""
    return {
        "logistic regression (tuned C)": GridSearchCV(
            LogisticRegression(max_iter=5000), {"C": np.logspace(-2, 3, 11)}, cv=5),
        "nearest centroid": NearestCentroid(),
        "k-NN (tuned k)": GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [1, 3, 5, 7]},
                                       cv=5),
        "RBF SVC (tuned C)": GridSearchCV(SVC(kernel="rbf"), {"C": [1.0, 10.0, 100.0]}, cv=5),
    }


def template_accuracy(X_train, y_train, X_test, y_test, *, n_steps=100, step_size=2e-3):
    """Chapter 3's classifier: invert a generator of one template per class.

    The first training image of each class is its template. Returns
    (accuracy after ``n_steps`` gradient steps, accuracy of the exact
    least-squares inversion).
    """
    classes = np.unique(y_train)
    G = np.stack([X_train[np.flatnonzero(y_train == c)[0]] for c in classes], axis=1)
    gd = closed_form_inversion(G, X_test, n_steps=n_steps, step_size=step_size).numpy()
    ls = least_squares_inversion(G, X_test).numpy()
    return (float(np.mean(classes[gd.argmax(1)] == y_test)),
            float(np.mean(classes[ls.argmax(1)] == y_test)))


def baseline_accuracies(X_train, y_train, X_test, y_test):
    """Test accuracy of every baseline and of template inversion: dict name -> float."""
    with warnings.catch_warnings():
        # Some corner pixels are blank in every image of a class; NearestCentroid warns
        # about their zero spread, which does not affect its (Euclidean) predictions.
        warnings.filterwarnings("ignore", message=".*zero standard deviation",
                                category=UserWarning)
        scores = {name: float(model.fit(X_train, y_train).score(X_test, y_test))
                  for name, model in baseline_models().items()}
    gd, ls = template_accuracy(X_train, y_train, X_test, y_test)
    scores["template inversion, 100 steps (ch. 3)"] = gd
    scores["template inversion, least squares (ch. 3)"] = ls
    return scores


def fill_missing(X, value):
    """Replace NaN (missing pixels) by ``value``: a number or an array of shape (pixels,)."""
    X = np.asarray(X, dtype=np.float64)
    return np.where(np.isnan(X), np.broadcast_to(value, X.shape), X)


def damaged_baselines(X_train, y_train, damaged, y_test):
    """Discriminative classifiers on damaged test images: they need every pixel, so fill in.

    Trained on the clean training split; ``damaged`` is a dict name -> test
    images with NaN for missing pixels. Missing pixels are filled with zero
    (blank paper) or with the training mean of that pixel. Returns a dict
    baseline name -> dict damage name -> accuracy.
    """
    mean = np.mean(X_train, axis=0)
    models = baseline_models()
    logreg = models["logistic regression (tuned C)"].fit(X_train, y_train)
    knn = models["k-NN (tuned k)"].fit(X_train, y_train)
    fills = {"logistic regression, zero-fill": (logreg, 0.0),
             "logistic regression, mean-fill": (logreg, mean),
             "k-NN, mean-fill": (knn, mean)}
    return {name: {damage: float(model.score(fill_missing(X, value), y_test))
                   for damage, X in damaged.items()}
            for name, (model, value) in fills.items()}
