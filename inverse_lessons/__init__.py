"""inverse-lessons: the helper package of the teaching book on learning by inversion.

The modules are grouped by layer; each layer uses only the ones above it in this list.

- The ground: :mod:`~inverse_lessons.data` (the canonical split of scikit-learn's 8x8 digits),
  :mod:`~inverse_lessons.damage` (missing pixels and noise), :mod:`~inverse_lessons.threads`
  (one thread for the book's small computations).
- :mod:`inverse_lessons.inversion`: inverting a forward model: the toy models of chapters 1-2,
  the unrolled gradient-descent solver, and a linear generator inverted four ways.
- :mod:`inverse_lessons.models`: the models that predict by inversion (the line of chapter 2,
  the 2018 original, ``InverseNet``, ``NonlinearInverseNet``, ``AnalysisBySynthesis``,
  ``VAEBySynthesis``), the training loop they share, and the tuned scikit-learn baselines.
- :mod:`inverse_lessons.evaluation`: judging models: paired tests, seeds and their spread,
  calibration, adversarial attacks (generic, and through a model's likelihood), and time and
  memory.
- :mod:`inverse_lessons.figures`: the book's figure style and plots, the live sliders, their
  scrubbable animations and the diagrams.
- :mod:`inverse_lessons.exercises`: the exercises that check themselves.

``inverse_lessons.tf`` is TensorFlow, imported after its start-up notices are silenced:
notebooks and tests write ``from inverse_lessons import tf``.
"""

from inverse_lessons._tf import tf  # first: silences TensorFlow's import notices
from inverse_lessons.data import load_digits_split
from inverse_lessons.inversion.forward_models import line_forward, square_forward, toy_forward
from inverse_lessons.inversion.solver import (
    DescentPath,
    DivergenceError,
    Inversion,
    descent_path,
    inversion_loss,
    invert,
    step_size_bound,
)
from inverse_lessons.models.analysis_by_synthesis import AnalysisBySynthesis
from inverse_lessons.models.inverse_net import InverseNet
from inverse_lessons.models.nonlinear import NonlinearInverseNet
from inverse_lessons.models.vae_by_class import VAEBySynthesis

__version__ = "0.1.0"

__all__ = [
    "AnalysisBySynthesis",
    "DescentPath",
    "DivergenceError",
    "Inversion",
    "InverseNet",
    "NonlinearInverseNet",
    "descent_path",
    "invert",
    "inversion_loss",
    "line_forward",
    "load_digits_split",
    "square_forward",
    "step_size_bound",
    "tf",
    "toy_forward",
    "VAEBySynthesis",
]
