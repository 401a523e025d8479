"""Chapter 6's exercises and their reference answers, computed by the package."""

from __future__ import annotations

import numpy as np

from inverse_lessons.data import N_PIXELS
from inverse_lessons.exercises.engine import Exercise, register


def _masked_curvature(G, d):
    """Return the Hessian of ||D (x - G z)||^2 in z, by automatic differentiation: (k, k)."""
    from inverse_lessons._tf import tf

    G = tf.constant(np.asarray(G, dtype=np.float64))
    d = tf.constant(np.asarray(d, dtype=np.float64))
    x = tf.ones(G.shape[0], tf.float64)
    z = tf.Variable(tf.zeros(G.shape[1], tf.float64))
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            loss = tf.reduce_sum((d * (x - tf.linalg.matvec(G, z))) ** 2)
        gradient = inner.gradient(loss, z)
    return outer.jacobian(gradient, z, experimental_use_pfor=False).numpy()


def _knn_on_damaged_copies():
    from sklearn.neighbors import KNeighborsClassifier

    from inverse_lessons.damage import drop_pixels, fill_missing, with_damaged_copies
    from inverse_lessons.data import load_digits_split
    from inverse_lessons.models.baselines import baseline_models
    from inverse_lessons.threads import one_blas_thread

    X_train, y_train, X_test, y_test = load_digits_split()
    mean_pixel = X_train.mean(axis=0)
    X_mixed, y_mixed = with_damaged_copies(X_train, y_train,
                                           fractions=(0.0, 0.25, 0.5, 0.5, 0.75))
    with one_blas_thread():
        k = baseline_models()["k-NN (tuned k)"].fit(X_train, y_train).best_params_["n_neighbors"]
        knn = KNeighborsClassifier(n_neighbors=k).fit(fill_missing(X_mixed, mean_pixel), y_mixed)
        return float(np.mean([knn.score(fill_missing(drop_pixels(X_test, 0.5, seed=s),
                                                     mean_pixel), y_test)
                              for s in range(5)]))


def _generator_and_mask(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N_PIXELS, 5)), (rng.random(N_PIXELS) < 0.5).astype(float)


register(Exercise(
    "6.1", "a function curvature(G, d): the Hessian in z of ||D (x - G z)||^2 for G (64, k) "
           "and the mask's diagonal d (64,) of 0s and 1s",
    lambda: _masked_curvature, probes=tuple(_generator_and_mask(s) for s in range(3)),
    rtol=1e-9, atol=1e-9,
    hint="Differentiate the gradient -2 G^T D^T D (x - G z) once more in z, and use that a "
         "diagonal matrix of 0s and 1s satisfies D^T D = D."))
register(Exercise(
    "6.3", "the mean accuracy over the five half-missing test sets (seeds 0-4) of k-NN "
           "trained on the mean-filled damaged copies, with the cross-validated k",
    _knn_on_damaged_copies, rtol=0, atol=1e-3,
    hint="Fit KNeighborsClassifier(n_neighbors=k) on fill_missing(X_mixed, mean_pixel) and "
         "score it on each mean-filled damaged[\"50% missing\"] set; average the five."))
