"""Chapter 2's exercises and their reference answers, computed by the package."""

from __future__ import annotations

import numpy as np

from inverse_lessons.exercises.engine import Exercise, register


def _line_exact_fit_start_1():
    from inverse_lessons.models.line_model import exact_fit

    return exact_fit(n_steps=20, step_size=0.05, start=1.0)


def _line_flat_root():
    from inverse_lessons.models.line_model import exact_fit_slopes

    return exact_fit_slopes(n_steps=10, step_size=0.05)[0]


register(Exercise(
    "2.1", "a_max: the bound on |a| below which the limit of h exists, with eta = 0.05",
    lambda: 1.0 / np.sqrt(0.05),
    hint="The limit exists when |r| < 1 with r = 1 - 2 eta a^2; solve for |a|."))
register(Exercise(
    "2.2", "(a, b): where training ends with the inner solver started at y_0 = 1",
    _line_exact_fit_start_1, rtol=1e-6, atol=1e-8,
    hint="Run train(x, y, start=1.0, ...) long enough, or solve exact_fit(start=1.0, ...); "
         "only one of the two parameters moves."))
register(Exercise(
    "2.3", "a: the slope where training with 10 unrolled steps from (a, b) = (1, 0) ends",
    _line_flat_root, rtol=1e-6,
    hint="Train with n_steps=10 from a0=1.0, b0=0.0, and read run.a; it is a root of "
         "a = 2 (1 - (1 - 2 eta a^2)^10)."))
