"""Chapter 7's exercises and their reference answers, computed by the package."""

from __future__ import annotations

import functools

import numpy as np

from inverse_lessons.exercises.engine import Exercise, register


class _LazyProbes:
    """Probe arguments built on first use: they need TensorFlow or a short fit."""

    def __init__(self, build):
        self._build = functools.lru_cache(maxsize=None)(build)

    def __iter__(self):
        return iter(self._build())


def _refinement_gain(model, X, y, n_steps):
    """Return the accuracy gained by n_steps of inversion from the encoder's guess.

    For a fitted NonlinearInverseNet: the accuracy after n_steps decoder-inversion steps
    minus the accuracy on the guess alone, a float.
    """
    guess = model.invert(X, n_steps=0)              # the encoder's guess e(x)
    refined = model.invert(X, n_steps=n_steps)      # n_steps of the model's own steps

    def accuracy(Z):
        return float(np.mean(model.classify_codes(Z) == np.asarray(y)))

    return accuracy(refined) - accuracy(guess)


def _small_encoder_model():
    """Fit a small, fast NonlinearInverseNet and draw test images to probe a gain function.

    The model has 5 inner steps, 10 iterations and 300 training images; the 200 clean and
    noisy test images give gains that are not zero, so a function that always says "no
    gain" fails.
    """
    from inverse_lessons.damage import add_noise
    from inverse_lessons.data import load_digits_split
    from inverse_lessons.models.nonlinear import NonlinearInverseNet

    X_train, y_train, X_test, y_test = load_digits_split()
    model = NonlinearInverseNet(inner_steps=5, max_iter=10, random_state=0)
    model.fit(X_train[:300], y_train[:300])
    clean, y = X_test[:200], y_test[:200]
    noisy = add_noise(clean, 0.3, seed=0)
    return ((model, clean, y, 50), (model, noisy, y, 5), (model, noisy, y, 50))


def _masked_decoder_inversion(decoder, X, mask, Z, n_steps, step_size):
    """Invert a decoder on the observed pixels only, through the package's invert_decoder.

    The 0/1 mask multiplies both the image and the drawing, so
    ||mask x - mask g(z)||^2 = ||mask (x - g(z))||^2.
    """
    from inverse_lessons._tf import tf
    from inverse_lessons.models.decoder import invert_decoder

    mask = tf.convert_to_tensor(mask, tf.float32)
    return invert_decoder(lambda codes: mask * decoder(codes),
                          mask * tf.convert_to_tensor(X, tf.float32), Z,
                          n_steps=n_steps, step_size=step_size).numpy()


def _small_decoders():
    """Untrained decoders with images, 0/1 masks and starts to probe masked inversion."""
    from inverse_lessons._tf import tf
    from inverse_lessons.models.decoder import make_decoder

    probes = []
    for seed, n_steps in ((0, 3), (1, 10)):
        rng = np.random.default_rng(seed)
        probes.append((make_decoder(10, seed=seed),
                       tf.constant(rng.random((6, 64)), tf.float32),
                       tf.constant(rng.random((6, 64)) < 0.5, tf.float32),
                       tf.constant(rng.standard_normal((6, 10)), tf.float32),
                       n_steps, 0.05))
    return tuple(probes)


register(Exercise(
    "7.1", "a function z_star(x, w): where L(z) = (x - sigmoid(w z))^2 has its minimum, "
           "for 0 < x < 1 and w > 0",
    lambda: (lambda x, w: np.log(x / (1 - x)) / w),
    probes=((0.3, 2.0), (0.8, 0.5), (0.05, 3.0)), rtol=1e-9, atol=1e-12,
    hint="L'(z) vanishes only where sigmoid(w z) = x; solve that for z."))
register(Exercise(
    "7.2", "a function gain(m, X, y, n_steps): the accuracy of m's head on the codes after "
           "n_steps inversion steps from the encoder's guess, minus its accuracy on the "
           "guess alone",
    # one test image of the 200 probed may flip between float32 and float64 arithmetic
    lambda: _refinement_gain, probes=_LazyProbes(_small_encoder_model), rtol=0, atol=0.006,
    hint="The encoder's guess is m.invert(X, n_steps=0); m.invert(X, n_steps=n) takes n of "
         "the model's own steps from it; m.classify_codes(Z) gives the head's labels. Score "
         "both codes and subtract."))
register(Exercise(
    "7.3", "a function masked_inversion(decoder, X, mask, Z, n_steps, step_size): n_steps "
           "gradient steps on ||mask (X - decoder(Z))||^2 from Z, for a 0/1 float mask",
    lambda: _masked_decoder_inversion, probes=_LazyProbes(_small_decoders),
    rtol=1e-4, atol=1e-5,
    hint="Inside tf.GradientTape, watch Z, sum the squared masked residual over every "
         "image and pixel, and step against its gradient; the mask multiplies the "
         "residual before it is squared."))
