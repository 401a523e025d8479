"""Argument checks shared by the package: each error names the argument and what was expected."""

from __future__ import annotations

import math
import numbers

__all__ = ["check_choice", "check_int", "check_positive"]


def check_int(name, value, minimum=1):
    """An integer (not a bool) of at least ``minimum``; returns it as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_positive(name, value, allow_zero=False):
    """A finite real number, > 0 (or >= 0 with ``allow_zero``); returns it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {kind} and finite, got {value}")
    return float(value)


def check_choice(name, value, choices):
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
