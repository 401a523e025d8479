"""Chapter 5's exercises and their reference answers, computed by the package."""

from __future__ import annotations

import numpy as np

from inverse_lessons.exercises.engine import Exercise, register


def _implicit_gradient(G, x, g):
    """dl/dG through the package's implicit_inversion, for dl/dz* = g: (m, k)."""
    from inverse_lessons._tf import tf
    from inverse_lessons.inversion.closed_form import implicit_inversion

    G = tf.Variable(np.asarray(G, dtype=np.float64))
    with tf.GradientTape() as tape:
        z = implicit_inversion(G, np.asarray(x, dtype=np.float64)[None, :])
        ell = tf.reduce_sum(z * np.asarray(g, dtype=np.float64)[None, :])
    return tape.gradient(ell, G).numpy()


def _random_problem(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(8, 3)), rng.normal(size=8), rng.normal(size=3)


register(Exercise(
    "5.1", "a function dl_dG(G, x, g): the implicit gradient for G (m, k), x (m,) and "
           "g = dl/dz* (k,), with z* the least-squares code",
    lambda: _implicit_gradient, probes=tuple(_random_problem(s) for s in range(3)),
    rtol=1e-6, atol=1e-9,
    hint="Solve G^T G v = g, compute z* from the normal equations, and combine the residual "
         "x - G z* and G v with outer products; compare with automatic differentiation "
         "through tf.linalg.solve on a small random problem."))
register(Exercise(
    "5.2", "the ratio of the unrolled gradient's memory for 250 images to that for 500 "
           "(N = 300)",
    lambda: 250 / 500, rtol=0, atol=0.06,
    hint="The tape keeps every iterate of every image: ask how that count changes when the "
         "batch does, and compare peak_mib of the two measurements."))


def _truncated_training():
    from inverse_lessons.data import load_digits_split
    from inverse_lessons.inversion.linear import train_through_inversion

    X_train, y_train, _, _ = load_digits_split()
    X, y = X_train[:500], y_train[:500]
    full, truncated = (train_through_inversion(X, y, inner_steps=300, backprop_steps=k,
                                               n_iter=50, seeds=(0,))[0, -1]
                       for k in (None, 10))
    return float(full), float(truncated)


register(Exercise(
    "5.3", "(final_full, final_truncated): the last training loss of seed 0 with the full "
           "gradient and with the last 10 steps only, from train_through_inversion on the "
           "first 500 training images, N = 300, 50 iterations",
    _truncated_training, rtol=1e-3, atol=0,
    hint="Train twice with the same data, seed and settings (inner_steps=300, n_iter=50), "
         "once with backprop_steps=None and once with backprop_steps=10, and pass the last "
         "entry of each curve, full gradient first."))
