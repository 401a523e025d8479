"""Chapter 9's exercises and their reference answers, computed by the package."""

from __future__ import annotations

import copy
import functools

import numpy as np

from inverse_lessons.exercises.engine import Exercise, register


class _FreshProbes:
    """Probe arguments built on first use (they need a short fit), copied at each use.

    Each pass yields a deep copy, so an answer that changes the model it is given
    (its ``n_steps``, say) cannot change what the reference, or a later answer, sees.
    """

    def __init__(self, build):
        self._build = functools.lru_cache(maxsize=None)(build)

    def __iter__(self):
        return iter(copy.deepcopy(self._build()))


def _bank_and_step_accuracies(model, X, y):
    """Return a fitted VAEBySynthesis's accuracy from its bank alone and with its steps.

    The bank alone is read from ``start_scores`` (the energies at the bank's best
    latent, before any Adam step), a route of its own rather than a copy of the model
    with ``n_steps=0``; with the steps it is the model's own prediction.
    """
    y = np.asarray(y)
    bank = model.classes_[np.argmax(model.start_scores(X), axis=1)]
    return np.array([np.mean(bank == y), np.mean(model.predict(X) == y)])


def _small_vae():
    """Fit a small, fast VAEBySynthesis and draw test images to probe an accuracy function.

    The model has 100 iterations and 300 training images; on its 200 clean and noisy
    test images the Adam steps change the accuracy (up on the clean ones, down on the
    noisy ones), so a function that scores the same model twice fails.
    """
    from inverse_lessons.damage import add_noise
    from inverse_lessons.data import load_digits_split
    from inverse_lessons.models.vae_by_class import VAEBySynthesis

    X_train, y_train, X_test, y_test = load_digits_split()
    model = VAEBySynthesis(max_iter=100, random_state=0)
    model.fit(X_train[:300], y_train[:300])
    clean, y = X_test[:200], y_test[:200]
    return ((model, clean, y), (model, add_noise(clean, 0.3, seed=0), y))


register(Exercise(
    "9.2", "a function accuracies(m, X, y): (the bank alone, with the steps), the accuracy "
           "on X, y of a fitted VAEBySynthesis m with n_steps=0, and with its own n_steps",
    lambda: _bank_and_step_accuracies, probes=_FreshProbes(_small_vae), rtol=0, atol=1e-9,
    hint="Score a copy of m (copy.deepcopy(m).set_params(n_steps=0)) for the bank alone, "
         "and m itself for the steps; do not change m's own n_steps."))
