"""Chapter 1's exercises and their reference answers, computed by the package."""

from __future__ import annotations

import numpy as np

from inverse_lessons.exercises.engine import Exercise, register


def _toy_steps_needed():
    from inverse_lessons.inversion.forward_models import toy_forward
    from inverse_lessons.inversion.solver import invert

    target = (6.0 + 4.0) / 2.0
    path = invert(toy_forward, 6.0, -3.0, step_size=0.05, n_steps=100, record=True).path
    k = int(np.flatnonzero(np.abs(np.asarray(path, dtype=np.float64) - target) < 1e-6)[0])
    return (target, k)


register(Exercise(
    "1.1", "a function eta_max(c): the bound below which steps are stable, f(x) = c x + d",
    lambda: (lambda c: 1.0 / c**2), probes=((0.5,), (2.0,), (3.0,)),
    hint="Write L'(x) as (curvature) * (x - x*) and ask when |1 - eta * curvature| < 1."))
register(Exercise(
    "1.2", "(x_star, k): the answer for y = 6 and the fewest steps within 1e-6 of it",
    _toy_steps_needed, rtol=0, atol=1e-9,
    hint="Solve 2x - 4 = 6 for x*, and count steps until the error 8 * 0.6**k is below "
         "1e-6 (or run invert for increasing n_steps)."))
