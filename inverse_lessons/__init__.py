"""inverse-lessons: the helper package of the teaching book on learning by inversion.

Modules, one idea each:

- :mod:`inverse_lessons.forward_models`: the toy forward models of chapters 1-2.
- :mod:`inverse_lessons.solver`: inversion by unrolled gradient descent, in TensorFlow.
- :mod:`inverse_lessons.line_model`: training a line through its own inversion (chapter 2).
- :mod:`inverse_lessons.plotting`: the book's figure style and shared plots.
- :mod:`inverse_lessons.widgets`: sliders for the live notebooks.
"""

from . import _tf  # noqa: F401  (silences TensorFlow's import notices first)
from .forward_models import line_forward, square_forward, toy_forward
from .solver import (
    DescentPath,
    DivergenceError,
    Inversion,
    descent_path,
    invert,
    inversion_loss,
    stable_step_size,
)

__version__ = "0.1.0"

__all__ = [
    "DescentPath",
    "DivergenceError",
    "Inversion",
    "descent_path",
    "invert",
    "inversion_loss",
    "line_forward",
    "square_forward",
    "stable_step_size",
    "toy_forward",
]
