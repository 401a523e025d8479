"""Argument checks shared by the package: each error names the argument and what was expected.

Two forms. Function arguments are checked one at a time (:func:`check_int`,
:func:`check_positive`, :func:`check_choice`). An estimator's settings are
checked at ``fit`` from one table per estimator, read by one checker
(:func:`check_params`), in the spirit of scikit-learn's
``_parameter_constraints`` (written here because scikit-learn's own
checker is private)::

    _CONSTRAINTS = {"n_latent": [Integer(1)], "batch_size": [None, Integer(1)],
                    "head": [Options("linear", "identity")]}
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["Boolean", "Integer", "Options", "Real", "Satisfies", "check_choice", "check_int",
           "check_params", "check_positive"]


def check_int(name, value, minimum=1):
    """Check an integer argument (not a bool) of at least ``minimum``.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        The argument.
    minimum : int
        The smallest value allowed.

    Returns
    -------
    int
        The value.

    Raises
    ------
    TypeError
        If the value is not an integer.
    ValueError
        If it is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_positive(name, value, allow_zero=False):
    """Check a finite real argument, > 0 (or >= 0 with ``allow_zero``).

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        The argument.
    allow_zero : bool
        Whether 0 is allowed.

    Returns
    -------
    float
        The value.

    Raises
    ------
    TypeError
        If the value is not a real number.
    ValueError
        If it is negative, zero (unless allowed) or not finite.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {kind} and finite, got {value}")
    return float(value)


def check_choice(name, value, choices):
    """Check that an argument is one of ``choices``.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        The argument.
    choices : tuple
        The values allowed.

    Returns
    -------
    object
        The value.

    Raises
    ------
    ValueError
        If the value is not one of them.
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


class Integer:
    """Constrain a setting to an integer (not a bool) in [low, high].

    Parameters
    ----------
    low : int
        The smallest value allowed.
    high : int or None
        The largest value allowed (None: no bound).
    """

    def __init__(self, low, high=None):
        self.low, self.high = low, high

    def has_type(self, value):
        """Return whether the value is an integer, in range or not."""
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    def accepts(self, value):
        """Return whether the value meets the constraint."""
        return (self.has_type(value) and value >= self.low
                and (self.high is None or value <= self.high))

    def __str__(self):
        if self.high is None:
            return f"an integer >= {self.low}"
        return f"an integer in [{self.low}, {self.high}]"


class Real:
    """Constrain a setting to a finite real number (not a bool) in an interval.

    Parameters
    ----------
    low, high : float or None
        The interval's ends (None: unbounded on that side).
    closed : {"left", "right", "both", "neither"}
        Which ends belong to the interval.
    """

    def __init__(self, low=None, high=None, closed="both"):
        self.low, self.high, self.closed = low, high, closed

    def has_type(self, value):
        """Return whether the value is a real number, in range or not."""
        return isinstance(value, numbers.Real) and not isinstance(value, bool)

    def accepts(self, value):
        """Return whether the value meets the constraint."""
        if not self.has_type(value) or not math.isfinite(value):
            return False
        left, right = self.closed in ("left", "both"), self.closed in ("right", "both")
        above = self.low is None or value > self.low or (left and value == self.low)
        below = self.high is None or value < self.high or (right and value == self.high)
        return above and below

    def __str__(self):
        if self.high is None and self.low == 0:
            return ("a non-negative real number" if self.closed in ("left", "both")
                    else "a positive real number")
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"a real number in {left}{low}, {high}{right}"


class Options:
    """Constrain a setting to one of a few values.

    Parameters
    ----------
    *options : object
        The values allowed (strings, as a rule).
    """

    def __init__(self, *options):
        self.options = options

    def has_type(self, value):
        """Return whether the value is of the options' type."""
        return any(type(value) is type(option) for option in self.options)

    def accepts(self, value):
        """Return whether the value meets the constraint."""
        return self.has_type(value) and value in self.options

    def __str__(self):
        return f"one of {self.options}"


class Boolean:
    """Constrain a setting to True or False (a Python or numpy bool)."""

    def has_type(self, value):
        """Return whether the value is a bool."""
        return isinstance(value, (bool, np.bool_))

    def accepts(self, value):
        """Return whether the value meets the constraint."""
        return self.has_type(value)

    def __str__(self):
        return "True or False"


class Satisfies:
    """Constrain a setting by a predicate, described in words.

    Parameters
    ----------
    predicate : callable
        ``predicate(value)`` is true for an allowed value; it may raise on
        others.
    description : str
        What is allowed, for the message ("a pair (low, high) with low < high").
    """

    def __init__(self, predicate, description):
        self.predicate, self.description = predicate, description

    def has_type(self, value):
        """Return True: any type may be tried."""
        return True

    def accepts(self, value):
        """Return whether the value meets the constraint."""
        try:
            return bool(self.predicate(value))
        except (TypeError, ValueError):
            return False

    def __str__(self):
        return self.description


def _accepts(constraint, value):
    return value is None if constraint is None else constraint.accepts(value)


def _has_type(constraint, value):
    return value is None if constraint is None else constraint.has_type(value)


def check_params(estimator, constraints):
    """Check an estimator's settings against its table of constraints.

    Parameters
    ----------
    estimator : object
        Its attributes named in the table are checked.
    constraints : dict
        Setting name -> list of allowed forms: ``None`` (the value None),
        :class:`Integer`, :class:`Real`, :class:`Options`, :class:`Boolean`
        or :class:`Satisfies`; a value meeting any one of them passes.

    Raises
    ------
    TypeError
        If a value has none of the allowed types.
    ValueError
        If it has an allowed type but meets none of the constraints.
        Either message names the setting, what was expected and what was given.
    """
    for name, allowed in constraints.items():
        value = getattr(estimator, name)
        if any(_accepts(c, value) for c in allowed):
            continue
        expected = " or ".join("None" if c is None else str(c) for c in allowed)
        error = ValueError if any(_has_type(c, value) for c in allowed) else TypeError
        raise error(f"{name} must be {expected}, got {value!r}")
