"""Chapter 3's exercises and their reference answers, computed by the package."""

from __future__ import annotations

import numpy as np

from inverse_lessons.data import N_CLASSES, N_PIXELS
from inverse_lessons.exercises.engine import Exercise, register


def _template_generator():
    from inverse_lessons.data import load_digits_split

    X_train, y_train, _, _ = load_digits_split()
    return np.stack([X_train[np.flatnonzero(y_train == c)[0]] for c in range(N_CLASSES)], axis=1)


def _class_mean_accuracies():
    from inverse_lessons.data import load_digits_split
    from inverse_lessons.inversion.closed_form import closed_form_inversion
    from inverse_lessons.inversion.linear import least_squares_inversion

    X_train, y_train, X_test, y_test = load_digits_split()
    G = np.stack([X_train[y_train == c].mean(axis=0) for c in range(N_CLASSES)], axis=1)
    gd = closed_form_inversion(G, X_test, n_steps=100, step_size=2e-3).numpy()
    ls = least_squares_inversion(G, X_test).numpy()
    return (float(np.mean(gd.argmax(1) == y_test)), float(np.mean(ls.argmax(1) == y_test)))


# The number of steps chapter 3 chooses on its validation images (the notebook's sweep).
_CHAPTER3_STEPS = 18


def _half_fitted_directions():
    G = _template_generator()
    s2 = np.linalg.eigvalsh(G.T @ G)
    return int(np.sum(1 - (1 - 2 * 0.002 * s2) ** _CHAPTER3_STEPS < 0.5))


register(Exercise(
    "3.1", "a function first_step(G, x, eta): z_1 after one step from z = 0",
    lambda: (lambda G, x, eta: 2 * eta * np.asarray(G).T @ np.asarray(x)),
    probes=tuple((np.random.default_rng(s).random((N_PIXELS, N_CLASSES)),
                  np.random.default_rng(s + 9).random(N_PIXELS), 0.01) for s in range(3)),
    rtol=1e-9, hint="Differentiate ||x - G z||^2 with respect to z, evaluate at z = 0, "
                    "and take one step of size eta against it."))
register(Exercise(
    "3.2", "(accuracy after 100 steps, accuracy of least squares) with class-mean templates",
    _class_mean_accuracies, rtol=0, atol=2e-3,
    hint="Stack X_train[y_train == c].mean(axis=0) for c = 0..9 as the columns of G, "
         "keep eta = 0.002, and score argmax z against y_test for both inversions."))
register(Exercise(
    "3.3", f"the number of directions less than half fitted after the N = {_CHAPTER3_STEPS} "
           "steps chosen on the validation images, with eta = 0.002",
    _half_fitted_directions, rtol=0, atol=0,
    hint="Take the eigenvalues of G^T G for the chapter's template generator and count the "
         "filter factors 1 - (1 - 2 eta sigma^2)^N below one half, N the chosen steps."))
