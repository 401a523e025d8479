"""The checking engine: an exercise, its check, and the registry of every exercise.

Each chapter's module (:mod:`~inverse_lessons.exercises.chapter_1`, ...) registers its
exercises with :func:`register`; :func:`check` compares an answer with the reference the
exercise computes, the first time it is asked for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Check", "Exercise", "as_numbers", "check", "exercises", "get_exercise",
           "reference_answer", "register"]


@dataclass(frozen=True)
class Exercise:
    """One checkable exercise.

    number : "chapter.exercise", as the book numbers it ("3.2").
    expects : what to pass to :func:`check`, in words (shown in hints and listings).
    reference : computes the right answer with the package (called once, then cached).
        A tuple of numbers, an array, or a callable (then the reader's answer must be a
        callable too, and the two are compared at ``probes``).
    hint : a nudge for a wrong answer that does not give the answer away.
    rtol, atol : the tolerance of the comparison (numpy.allclose). An answer that misses
        it but lies within ``CLOSE`` times of it is told the tolerance used.
    The parts of a tuple answer are named by the parenthesised list that opens
    ``expects`` ("(x_star, k): ..."), so that a hint can say which part is off.
    probes : for a callable answer, the argument tuples it is compared at.
    judge : for an answer that is a procedure rather than a number (a fitted search, say):
        a callable answer -> None if it is right, else what is wrong (a sentence); it
        recomputes with the package what it needs. ``reference`` is then unused.
    """

    number: str
    expects: str
    reference: Callable[[], Any]
    hint: str
    rtol: float = 1e-3
    atol: float = 1e-8
    probes: tuple = field(default=())
    judge: Callable[[Any], str | None] | None = None


class Check:
    """The verdict of :func:`check`: true when the answer is right; shows a sentence."""

    def __init__(self, number, correct, message):
        self.number, self.correct, self.message = number, bool(correct), message

    def __bool__(self):
        """Return whether the answer was right."""
        return self.correct

    def __repr__(self):
        """Return the verdict as a notebook shows it."""
        return f"Exercise {self.number}: {self.message}"

    _repr_pretty_ = lambda self, printer, cycle: printer.text(repr(self))  # noqa: E731


_EXERCISES: dict[str, Exercise] = {}

#: An answer outside the tolerance but within CLOSE times it is "close": check() then says
#: which tolerance it used, so that a reader can tell rounding from a wrong method.
CLOSE = 10.0


def register(exercise):
    """Add ``exercise`` to the registry that :func:`check` reads; return it."""
    _EXERCISES[exercise.number] = exercise
    return exercise


@functools.cache
def _reference(number):
    return _EXERCISES[number].reference()


def exercises():
    """Return {number: what to pass} for every exercise that can be checked."""
    return {number: e.expects for number, e in sorted(
        _EXERCISES.items(), key=lambda item: tuple(int(p) for p in item[0].split(".")))}


def get_exercise(number):
    """Return the registered exercise ``number``.

    Parameters
    ----------
    number : str, int or float
        Such as "3.2" (3.2 is read the same way).

    Returns
    -------
    Exercise

    Raises
    ------
    ValueError
        If no checkable exercise has that number.
    """
    key = str(number)
    if key not in _EXERCISES:
        raise ValueError(f"number must name a checkable exercise, one of "
                         f"{list(exercises())}, got {number!r}")
    return _EXERCISES[key]


def reference_answer(number):
    """Return the reference answer of exercise ``number``, computed on first use.

    Parameters
    ----------
    number : str, int or float
        Such as "3.2".

    Returns
    -------
    tuple, ndarray, float or callable
        What ``Exercise.reference`` computes: what :func:`check` compares an
        answer with (a judged exercise may use it in its judge, or not at all).

    Raises
    ------
    ValueError
        If no checkable exercise has that number.
    """
    return _reference(get_exercise(number).number)


def as_numbers(value):
    """Return ``value`` as a float array, or None if it is not made of numbers."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _tolerance(exercise):
    return f"rtol={exercise.rtol:g}, atol={exercise.atol:g}"


def _close(mine, right, exercise):
    """Elementwise: within the tolerance, and within CLOSE times the tolerance."""
    within = np.isclose(mine, right, rtol=exercise.rtol, atol=exercise.atol)
    near = np.isclose(mine, right, rtol=CLOSE * exercise.rtol, atol=CLOSE * exercise.atol)
    return within, near


def _part_names(exercise, size):
    """Return the names of a tuple answer's parts, from ``expects``; "part 1", ... otherwise."""
    match = re.match(r"\s*\(([^()]*)\)", exercise.expects)
    names = [name.strip() for name in match.group(1).split(",")] if match else []
    if len(names) != size or not all(names):
        names = [f"part {i + 1}" for i in range(size)]
    return names


def _listed(names):
    names = list(names)
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return text + (" is" if len(names) == 1 else " are")


def _diagnosis(exercise, answer, within, near):
    """Say what is wrong, without the answer: which parts, and whether it is close."""
    said = []
    if isinstance(answer, tuple | list) and within.ndim == 1 and within.size > 1:
        names = _part_names(exercise, within.size)
        wrong = [name for name, ok in zip(names, within, strict=True) if not ok]
        right = [name for name, ok in zip(names, within, strict=True) if ok]
        said.append(f"{_listed(wrong)} off" + (f" ({_listed(right)} right)" if right else ""))
    if np.all(near):
        said.append(f"close, but not within the tolerance used ({_tolerance(exercise)})")
    return ": " + "; ".join(said) if said else ""


def check(number, answer):
    """Is ``answer`` right for exercise ``number``? Returns a :class:`Check`.

    number : str such as "3.2" (an int or float such as 3.2 is read the same way).
    answer : what the exercise asks for, in the form ``exercises()[number]`` names.
    Raises ValueError for an exercise that has no check. A wrong answer gets a hint; the
    hint names the wrong parts of a tuple answer, and says the tolerance used when the
    answer is close (within ``CLOSE`` times the tolerance) but not accepted.
    """
    exercise = get_exercise(number)
    key = exercise.number
    if exercise.judge is not None:
        wrong = exercise.judge(answer)
        if wrong is None:
            return Check(key, True, "correct.")
        return Check(key, False, f"not yet: {wrong} {exercise.hint}")
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
        if any(m.shape != r.shape for m, r in zip(mine, right, strict=True)):
            return Check(key, False, f"not yet: your function's results have the wrong "
                                     f"shape. {exercise.hint}")
        within, near = _close(np.concatenate([np.zeros(0)] + [m.ravel() for m in mine]),
                              np.concatenate([np.zeros(0)] + [r.ravel() for r in right]),
                              exercise)
        answer = None                     # a function's results have no named parts
    else:
        mine, right = as_numbers(answer), np.asarray(reference, dtype=np.float64)
        if mine is None or mine.shape != right.shape:
            shape = "one number" if right.ndim == 0 else f"{right.size} numbers"
            return Check(key, False, f"not yet: pass {exercise.expects} ({shape}).")
        within, near = _close(mine, right, exercise)
    if np.all(within):
        return Check(key, True, "correct.")
    return Check(key, False, f"not yet{_diagnosis(exercise, answer, within, near)}. "
                             f"{exercise.hint}")
