"""The models that predict by inversion, and the baselines they are measured against.

- :mod:`~inverse_lessons.models.training`: the one training loop and the one Adam every
  classifier trains with.
- :mod:`~inverse_lessons.models.base`: what the classifiers share (labels, softmax
  predictions).
- :mod:`~inverse_lessons.models.line_model`: a line trained through its own inversion
  (chapter 2).
- :mod:`~inverse_lessons.models.original`: the original 2018 formulation of chapter 4.
- :mod:`~inverse_lessons.models.inverse_net`: ``InverseNet``, a learned linear generator and
  head (chapter 4); :mod:`~inverse_lessons.models.inverse_net_training`: how it learns (the
  objective, the inner step size, the training step).
- :mod:`~inverse_lessons.models.decoder`: a Keras decoder as generator, and its inversion
  (chapter 7).
- :mod:`~inverse_lessons.models.nonlinear`: ``NonlinearInverseNet``, trained through the
  decoder's inversion (chapter 7); :mod:`~inverse_lessons.models.nonlinear_training`: how it
  learns (the batches and the training step).
- :mod:`~inverse_lessons.models.ppca`: probabilistic PCA, the mixture EM and the likelihood of
  the observed pixels (chapter 8).
- :mod:`~inverse_lessons.models.analysis_by_synthesis`: ``AnalysisBySynthesis``, a few linear
  generators per class (chapter 8).
- :mod:`~inverse_lessons.models.fine_tuning`: fine-tuning those generators through the
  likelihood (chapter 8).
- :mod:`~inverse_lessons.models.vae_by_class`: ``VAEBySynthesis``, a small VAE per class,
  classified by inference (chapter 9); :mod:`~inverse_lessons.models.vae_inference`: that
  inference (the energy, its gradient, the bank and the Adam steps);
  :mod:`~inverse_lessons.models.vae_training`: fitting those VAEs by the evidence lower
  bound, and the posterior's temperature.
- :mod:`~inverse_lessons.models.adversarial_mlp`: a small MLP, optionally trained
  adversarially (chapter 9).
- :mod:`~inverse_lessons.models.fillings` and :mod:`~inverse_lessons.models.filled_classifier`:
  filling in missing pixels, and a classifier after a filling.
- :mod:`~inverse_lessons.models.baselines`: the tuned scikit-learn baselines.
"""
