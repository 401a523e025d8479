"""Inference in chapter 9's generators: the energy, its gradient, the latents, the scores.

Each class c of :class:`~inverse_lessons.models.vae_by_class.VAEBySynthesis` has a
generator, the decoder of a small VAE,

    x = g_c(z) + e,   g_c(z) = b_c + V_c^T tanh(U_c^T z + u_c),
    z ~ N(0, I_k),    e ~ N(0, s_c^2 I),

and scores an image x, observed on the pixels O, by the optimised energy

    E_c(x) = min_z  ||x_O - g_c(z)_O||^2 / (2 s_c^2)
                    + |O| log(2 pi s_c^2) / 2 + ||z||^2 / 2,

in nats. The minimum is searched as Schott et al. (2019) search it: the best latent
of a fixed bank of prior samples, then a few steps of Adam on E_c over z.

- :func:`decode`: g_c(z) for every class at once; :func:`draw_bank`, every
  class's drawing of every latent of the bank (they do not depend on the image).
- :func:`energies` and :func:`energy_gradient`: E_c(x, z) and dE_c/dz, the
  gradient written out (back-propagation through g_c by hand).
- :func:`infer_latents`: the Adam steps, one graph loop, differentiable in x
  through every step.
- :func:`infer_scores`: the bank's start, the steps and the scores -E_c(x),
  traced once (or into the caller's own trace); with ``envelope`` the latents
  are held fixed, so that the gradient in x is the partial derivative at z*
  (the envelope theorem, exact at an exact minimum).

Tensors are float64. Shapes: n images, C classes, d pixels, k latent dimensions,
H hidden units, S bank samples. The decoder's weights are the tuple
``(U (C, k, H), u (C, H), V (C, H, d), b (C, d))``.
"""

from __future__ import annotations

import math

from inverse_lessons._tf import tf
from inverse_lessons.models.training import adam_step

__all__ = ["decode", "draw_bank", "energies", "energy_gradient", "infer_latents",
           "infer_scores"]

_LOG_2PI = math.log(2.0 * math.pi)
_F64 = tf.float64


def decode(Z, U, u, V, b):
    """Return every class's drawing g_c(z) of the latents Z, and its hidden units.

    Parameters
    ----------
    Z : tf.Tensor of shape (n, C, k)
        One latent per image and class.
    U, u, V, b : tf.Tensor or ndarray
        The decoder's weights, shapes (C, k, H), (C, H), (C, H, d) and (C, d).

    Returns
    -------
    drawn : tf.Tensor of shape (n, C, d)
        g_c(z) for each latent.
    hidden : tf.Tensor of shape (n, C, H)
        tanh(U_c^T z + u_c), which the gradient written out reuses.
    """
    hidden = tf.tanh(tf.einsum("nck,ckh->nch", Z, U) + u[None])
    return tf.einsum("nch,chd->ncd", hidden, V) + b[None], hidden


def energies(X, mask, Z, decoder, log_s2):
    """Return the energy E_c(x, z) of every image and class at the latents Z.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Images; a missing pixel may hold any finite value (it is masked).
    mask : array-like of shape (n, d)
        1 for an observed pixel, 0 for a missing one.
    Z : array-like of shape (n, C, k)
        One latent per image and class.
    decoder : tuple of tf.Tensor
        ``(U (C, k, H), u (C, H), V (C, H, d), b (C, d))``, the generators' weights.
    log_s2 : tf.Tensor of shape (C,)
        Log of each class's noise variance s_c^2 (pixel units squared).

    Returns
    -------
    tf.Tensor of shape (n, C)
        ||x_O - g_c(z)_O||^2 / (2 s_c^2) + |O| log(2 pi s_c^2) / 2 + ||z||^2 / 2,
        in nats.
    """
    X, mask, Z = (tf.convert_to_tensor(v, _F64) for v in (X, mask, Z))
    drawn, _ = decode(Z, *decoder)
    residual = (X[:, None] - drawn) * mask[:, None]
    s2 = tf.exp(log_s2)
    n_observed = tf.reduce_sum(mask, axis=1, keepdims=True)
    return (0.5 * tf.reduce_sum(tf.square(residual), -1) / s2[None]
            + 0.5 * n_observed * (_LOG_2PI + log_s2[None])
            + 0.5 * tf.reduce_sum(tf.square(Z), -1))


def energy_gradient(X, mask, Z, decoder, log_s2):
    """Return dE_c/dz at Z, written out (back-propagation through g_c by hand).

    Parameters
    ----------
    X, mask, Z, decoder, log_s2
        As for :func:`energies` (tensors, float64).

    Returns
    -------
    tf.Tensor of shape (n, C, k)
        -J_c(z)_O^T (x_O - g_c(z)_O) / s_c^2 + z, with J_c the decoder's
        Jacobian; differentiable in X (the unrolled inference uses that).
    """
    U, u, V, b = decoder
    drawn, hidden = decode(Z, U, u, V, b)
    pull = -(X[:, None] - drawn) * mask[:, None] / tf.exp(log_s2)[None, :, None]
    back = tf.einsum("ncd,chd->nch", pull, V) * (1.0 - tf.square(hidden))
    return tf.einsum("nch,ckh->nck", back, U) + Z


