"""Judging a model: is a lead real, how spread are the seeds, can it be fooled, what does it cost.

- :mod:`~inverse_lessons.evaluation.stats`: McNemar's exact paired test over test images.
- :mod:`~inverse_lessons.evaluation.reporting`: fitting with several seeds, the mean with its
  range.
- :mod:`~inverse_lessons.evaluation.calibration`: the reliability table and the expected
  calibration error.
- :mod:`~inverse_lessons.evaluation.attacks`: the smallest change that flips a classifier: the
  searches any classifier can be given (bisection, refinement, decision-based).
- :mod:`~inverse_lessons.evaluation.deepfool`: DeepFool's loop, given the gaps and slopes of a
  model's scores, and the box rule of a step.
- :mod:`~inverse_lessons.evaluation.svc_pairs`: an RBF SVC's one-against-one functions, their
  gradients and votes.
- :mod:`~inverse_lessons.evaluation.likelihood_attacks`: the same through an
  ``AnalysisBySynthesis``'s likelihood, and exactly with one generator per class.
- :mod:`~inverse_lessons.evaluation.gradient_attacks`: gradient attacks through any model's
  differentiable scores (DeepFool towards each class with restarts, then PGD), in L2 and
  L-infinity (chapter 9).
- :mod:`~inverse_lessons.evaluation.robustness`: the attack suite of chapter 9: the best of
  gradient, decision-based (HopSkipJump) and transfer attacks per image, the exact flips that
  check it, and the baselines it attacks.
- :mod:`~inverse_lessons.evaluation.profiling`: time and memory of a computation.
"""
