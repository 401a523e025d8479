"""Judging a model: is a lead real, how spread are the seeds, can it be fooled, what does it cost.

- :mod:`~inverse_lessons.evaluation.stats`: McNemar's exact paired test over test images.
- :mod:`~inverse_lessons.evaluation.reporting`: fitting with several seeds, the mean with its
  range.
- :mod:`~inverse_lessons.evaluation.calibration`: the reliability table and the expected
  calibration error.
- :mod:`~inverse_lessons.evaluation.attacks`: the smallest change that flips a classifier.
- :mod:`~inverse_lessons.evaluation.profiling`: time and memory of a computation.
"""
