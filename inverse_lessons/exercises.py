"""Exercises that check themselves: ``check("1.2", answer)`` says whether an answer is right.

Works wherever a notebook runs (JupyterLab, Binder, Colab), with no server: the
reference answers are computed here, by the package's own functions, the first
time they are asked for, never typed in. A right answer (within the stated
tolerance) is confirmed; a wrong one gets a hint that points the way without
giving the answer away. ``exercises()`` lists what can be checked and what to
pass for each.

>>> from inverse_lessons.exercises import check
>>> check("1.2", (5.0, 32))          # doctest: +SKIP
Exercise 1.2: correct.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["Check", "Exercise", "check", "exercises"]


@dataclass(frozen=True)
class Exercise:
    """One checkable exercise.

    number : "chapter.exercise", as the book numbers it ("3.2").
    expects : what to pass to :func:`check`, in words (shown in hints and listings).
    reference : computes the right answer with the package (called once, then cached).
        A tuple of numbers, an array, or a callable (then the reader's answer must be a
        callable too, and the two are compared at ``probes``).
    hint : a nudge for a wrong answer that does not give the answer away.
    rtol, atol : the tolerance of the comparison (numpy.allclose).
    probes : for a callable answer, the argument tuples it is compared at.
    """

    number: str
    expects: str
    reference: Callable[[], Any]
    hint: str
    rtol: float = 1e-3
    atol: float = 1e-8
    probes: tuple = field(default=())


class Check:
    """The verdict of :func:`check`: true when the answer is right; shows a sentence."""

    def __init__(self, number, correct, message):
        self.number, self.correct, self.message = number, bool(correct), message

    def __bool__(self):
        return self.correct

    def __repr__(self):
        return f"Exercise {self.number}: {self.message}"

    _repr_pretty_ = lambda self, printer, cycle: printer.text(repr(self))  # noqa: E731


_EXERCISES: dict[str, Exercise] = {}


def _register(exercise):
    _EXERCISES[exercise.number] = exercise
    return exercise


@functools.lru_cache(maxsize=None)
def _reference(number):
    return _EXERCISES[number].reference()


def exercises():
    """{number: what to pass} for every exercise that can be checked."""
    return {number: e.expects for number, e in sorted(
        _EXERCISES.items(), key=lambda item: tuple(int(p) for p in item[0].split(".")))}


def _as_numbers(value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def check(number, answer):
    """Is ``answer`` right for exercise ``number``? Returns a :class:`Check`.

    number : str such as "3.2" (an int or float such as 3.2 is read the same way).
    answer : what the exercise asks for, in the form ``exercises()[number]`` names.
    Raises ValueError for an exercise that has no check.
    """
    key = str(number)
    if key not in _EXERCISES:
        raise ValueError(f"number must name a checkable exercise, one of "
                         f"{list(exercises())}, got {number!r}")
    exercise = _EXERCISES[key]
    reference = _reference(key)
    if callable(reference):
        if not callable(answer):
            return Check(key, False, f"not yet: pass {exercise.expects}.")
        try:
            mine = [np.asarray(answer(*args), dtype=np.float64) for args in exercise.probes]
        except Exception as error:   # the reader's function failed: say how, as a hint
            return Check(key, False, f"not yet: your function raised "
                                     f"{type(error).__name__}: {error}. {exercise.hint}")
        right = [np.asarray(reference(*args), dtype=np.float64) for args in exercise.probes]
        ok = all(m.shape == r.shape and np.allclose(m, r, rtol=exercise.rtol,
                                                    atol=exercise.atol)
                 for m, r in zip(mine, right))
    else:
        mine, right = _as_numbers(answer), np.asarray(reference, dtype=np.float64)
        if mine is None or mine.shape != right.shape:
            shape = "one number" if right.ndim == 0 else f"{right.size} numbers"
            return Check(key, False, f"not yet: pass {exercise.expects} ({shape}).")
        ok = bool(np.allclose(mine, right, rtol=exercise.rtol, atol=exercise.atol))
    if ok:
        return Check(key, True, "correct.")
    return Check(key, False, f"not yet. {exercise.hint}")


# --------------------------------------------------------------------------- chapter 1

def _toy_steps_needed():
    from .forward_models import toy_forward
    from .solver import invert

    target = (6.0 + 4.0) / 2.0
    path = invert(toy_forward, 6.0, -3.0, step_size=0.05, n_steps=100, record=True).path
    k = int(np.flatnonzero(np.abs(np.asarray(path, dtype=np.float64) - target) < 1e-6)[0])
    return (target, k)


_register(Exercise(
    "1.1", "a function eta_max(c): the largest stable step size for f(x) = c x + d",
    lambda: (lambda c: 1.0 / c**2), probes=((0.5,), (2.0,), (3.0,)),
    hint="Write L'(x) as (curvature) * (x - x*) and ask when |1 - eta * curvature| < 1."))
_register(Exercise(
    "1.2", "(x_star, k): the answer for y = 6 and the fewest steps within 1e-6 of it",
    _toy_steps_needed, rtol=0, atol=1e-9,
    hint="Solve 2x - 4 = 6 for x*, and count steps until the error 8 * 0.6**k is below "
         "1e-6 (or run invert for increasing n_steps)."))


# --------------------------------------------------------------------------- chapter 2

def _line_exact_fit_start_1():
    from .line_model import exact_fit

    return exact_fit(n_steps=20, step_size=0.05, start=1.0)


def _line_flat_root():
    from .line_model import exact_fit_slopes

    return exact_fit_slopes(n_steps=10, step_size=0.05)[0]


_register(Exercise(
    "2.1", "a_max: the largest |a| for which the limit of h exists, with eta = 0.05",
    lambda: 1.0 / np.sqrt(0.05),
    hint="The limit exists when |r| < 1 with r = 1 - 2 eta a^2; solve for |a|."))
_register(Exercise(
    "2.2", "(a, b): where training ends with the inner solver started at y_0 = 1",
    _line_exact_fit_start_1, rtol=1e-6, atol=1e-8,
    hint="Run train(x, y, start=1.0, ...) long enough, or solve exact_fit(start=1.0, ...); "
         "only one of the two parameters moves."))
_register(Exercise(
    "2.3", "a: the slope where training with 10 unrolled steps from (a, b) = (1, 0) ends",
    _line_flat_root, rtol=1e-6,
    hint="Train with n_steps=10 from a0=1.0, b0=0.0, and read run.a; it is a root of "
         "a = 2 (1 - (1 - 2 eta a^2)^10)."))


# --------------------------------------------------------------------------- chapter 3

def _template_generator():
    from .data import load_digits_split

    X_train, y_train, _, _ = load_digits_split()
    return np.stack([X_train[np.flatnonzero(y_train == c)[0]] for c in range(10)], axis=1)


def _class_mean_accuracies():
    from .data import load_digits_split
    from .linear_inversion import closed_form_inversion, least_squares_inversion

    X_train, y_train, X_test, y_test = load_digits_split()
    G = np.stack([X_train[y_train == c].mean(axis=0) for c in range(10)], axis=1)
    gd = closed_form_inversion(G, X_test, n_steps=100, step_size=2e-3).numpy()
    ls = least_squares_inversion(G, X_test).numpy()
    return (float(np.mean(gd.argmax(1) == y_test)), float(np.mean(ls.argmax(1) == y_test)))


def _half_fitted_directions():
    G = _template_generator()
    s2 = np.linalg.eigvalsh(G.T @ G)
    return int(np.sum(1 - (1 - 2 * 0.002 * s2) ** 15 < 0.5))


_register(Exercise(
    "3.1", "a function first_step(G, x, eta): z_1 after one step from z = 0",
    lambda: (lambda G, x, eta: 2 * eta * np.asarray(G).T @ np.asarray(x)),
    probes=tuple((np.random.default_rng(s).random((64, 10)),
                  np.random.default_rng(s + 9).random(64), 0.01) for s in range(3)),
    rtol=1e-9, hint="Differentiate ||x - G z||^2 with respect to z, evaluate at z = 0, "
                    "and take one step of size eta against it."))
_register(Exercise(
    "3.2", "(accuracy after 100 steps, accuracy of least squares) with class-mean templates",
    _class_mean_accuracies, rtol=0, atol=2e-3,
    hint="Stack X_train[y_train == c].mean(axis=0) for c = 0..9 as the columns of G, "
         "keep eta = 0.002, and score argmax z against y_test for both inversions."))
_register(Exercise(
    "3.3", "the number of directions less than half fitted after 15 steps with eta = 0.002",
    _half_fitted_directions, rtol=0, atol=0,
    hint="Take the eigenvalues of G^T G for the chapter's template generator and count the "
         "filter factors 1 - (1 - 2 eta sigma^2)^15 below one half."))