def draw_bank(bank, decoder):
    """Return every class's drawing g_c(z) of every latent z of the bank.

    The drawings do not depend on the image, so a classifier draws them once
    (at fit) and gives them to every call of :func:`infer_scores`.

    Parameters
    ----------
    bank : tf.Tensor of shape (S, k)
        The prior samples that start the inference.
    decoder : tuple of tf.Tensor
        The generators' weights, as for :func:`energies`.

    Returns
    -------
    tf.Tensor of shape (C, S, d)
    """
    ones = tf.ones_like(decoder[0][:, :1, 0])[None]                     # (1, C, 1)
    drawn, _ = decode(bank[:, None, :] * ones, *decoder)                # (S, C, d)
    return tf.transpose(drawn, [1, 0, 2])


def _bank_start(X, mask, bank, drawings, log_s2):
    """Return each class's best latent of the bank (S, k) for each image: (n, C, k).

    Best by the energy, computed from the bank's drawings (C, S, d) without a
    latent per image; the choice is piecewise constant (no gradient).
    """
    s2 = tf.exp(log_s2)
    seen = X * mask
    squared = (tf.reduce_sum(seen * X, -1)[:, None, None]
               - 2.0 * tf.einsum("nd,csd->ncs", seen, drawings)
               + tf.einsum("nd,csd->ncs", mask, tf.square(drawings)))
    energy = 0.5 * squared / s2[None, :, None] + 0.5 * tf.reduce_sum(tf.square(bank), -1)
    best = tf.stop_gradient(tf.argmin(energy, axis=-1))          # (n, C)
    return tf.gather(bank, best)


def infer_latents(X, mask, start, decoder, log_s2, n_steps, learning_rate):
    """Run ``n_steps`` steps of Adam on every E_c(x, z) over z, from ``start``.

    Each image and class is its own problem (Adam's moments are per
    coordinate). The steps are one ``tf.while_loop``, so a trace holds one step
    whatever ``n_steps`` is; the result is differentiable in X through every
    step (back-propagation through the loop).

    Parameters
    ----------
    X, mask, decoder, log_s2
        As for :func:`energies` (tensors, float64).
    start : tf.Tensor of shape (n, C, k)
        The starting latents.
    n_steps : int
        Adam steps (0: the start itself).
    learning_rate : float
        Adam's step size (latent units).

    Returns
    -------
    tf.Tensor of shape (n, C, k)
    """
    rate = tf.constant(learning_rate, _F64)

    def step(t, Z, moment, velocity):
        g = energy_gradient(X, mask, Z, decoder, log_s2)
        (Z,), (moment,), (velocity,) = adam_step([Z], [g], [moment], [velocity], t, rate)
        return t + 1.0, Z, moment, velocity

    zeros = tf.zeros_like(start)
    _, Z, _, _ = tf.while_loop(lambda t, *_: t <= n_steps, step,
                               (tf.constant(1.0, _F64), start, zeros, zeros),
                               maximum_iterations=n_steps)
    return Z


def _scores(X, mask, bank, drawings, decoder, log_s2, n_steps, learning_rate, envelope):
    """:func:`infer_scores`, untraced."""
    bank, drawings, log_s2 = (tf.convert_to_tensor(v, _F64) for v in (bank, drawings, log_s2))
    decoder = tuple(tf.convert_to_tensor(w, _F64) for w in decoder)
    start = _bank_start(X, mask, bank, drawings, log_s2)
    Z = infer_latents(X, mask, start, decoder, log_s2, n_steps, learning_rate)
    if envelope:
        Z = tf.stop_gradient(Z)
    return (-energies(X, mask, Z, decoder, log_s2),
            -energies(X, mask, start, decoder, log_s2), Z)


# no AutoGraph: the code has no Python control flow on tensors, and converting it
# costs more than tracing it
_traced_scores = tf.function(_scores, reduce_retracing=True, autograph=False)


def infer_scores(X, mask, bank, drawings, decoder, log_s2, n_steps, learning_rate, *,
                 envelope):
    """Return the class scores -E_c(x) after the bank and the Adam steps, and the latents.

    Called eagerly, it runs one traced graph (traced again only for new
    shapes or arguments), differentiable like the eager operations and many
    times faster for an attack's repeated calls. Called while a
    ``tf.function`` is being traced, its operations go into that trace (a
    nested graph's gradient would cost a second trace).

    Parameters
    ----------
    X, mask : tf.Tensor of shape (n, d)
        Images (0 where missing) and their masks, float64.
    bank : array-like of shape (S, k)
        The prior samples that start the inference (shared by the classes).
    drawings : array-like of shape (C, S, d)
        Every class's drawing of every bank sample, :func:`draw_bank`.
    decoder : tuple
        The generators' weights, as for :func:`energies`.
    log_s2 : array-like of shape (C,)
        Log noise variances.
    n_steps : int
        Adam steps.
    learning_rate : float
        Adam's step size (latent units).
    envelope : bool
        Hold the inferred latents fixed (no gradient through the steps).

    Returns
    -------
    scores : tf.Tensor of shape (n, C)
        -E_c(x, z*) at the inferred latents z*, nats.
    start_scores : tf.Tensor of shape (n, C)
        -E_c(x, z0) at the bank's best latents z0.
    latents : tf.Tensor of shape (n, C, k)
        z*.
    """
    run = _scores if tf.inside_function() else _traced_scores
    return run(X, mask, bank, drawings, decoder, log_s2, n_steps, learning_rate, envelope)
