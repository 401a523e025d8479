"""The models that predict by inversion, and the baselines they are measured against.

- :mod:`~inverse_lessons.models.base`: what the classifiers share (labels, the training loop,
  softmax predictions).
- :mod:`~inverse_lessons.models.line_model`: a line trained through its own inversion
  (chapter 2).
- :mod:`~inverse_lessons.models.original`: the original 2018 formulation of chapter 4.
- :mod:`~inverse_lessons.models.inverse_net`: ``InverseNet``, a learned linear generator and
  head (chapter 4).
- :mod:`~inverse_lessons.models.nonlinear`: a Keras decoder as generator,
  ``NonlinearInverseNet`` (chapter 7).
- :mod:`~inverse_lessons.models.analysis_by_synthesis`: ``AnalysisBySynthesis``, a few linear
  generators per class (chapter 8).
- :mod:`~inverse_lessons.models.baselines`: the tuned scikit-learn baselines and the filling-in
  of missing pixels they need.
"""
