"""Inverting a forward model: the core every chapter builds on.

- :mod:`~inverse_lessons.inversion.forward_models`: the toy forward models of chapters 1-2.
- :mod:`~inverse_lessons.inversion.solver`: inversion by unrolled gradient descent, in
  TensorFlow, with divergence detection.
- :mod:`~inverse_lessons.inversion.linear`: inverting a linear generator ``x = G z``: unrolled,
  in closed form, in the least-squares limit, and with missing pixels (chapters 3-5).
- :mod:`~inverse_lessons.inversion.closed_form`: the N steps in closed form by repeated
  squaring, and the implicit gradient (re-exported by ``linear``).
"""
