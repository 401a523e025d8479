"""VAEBySynthesis: scikit-learn's conventions, the inference's maths (descent, the gradient
written out, the envelope theorem, missing pixels), determinism, divergence and bad input;
its training's bound, step, held-out split and temperature."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.utils.estimator_checks import parametrize_with_checks

from inverse_lessons import DivergenceError, tf
from inverse_lessons.data import load_digits_split
from inverse_lessons.models.training import adam_step, optimiser_state
from inverse_lessons.models.vae_by_class import VAEBySynthesis, energies, energy_gradient
from inverse_lessons.models.vae_inference import decode, infer_latents, infer_scores
from inverse_lessons.models.vae_training import (
    elbo_loss,
    elbo_step,
    fit_temperature,
    last_of_each_class,
)

X_TRAIN, Y_TRAIN, X_TEST, Y_TEST = load_digits_split()
SMALL = dict(n_latent=2, n_hidden=4, max_iter=60, n_samples=16, n_steps=4)


@parametrize_with_checks([VAEBySynthesis(**SMALL)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def model():
    return VAEBySynthesis(max_iter=300, n_latent=8, random_state=0).fit(
        X_TRAIN, Y_TRAIN)


def _weights(m):
    return tuple(tf.constant(w) for w in m.decoder_), tf.constant(np.log(m.noise_variances_))


def test_inference_decreases_the_energy(model):
    after, before = model.class_scores(X_TEST[:40]), model.start_scores(X_TEST[:40])
    # scores are minus energies: Adam from the bank's best latent lowers the energy,
    # of every image's predicted class and of almost every (image, class) pair
    assert np.all(after.max(axis=1) >= before.max(axis=1) - 1e-9)
    assert np.mean(after >= before - 1e-9) > 0.95
    assert np.mean(after - before) > 0


def test_the_gradient_written_out_is_the_gradient_of_the_energy(model):
    decoder, log_s2 = _weights(model)
    rng = np.random.default_rng(0)
    X = tf.constant(X_TEST[:5])
    mask = tf.constant((rng.random((5, 64)) > 0.3).astype(float))
    Z = tf.constant(rng.standard_normal((5, 10, 8)))
    with tf.GradientTape() as tape:
        tape.watch(Z)
        total = tf.reduce_sum(energies(X, mask, Z, decoder, log_s2))
    np.testing.assert_allclose(energy_gradient(X, mask, Z, decoder, log_s2).numpy(),
                               tape.gradient(total, Z).numpy(), rtol=1e-10, atol=1e-8)


def _directional(m, x, v, gradient, eps=1e-5):
    """(analytic d score . v, central finite difference of class_scores along v), per class."""
    X = tf.constant(x[None])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(X)
        scores = m.differentiable_scores(X, gradient=gradient)[0]
        per_class = [scores[c] for c in range(len(m.classes_))]
    analytic = np.array([float(tf.reduce_sum(tape.gradient(s, X)[0] * v)) for s in per_class])
    fd = (m.class_scores((x + eps * v)[None]) - m.class_scores((x - eps * v)[None]))[0] / (2 * eps)
    return analytic, fd


def test_unrolled_gradient_is_the_finite_difference(model):
    v = np.random.default_rng(1).standard_normal(64)
    analytic, fd = _directional(model, X_TEST[3], v / np.linalg.norm(v), "unrolled")
    np.testing.assert_allclose(analytic, fd, rtol=1e-4, atol=1e-3)


def test_envelope_gradient_is_the_finite_difference_at_a_stationary_point(model):
    """Where the inference reached a stationary point z* (dE/dz = 0), the gradient of
    min_z E is the partial derivative at z*: d min_z E / dx = dE/dx (x, z*)."""
    m = VAEBySynthesis(**{**model.get_params(), "n_steps": 400, "step_size": 0.01})
    for name in ("classes_", "decoder_", "encoder_", "noise_variances_", "bank_",
                 "bank_drawings_", "temperature_", "n_features_in_"):
        setattr(m, name, getattr(model, name))
    x = X_TEST[3]
    decoder, log_s2 = _weights(m)
    slope = energy_gradient(tf.constant(x[None]), tf.ones((1, 64), tf.float64),
                            tf.constant(m.invert(x[None])), decoder, log_s2)
    stationary = np.linalg.norm(slope.numpy()[0], axis=1) < 0.05
    assert stationary[np.argmax(m.class_scores(x[None])[0])]   # the winner's z* at least
    v = np.random.default_rng(2).standard_normal(64)
    analytic, fd = _directional(m, x, v / np.linalg.norm(v), "envelope")
    np.testing.assert_allclose(analytic[stationary], fd[stationary], rtol=0.01, atol=0.05)
    # after a few steps, away from z*, it is not the gradient of the score
    few, fd_few = _directional(model, x, v / np.linalg.norm(v), "envelope")
    assert not np.allclose(few, fd_few, rtol=0.01, atol=0.05)


def test_differentiable_scores_are_the_class_scores(model):
    X = X_TEST[:6].copy()
    X[0, :20] = np.nan
    for gradient in ("unrolled", "envelope"):
        np.testing.assert_allclose(model.differentiable_scores(X, gradient=gradient).numpy(),
                                   model.class_scores(X), rtol=1e-10)


def test_the_bank_drawings_are_each_generators_drawings_of_the_bank(model):
    Z = tf.constant(np.repeat(model.bank_[:, None], len(model.classes_), axis=1))  # (S, C, k)
    drawn = decode(Z, *_weights(model)[0])[0].numpy()
    np.testing.assert_allclose(model.bank_drawings_, drawn.transpose(1, 0, 2), rtol=1e-12)


def test_inference_traced_into_a_callers_function_is_the_same(model):
    """infer_scores runs its own graph eagerly and joins a caller's trace inside one;
    both give the class scores and gradients of the eager steps; 0 steps: the start."""
    X = tf.constant(X_TEST[:4])
    (decoder, log_s2), bank = _weights(model), tf.constant(model.bank_)
    drawings = tf.constant(model.bank_drawings_)
    mask = tf.ones_like(X)

    def scores_and_gradient(X):
        with tf.GradientTape() as tape:
            tape.watch(X)
            scores = infer_scores(X, mask, bank, drawings, decoder, log_s2, int(model.n_steps),
                                  float(model.step_size), envelope=False)[0]
            first = tf.reduce_sum(scores[:, 0])
        return scores, tape.gradient(first, X)

    eager, traced = scores_and_gradient(X), tf.function(scores_and_gradient)(X)
    for a, b in zip(eager, traced, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(eager[0].numpy(), model.class_scores(X_TEST[:4]))
    start = tf.constant(np.tile(model.bank_[:1], (4, 10, 1)))
    assert infer_latents(X, mask, start, decoder, log_s2, 0, 0.05) is start


def test_a_missing_pixel_does_not_change_the_score(model):
    decoder, log_s2 = _weights(model)
    rng = np.random.default_rng(3)
    mask = (rng.random((4, 64)) > 0.5).astype(float)
    Z = rng.standard_normal((4, 10, 8))
    a, b = X_TEST[:4].copy(), X_TEST[:4].copy()
    b[mask == 0] = rng.random(int((mask == 0).sum()))     # other values where missing
    np.testing.assert_array_equal(energies(a, mask, Z, decoder, log_s2).numpy(),
                                  energies(b, mask, Z, decoder, log_s2).numpy())
    # a NaN pixel gets no gradient, and the score ignores what it was
    X = X_TEST[:2].copy()
    X[:, 10] = np.nan
    X_t = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(X_t)
        total = tf.reduce_sum(model.differentiable_scores(X_t))
    g = tape.gradient(total, X_t).numpy()
    assert np.all(g[:, 10] == 0) and np.any(g[:, 11] != 0)
    # dropping a pixel the model draws badly raises the score (one term fewer)
    x = X_TEST[5].copy()
    drawn = model.reconstruct(x[None])[0]
    worst = np.argmax(np.abs(drawn - x).min(axis=0))
    x[worst] = np.nan
    assert model.class_scores(x[None]).max() > model.class_scores(X_TEST[5:6]).max()


def test_fit_is_deterministic_and_accurate(model):
    again = VAEBySynthesis(**model.get_params()).fit(X_TRAIN, Y_TRAIN)
    np.testing.assert_array_equal(again.class_scores(X_TEST[:20]), model.class_scores(X_TEST[:20]))
    assert model.score(X_TEST, Y_TEST) > 0.95
    p = model.predict_proba(X_TEST[:20])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert model.temperature_ > 0
    assert model.sample(3, random_state=0).shape == (10, 3, 64)


def test_binarized_input():
    m = VAEBySynthesis(binarize=0.5, max_iter=100, random_state=0).fit(X_TRAIN, Y_TRAIN)
    binary = (X_TEST[:30] > 0.5).astype(float)
    np.testing.assert_array_equal(m.class_scores(X_TEST[:30]), m.class_scores(binary))
    X = tf.constant(X_TEST[:2])
    with tf.GradientTape() as tape:       # straight through: the gradient is not zero
        tape.watch(X)
        total = tf.reduce_sum(m.differentiable_scores(X))
    assert np.any(tape.gradient(total, X).numpy() != 0)


def test_divergence_is_detected():
    m = VAEBySynthesis(**SMALL, random_state=0).fit(X_TRAIN[:200], Y_TRAIN[:200])
    m.set_params(step_size=1e200)
    with pytest.raises(DivergenceError, match="step_size"):
        m.predict(X_TEST[:3])
    m = VAEBySynthesis(**{**SMALL, "learning_rate": 1e30})
    with pytest.raises(DivergenceError, match="learning_rate"):
        m.fit(X_TRAIN[:200], Y_TRAIN[:200])
    assert len(m.loss_curve_) < SMALL["max_iter"]      # the finite losses before it
    assert np.all(np.isfinite(m.loss_curve_))


def test_the_loss_curve_has_the_loss_of_every_step(model):
    assert len(model.loss_curve_) == model.max_iter == model.n_iter_
    assert np.all(np.isfinite(model.loss_curve_))
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_bad_input(model):
    with pytest.raises(ValueError, match="X has 63 features"):
        model.predict(X_TEST[:2, :63])
    X = X_TEST[:3].copy()
    X[1] = np.nan
    with pytest.raises(ValueError, match="row 1 of X has every pixel missing"):
        model.predict(X)
    with pytest.raises(ValueError, match="row 1 of X has every pixel missing"):
        VAEBySynthesis(**SMALL).fit(X, [0, 1, 1])
    X[1] = np.inf
    with pytest.raises(ValueError, match="X contains infinity"):
        model.predict(X)
    with pytest.raises(ValueError, match="X must have shape"):
        model.differentiable_scores(X_TEST[:2, :63])
    with pytest.raises(ValueError, match="gradient must be one of"):
        model.differentiable_scores(X_TEST[:2], gradient="exact")
    with pytest.raises(TypeError, match="binarize"):
        VAEBySynthesis(**SMALL, binarize="yes").fit(X_TRAIN[:200], Y_TRAIN[:200])
    with pytest.raises(ValueError, match="step_size"):
        VAEBySynthesis(**{**SMALL, "step_size": -1.0}).fit(X_TRAIN[:200], Y_TRAIN[:200])


def test_elbo_loss_is_the_bound_written_out():
    rng = np.random.default_rng(5)
    C, N, d, k, H = 2, 3, 5, 2, 4
    X, noise = rng.random((C, N, d)), rng.standard_normal((C, N, k))
    weights = np.array([[1 / 3] * 3, [0.5, 0.5, 0.0]])        # class 1: one padded row
    shapes = [(C, d, H), (C, H), (C, H, 2 * k), (C, 2 * k), (C, k, H), (C, H), (C, H, d),
              (C, d), (C,)]
    params = [0.3 * rng.standard_normal(s) for s in shapes]
    loss = float(elbo_loss(tf.constant(X), tf.constant(weights), tf.constant(noise),
                           [tf.constant(p) for p in params]))
    A1, a1, A2, a2, U, u, V, b, log_s2 = params
    total = 0.0
    for c in range(C):
        for n in range(N):
            out = np.tanh(X[c, n] @ A1[c] + a1[c]) @ A2[c] + a2[c]
            mean, log_var = out[:k], out[k:]
            z = mean + np.exp(log_var / 2) * noise[c, n]
            drawn = np.tanh(z @ U[c] + u[c]) @ V[c] + b[c]
            s2 = np.exp(log_s2[c])
            nll = -multivariate_normal(drawn, s2 * np.eye(d)).logpdf(X[c, n])
            kl = 0.5 * np.sum(mean ** 2 + np.exp(log_var) - log_var - 1)   # KL(q || N(0, I))
            total += weights[c, n] * (nll + kl)
    np.testing.assert_allclose(loss, total / d, rtol=1e-10)


def test_elbo_step_draws_step_ts_noise_takes_adams_step_and_floors_log_s2():
    rng = np.random.default_rng(6)
    C, N, d, k, H, t, seed = 2, 3, 5, 2, 4, 7, 11
    X, weights = tf.constant(rng.random((C, N, d))), tf.constant(np.full((C, N), 1 / 3))
    shapes = [(C, d, H), (C, H), (C, H, 2 * k), (C, 2 * k), (C, k, H), (C, H), (C, H, d),
              (C, d), (C,)]
    params = [tf.constant(0.3 * rng.standard_normal(s)) for s in shapes]
    moments = [tf.constant(0.01 * rng.standard_normal(s)) for s in shapes]
    velocities = [tf.constant(0.01 * rng.random(s)) for s in shapes]
    rate = optimiser_state(params, 0.05)[1]
    state = (tf.constant(float(t), tf.float64), rate, moments, velocities)
    floor = tf.constant(10.0, tf.float64)              # above every log_s2 after the step
    loss, new, new_state = elbo_step(params, state, (X, weights, tf.constant(seed, tf.int64),
                                                      floor))
    noise = tf.random.stateless_normal((C, N, k), [seed, t], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(params)
        expected_loss = elbo_loss(X, weights, noise, params)
    expected, _, _ = adam_step(params, tape.gradient(expected_loss, params), moments,
                               velocities, tf.constant(t + 1.0, tf.float64), rate)
    assert float(loss) == float(expected_loss)
    assert float(new_state[0]) == t + 1
    for a, b in zip(new[:-1], expected[:-1], strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(new[-1].numpy(), [10.0, 10.0])


def test_last_of_each_class_holds_out_the_last_images_of_each_class():
    codes = np.array([0, 1, 0, 1, 0, 0, 1])
    held = last_of_each_class(codes, 0.25)
    # class 0 (rows 0, 2, 4, 5): ceil(1.0) = 1, row 5; class 1 (rows 1, 3, 6): ceil(0.75) = 1
    np.testing.assert_array_equal(np.flatnonzero(held), [5, 6])
    assert last_of_each_class(codes, 1.0).all()


def test_fit_temperature_recovers_the_temperature_of_the_labels():
    rng = np.random.default_rng(2)
    scores = 4.0 * rng.standard_normal((4000, 3))
    p = np.exp(scores / 2.5)
    p /= p.sum(axis=1, keepdims=True)
    codes = np.array([rng.choice(3, p=row) for row in p])
    assert abs(fit_temperature(scores, codes) - 2.5) < 0.15
