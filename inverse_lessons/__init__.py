"""inverse-lessons: the helper package of the teaching book on learning by inversion.

Modules, one idea each:

- :mod:`inverse_lessons.forward_models`: the toy forward models of chapters 1-2.
- :mod:`inverse_lessons.solver`: inversion by unrolled gradient descent, in TensorFlow.
- :mod:`inverse_lessons.line_model`: training a line through its own inversion (chapter 2).
- :mod:`inverse_lessons.data`: the canonical split of scikit-learn's 8x8 digits (chapters 3-7).
- :mod:`inverse_lessons.linear_inversion`: inverting a linear generator, unrolled, in closed
  form, and in the least-squares limit.
- :mod:`inverse_lessons.original`: the original 2018 formulation of chapter 4, reproduced.
- :mod:`inverse_lessons.inverse_net`: ``InverseNet``, the scikit-learn classifier that
  predicts by inverting a learned generator.
- :mod:`inverse_lessons.baselines`: the tuned scikit-learn baselines.
- :mod:`inverse_lessons.damage`: missing pixels, missing blocks and noise, and filling them in
  (chapter 6).
- :mod:`inverse_lessons.profiling`: time and memory of a computation (chapter 5).
- :mod:`inverse_lessons.nonlinear`: a Keras decoder as generator, ``NonlinearInverseNet``
  (chapter 7).
- :mod:`inverse_lessons.analysis_by_synthesis`: ``AnalysisBySynthesis``, a few linear
  generators per class, inverted on the observed pixels (chapter 8).
- :mod:`inverse_lessons.attacks`: searches for the smallest change that flips a classifier:
  through ``AnalysisBySynthesis``'s likelihood, the exact smallest flip with one generator
  per class, gradient (an RBF SVC) and decision-based (any classifier) (chapter 8).
- :mod:`inverse_lessons.stats`: McNemar's exact paired test over test images.
- :mod:`inverse_lessons.reporting`: fitting with several seeds and reporting the spread
  (chapter 4's pages share it).
- :mod:`inverse_lessons.calibration`: how well predicted probabilities match accuracy: the
  reliability table and the expected calibration error (chapter 8).
- :mod:`inverse_lessons.threads`: one thread for the book's small computations (BLAS,
  OpenMP and TensorFlow), the one way the package limits threads.
- :mod:`inverse_lessons.plotting`: the book's figure style, shared plots, and the figures
  the sliders and animations draw.
- :mod:`inverse_lessons.widgets`: sliders for the live notebooks (ipywidgets).
- :mod:`inverse_lessons.animation`: scrubbable animations that need no kernel or network,
  the sliders' counterparts in the rendered book.
- :mod:`inverse_lessons.diagrams`: the unrolled computation graph (chapter 2) and the
  bilevel loop (chapter 4), drawn with matplotlib.

``inverse_lessons.tf`` is TensorFlow, imported after its start-up notices are silenced:
notebooks and tests write ``from inverse_lessons import tf``.
"""

from ._tf import tf  # first: silences TensorFlow's import notices
from .analysis_by_synthesis import AnalysisBySynthesis
from .data import load_digits_split
from .forward_models import line_forward, square_forward, toy_forward
from .inverse_net import InverseNet
from .solver import (
    DescentPath,
    DivergenceError,
    Inversion,
    descent_path,
    inversion_loss,
    invert,
    step_size_bound,
)

__version__ = "0.1.0"

__all__ = [
    "AnalysisBySynthesis",
    "DescentPath",
    "DivergenceError",
    "Inversion",
    "InverseNet",
    "descent_path",
    "invert",
    "inversion_loss",
    "line_forward",
    "load_digits_split",
    "square_forward",
    "step_size_bound",
    "tf",
    "toy_forward",
]
