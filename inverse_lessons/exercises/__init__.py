"""Exercises that check themselves: ``check("1.2", answer)`` says whether an answer is right.

Works wherever a notebook runs (JupyterLab, Binder, Colab), with no server: the
reference answers are computed here, by the package's own functions, the first
time they are asked for, never typed in. A right answer (within the stated
tolerance) is confirmed; a wrong one gets a hint that points the way without
giving the answer away. ``exercises()`` lists what can be checked and what to
pass for each. The checking engine is :mod:`~inverse_lessons.exercises.engine`; each
chapter's exercises and reference answers are in ``chapter_1`` ... ``chapter_9``, which
register themselves when this package is imported.

>>> from inverse_lessons.exercises import check
>>> check("1.2", (5.0, 32))          # doctest: +SKIP
Exercise 1.2: correct.
"""

from inverse_lessons.exercises import (
    chapter_1,  # noqa: F401  (registers its exercises)
    chapter_2,  # noqa: F401  (registers its exercises)
    chapter_3,  # noqa: F401  (registers its exercises)
    chapter_4,  # noqa: F401  (registers its exercises)
    chapter_5,  # noqa: F401  (registers its exercises)
    chapter_6,  # noqa: F401  (registers its exercises)
    chapter_7,  # noqa: F401  (registers its exercises)
    chapter_8,  # noqa: F401  (registers its exercises)
    chapter_9,  # noqa: F401  (registers its exercises)
)
from inverse_lessons.exercises.engine import Check, Exercise, check, exercises

__all__ = ["Check", "Exercise", "check", "exercises"]
