"""Inverting a linear generator: closed form = unrolled steps, limit = least squares."""

import numpy as np
import pytest

from inverse_lessons import tf
from inverse_lessons.inversion.closed_form import (
    closed_form_inversion,
    geometric_sum,
    iteration_matrix,
)
from inverse_lessons.inversion.linear import (
    filter_factors,
    generator_step_size_bound,
    least_squares_inversion,
    observed_mask,
    signal_and_deviation,
    train_through_inversion,
    unrolled_inversion,
)
from inverse_lessons.inversion.solver import step_size_bound

RNG = np.random.default_rng(0)
G = RNG.normal(size=(64, 10))
X = RNG.normal(size=(7, 64))
Z0 = RNG.normal(size=(7, 10))
ETA = 0.5 * float(generator_step_size_bound(G))


def with_missing(X, every=5):
    X = X.copy()
    X[:, ::every] = np.nan
    X[0, :40] = np.nan
    return observed_mask(X)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 64, 250])
def test_closed_form_equals_unrolled_steps(n):
    a = unrolled_inversion(G, X, n_steps=n, step_size=ETA)
    b = closed_form_inversion(G, X, n_steps=n, step_size=ETA)
    np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("n", [1, 5, 100])
def test_closed_form_equals_unrolled_with_mask_and_start(n):
    Xz, mask = with_missing(X)
    a = unrolled_inversion(G, Xz, n_steps=n, step_size=ETA, mask=mask, initial=Z0)
    b = closed_form_inversion(G, Xz, n_steps=n, step_size=ETA, mask=mask, initial=Z0)
    np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 13, 300])
def test_geometric_sum_is_the_sum_of_the_powers(n):
    # S_N = I + M + ... + M^(N-1) and M^N, summed and multiplied term by term, for
    # one matrix and a batch; and S_N B, with B of two columns and of one
    rng = np.random.default_rng(n)
    M = 0.3 * rng.normal(size=(3, 6, 6)) / np.sqrt(6)    # spectral radius < 1
    B = rng.normal(size=(3, 6, 2))
    S, power = np.zeros((3, 6, 6)), np.broadcast_to(np.eye(6), (3, 6, 6))
    for _ in range(n):
        S, power = S + power, power @ M
    for ours, theirs in [(geometric_sum(M[0], n), (S[0], power[0])),
                         (geometric_sum(M, n), (S, power)),
                         (geometric_sum(M, n, B), (S @ B, None)),
                         (geometric_sum(M, n, B[..., :1]), (S @ B[..., :1], None))]:
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-14)
        assert ours[0].shape == theirs[0].shape
        if theirs[1] is None:
            assert ours[1] is None
        else:
            np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-14)


def test_geometric_sum_refuses_bad_step_counts():
    with pytest.raises(ValueError, match="n_steps must be >= 0"):
        geometric_sum(np.eye(2), -1)
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        geometric_sum(np.eye(2), 2.0)


def test_iteration_matrix_is_one_step():
    # M = I - 2 eta G^T D G, and one gradient step from z is M z + 2 eta G^T D x
    Xz, mask = with_missing(X)
    D = mask.numpy()
    M = iteration_matrix(G, ETA, mask).numpy()
    assert M.shape == (7, 10, 10)
    for i in range(7):
        expected = np.eye(10) - 2 * ETA * G.T @ np.diag(D[i]) @ G
        np.testing.assert_allclose(M[i], expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(iteration_matrix(G, ETA), np.eye(10) - 2 * ETA * G.T @ G,
                               rtol=1e-12, atol=1e-14)
    step = unrolled_inversion(G, Xz, n_steps=1, step_size=ETA, mask=mask, initial=Z0)
    by_hand = np.einsum("nij,nj->ni", M, Z0) + 2 * ETA * (Xz.numpy() * D) @ G
    np.testing.assert_allclose(step, by_hand, rtol=1e-12, atol=1e-12)


def test_one_step_by_hand():
    z1 = closed_form_inversion(G, X, n_steps=1, step_size=ETA).numpy()
    np.testing.assert_allclose(z1, 2 * ETA * X @ G, rtol=1e-12)


@pytest.mark.parametrize("n", [0, 1, 13, 100])
def test_closed_form_equals_the_eigen_filter(n):
    """Independent reference (chapter 3): per eigenvalue s2 of G^T G the sum
    of the geometric series, (1 - (1 - 2 eta s2)^N) / s2, and (1 - 2 eta s2)^N
    on the start."""
    s2, V = np.linalg.eigh(G.T @ G)
    decay = (1 - 2 * ETA * s2) ** n
    expected = (X @ G @ V) * ((1 - decay) / s2) @ V.T + (Z0 @ V) * decay @ V.T
    got = closed_form_inversion(G, X, n_steps=n, step_size=ETA, initial=Z0).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)


def test_zero_steps_return_the_start():
    Xz, mask = with_missing(X)
    for kwargs in ({}, {"mask": mask}):
        for solve in (closed_form_inversion, unrolled_inversion):
            z = solve(G, Xz, n_steps=0, step_size=ETA, initial=Z0, **kwargs).numpy()
            np.testing.assert_array_equal(z, Z0)
    z = closed_form_inversion(G, X, n_steps=0, step_size=ETA).numpy()
    np.testing.assert_array_equal(z, np.zeros_like(Z0))


@pytest.mark.parametrize("solve", [closed_form_inversion, unrolled_inversion])
def test_bad_step_counts_are_refused(solve):
    with pytest.raises(ValueError, match="n_steps"):
        solve(G, X, n_steps=-1, step_size=ETA)
    with pytest.raises(TypeError, match="n_steps"):
        solve(G, X, n_steps=2.5, step_size=ETA)


def test_many_steps_reach_least_squares():
    G_small = RNG.normal(size=(64, 5))
    eta = 0.5 * float(generator_step_size_bound(G_small))
    z = closed_form_inversion(G_small, X, n_steps=5000, step_size=eta).numpy()
    z_ls = np.linalg.lstsq(G_small, X.T, rcond=None)[0].T
    np.testing.assert_allclose(z, z_ls, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(least_squares_inversion(G_small, X).numpy(), z_ls, rtol=1e-8)


def test_masked_least_squares_uses_only_observed_pixels():
    Xz, mask = with_missing(X)
    z = least_squares_inversion(G, Xz, mask=mask).numpy()
    for i in range(len(X)):
        seen = mask.numpy()[i] > 0
        want = np.linalg.lstsq(G[seen], Xz.numpy()[i, seen], rcond=None)[0]
        np.testing.assert_allclose(z[i], want, rtol=1e-7, atol=1e-9)


def test_a_missing_pixel_has_no_influence():
    Xz, mask = with_missing(X)
    changed = Xz.numpy().copy()
    changed[mask.numpy() == 0] = 1e6        # garbage where pixels are missing
    a = closed_form_inversion(G, Xz, n_steps=50, step_size=ETA, mask=mask)
    b = closed_form_inversion(G, changed, n_steps=50, step_size=ETA, mask=mask)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_images_are_inverted_independently():
    whole = closed_form_inversion(G, X, n_steps=30, step_size=ETA).numpy()
    for i in range(len(X)):
        alone = closed_form_inversion(G, X[i:i + 1], n_steps=30, step_size=ETA).numpy()
        np.testing.assert_allclose(alone[0], whole[i], rtol=1e-12)


def test_generator_bound_is_the_solver_bound_and_divides_stable_from_diverging():
    sigma = np.linalg.svd(G, compute_uv=False)[0]
    bound = float(generator_step_size_bound(G))
    assert bound == pytest.approx(1 / sigma**2, rel=1e-10)
    # one meaning: the general solver's curvature bound of the same linear model
    assert step_size_bound(lambda z: tf.linalg.matvec(G, z), X[0], np.zeros(G.shape[1])) == (
        pytest.approx(bound, rel=1e-6))
    # just below it the unrolled iterates stay bounded, just above they blow up
    below = unrolled_inversion(G, X, n_steps=400, step_size=0.99 * bound).numpy()
    above = unrolled_inversion(G, X, n_steps=400, step_size=1.05 * bound).numpy()
    assert np.all(np.isfinite(below)) and np.abs(below).max() < 1e3
    assert not np.abs(above).max() < 1e3


@pytest.mark.parametrize("mask", [False, True])
def test_gradients_agree_unrolled_closed_form_and_finite_differences(mask):
    Gv = tf.Variable(G)
    Xz, m = with_missing(X) if mask else (tf.constant(X), None)
    target = tf.constant(RNG.normal(size=(7, 10)))

    def objective(solve, Gt):
        Z = solve(Gt, Xz, n_steps=12, step_size=ETA, mask=m)
        return tf.reduce_sum(Z * target)

    grads = []
    for solve in (unrolled_inversion, closed_form_inversion):
        with tf.GradientTape() as tape:
            value = objective(solve, Gv)
        grads.append(tape.gradient(value, Gv).numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-9, atol=1e-11)
    # finite differences on a few entries
    h = 1e-6
    for (p, j) in [(0, 0), (10, 3), (63, 9)]:
        E = np.zeros_like(G)
        E[p, j] = h
        fd = (float(objective(closed_form_inversion, tf.constant(G + E)))
              - float(objective(closed_form_inversion, tf.constant(G - E)))) / (2 * h)
        assert grads[0][p, j] == pytest.approx(fd, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 300])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_masked_gradient_by_symmetry_is_the_autodiff_gradient(n, jit_compile):
    # the masked closed form's own gradient of S_N b (symmetric M) against automatic
    # differentiation through geometric_sum's operations, for G and for the images
    Xz, m = with_missing(X)
    target = tf.constant(RNG.normal(size=(7, 10)))
    Gt, Xt = tf.constant(G), tf.constant(Xz)

    def autodiff(G, X):
        b = tf.matmul(X * m, G)[..., None]
        Sb, _ = geometric_sum(iteration_matrix(G, ETA, m), n, b)
        return 2.0 * ETA * Sb[..., 0]

    def ours(G, X):
        return closed_form_inversion(G, X, n_steps=n, step_size=ETA, mask=m,
                                     jit_compile=jit_compile)

    results = []
    for solve in (autodiff, ours):
        with tf.GradientTape() as tape:
            tape.watch([Gt, Xt])
            Z = solve(Gt, Xt)
            value = tf.reduce_sum(Z * target)
        results.append([Z, *tape.gradient(value, [Gt, Xt])])
    for theirs, mine in zip(*results, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_compiled_masked_inversion_in_a_traced_step_matches_eager():
    # as InverseNet trains: float32, inside tf.function, gradient with respect to G
    Xz, m = with_missing(X)
    G32, X32, m32 = (tf.cast(a, tf.float32) for a in (G, Xz, m))
    target = tf.constant(RNG.normal(size=(7, 10)), tf.float32)

    def value_and_gradient(G, jit_compile):
        with tf.GradientTape() as tape:
            tape.watch(G)
            Z = closed_form_inversion(G, X32, n_steps=300, step_size=ETA, mask=m32,
                                      jit_compile=jit_compile)
            value = tf.reduce_sum(Z * target)
        return value, tape.gradient(value, G)

    traced = tf.function(lambda G: value_and_gradient(G, True))(G32)
    eager = value_and_gradient(G32, False)
    for a, b in zip(traced, eager, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


def _gradient(solve, G0=G):
    Gv = tf.Variable(G0)
    target = tf.constant(np.random.default_rng(5).normal(size=(7, G0.shape[1])))
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(solve(Gv, tf.constant(X)) * target)
    return tape.gradient(value, Gv).numpy()


def test_implicit_gradient_matches_least_squares_and_converged_steps():
    from inverse_lessons.inversion.closed_form import implicit_inversion

    implicit = _gradient(implicit_inversion)
    pinv = _gradient(lambda G, X: least_squares_inversion(G, X))
    converged = _gradient(lambda G, X: closed_form_inversion(
        G, X, n_steps=20000, step_size=0.5 * generator_step_size_bound(G)))
    np.testing.assert_allclose(implicit, pinv, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(implicit, converged, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(implicit_inversion(G, X).numpy(),
                               least_squares_inversion(G, X).numpy(), rtol=1e-9)


def test_implicit_gradient_with_respect_to_observation():
    from inverse_lessons.inversion.closed_form import implicit_inversion

    Xv = tf.Variable(X)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(implicit_inversion(tf.constant(G), Xv) ** 2)
    dX = tape.gradient(value, Xv).numpy()
    Z = np.linalg.lstsq(G, X.T, rcond=None)[0].T
    np.testing.assert_allclose(dX, 2 * Z @ np.linalg.pinv(G), rtol=1e-8)   # Z = X pinv(G)^T


def test_truncated_backprop_is_biased_and_exact_when_untruncated():
    def unrolled(K):
        return _gradient(lambda G, X: unrolled_inversion(
            G, X, n_steps=40, step_size=0.5 * generator_step_size_bound(G), backprop_steps=K))

    full = unrolled(None)
    np.testing.assert_allclose(unrolled(40), full, rtol=1e-12)
    errors = [np.abs(unrolled(K) - full).max() for K in (1, 5, 20)]
    assert errors[0] > errors[1] > errors[2] > 0          # bias shrinks with K
    with pytest.raises(ValueError, match="backprop_steps must be between 0 and n_steps=40"):
        unrolled(41)


def test_truncation_is_k_steps_from_a_frozen_start():
    """Independent reference: K plain steps from the (N - K)-step iterate, held constant."""
    def truncated(G, X):
        return unrolled_inversion(G, X, n_steps=30, step_size=ETA, backprop_steps=4)

    def frozen_start(G, X):
        start = tf.stop_gradient(closed_form_inversion(G, X, n_steps=26, step_size=ETA))
        return unrolled_inversion(G, X, n_steps=4, step_size=ETA, initial=start)

    np.testing.assert_allclose(_gradient(truncated), _gradient(frozen_start), rtol=1e-10)
    Xz, mask = with_missing(X)
    a = unrolled_inversion(G, Xz, n_steps=30, step_size=ETA, mask=mask, backprop_steps=4)
    b = unrolled_inversion(G, Xz, n_steps=30, step_size=ETA, mask=mask)
    np.testing.assert_allclose(a, b, rtol=1e-12)     # the forward value is unchanged


def test_truncation_keeps_the_frozen_steps_off_the_tape():
    from inverse_lessons.evaluation.profiling import measure, memory_source

    if memory_source() != "heap in use":
        pytest.skip("needs glibc's mallinfo2 for a repeatable memory reading")
    X_big = tf.constant(np.random.default_rng(1).normal(size=(400, 64)))

    def gradient_memory(K):
        def run():
            Gv = tf.Variable(G)
            with tf.GradientTape() as tape:
                Z = unrolled_inversion(Gv, X_big, n_steps=200, step_size=ETA,
                                       backprop_steps=K)
                value = tf.reduce_sum(Z ** 2)
            tape.gradient(value, Gv)
        return measure(run, repeat=1).peak_mib

    full, truncated = gradient_memory(200), gradient_memory(5)
    assert full > 50 and truncated < full / 10     # about 0.4 MiB per recorded step


@pytest.mark.parametrize("n", [0, 1, 13, 100])
def test_filter_factors_scale_least_squares_into_n_steps(n):
    U, s, Vt = np.linalg.svd(G, full_matrices=False)
    factors = filter_factors(s, n_steps=n, step_size=ETA)
    least = np.asarray(least_squares_inversion(G, X))
    steps = np.asarray(closed_form_inversion(G, X, n_steps=n, step_size=ETA))
    np.testing.assert_allclose(steps @ Vt.T, factors * (least @ Vt.T), atol=1e-10)


def test_filter_factors_by_hand_and_bad_input():
    factors = filter_factors([1.0, 0.5, 2.0], n_steps=2, step_size=0.1)
    np.testing.assert_allclose(factors, [1 - 0.8 ** 2, 1 - 0.95 ** 2, 1 - 0.2 ** 2])
    with pytest.raises(ValueError, match="1-D"):
        filter_factors(np.ones((2, 2)), n_steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="step_size"):
        filter_factors([1.0], n_steps=1, step_size=-0.1)
    with pytest.raises(TypeError, match="n_steps"):
        filter_factors([1.0], n_steps=1.5, step_size=0.1)


LABELS = np.array([3, 0, 9, 3, 5, 1, 7])


def test_signal_and_deviation_add_up_to_least_squares():
    s, signal, deviation = signal_and_deviation(G, X, LABELS)
    _, s_ref, Vt = np.linalg.svd(G, full_matrices=False)
    np.testing.assert_allclose(s, s_ref)
    least = np.asarray(least_squares_inversion(G, X)) @ Vt.T
    np.testing.assert_allclose(signal + deviation, least, atol=1e-10)


def test_a_multiple_of_its_own_template_is_all_signal():
    images = np.array([2.5, -1.0, 0.3])[:, None] * G[:, [4, 4, 8]].T
    _, signal, deviation = signal_and_deviation(G, images, np.array([4, 4, 8]))
    _, _, Vt = np.linalg.svd(G, full_matrices=False)
    np.testing.assert_allclose(deviation, 0, atol=1e-12)
    np.testing.assert_allclose(signal[0], 2.5 * Vt[:, 4])
    np.testing.assert_allclose(signal[2], 0.3 * Vt[:, 8])


def test_the_deviation_is_orthogonal_to_the_own_template():
    s, signal, deviation = signal_and_deviation(G, X, LABELS)
    # back in pixels (inside the span): a g_y = U (s * signal), P e = U (s * deviation)
    inner = np.sum((s * signal) * (s * deviation), axis=1)
    np.testing.assert_allclose(inner, 0, atol=1e-9)
    # so the signal weights are exactly a delta_y: their norm is |a|
    own = G[:, LABELS].T
    a = np.sum(X * own, axis=1) / np.sum(own ** 2, axis=1)
    np.testing.assert_allclose(np.linalg.norm(signal, axis=1), np.abs(a))


def test_signal_and_deviation_refuse_bad_input():
    with pytest.raises(ValueError, match="G must be"):
        signal_and_deviation(G, X[:, :10], LABELS)
    with pytest.raises(ValueError, match="one integer class"):
        signal_and_deviation(G, X, LABELS[:3])
    with pytest.raises(ValueError, match="one integer class"):
        signal_and_deviation(G, X, LABELS.astype(float))
    with pytest.raises(ValueError, match="0..9"):
        signal_and_deviation(G, X, LABELS + 1)
    with pytest.raises(ValueError, match="full column rank"):
        signal_and_deviation(np.c_[G[:, :9], G[:, :1]], X, LABELS)


@pytest.fixture(scope="module")
def digits_200():
    from inverse_lessons import load_digits_split

    X_train, y_train, _, _ = load_digits_split()
    return X_train[:200], y_train[:200]


def test_training_through_inversion_starts_at_chance_and_truncation_slows_it(digits_200):
    X, y = digits_200
    kwargs = dict(inner_steps=60, n_iter=12, seeds=(0, 1))
    full = train_through_inversion(X, y, **kwargs)
    truncated = train_through_inversion(X, y, backprop_steps=3, **kwargs)
    assert full.shape == truncated.shape == (2, 12)
    np.testing.assert_allclose(full[:, 0], truncated[:, 0], rtol=1e-12)   # same start
    assert np.all(np.abs(full[:, 0] - np.log(10)) < 0.05)                # near ln 10
    assert np.all(full[:, -1] < full[:, 0] - 0.1)                        # it learns
    assert np.all(truncated[:, 2:] > full[:, 2:])                        # more slowly


def test_training_backprop_through_all_steps_is_the_full_gradient(digits_200):
    X, y = digits_200
    kwargs = dict(inner_steps=20, n_iter=4)
    np.testing.assert_allclose(train_through_inversion(X, y, backprop_steps=20, **kwargs),
                               train_through_inversion(X, y, **kwargs), rtol=1e-12)


@pytest.mark.parametrize("bad, error", [
    (dict(backprop_steps=0), ValueError), (dict(backprop_steps=61), ValueError),
    (dict(backprop_steps=2.5), TypeError), (dict(n_iter=0), ValueError),
    (dict(learning_rate=-1.0), ValueError)])
def test_training_refuses_bad_settings(digits_200, bad, error):
    X, y = digits_200
    with pytest.raises(error):
        train_through_inversion(X, y, inner_steps=60, **bad)


def test_training_refuses_bad_data(digits_200):
    X, y = digits_200
    with pytest.raises(ValueError, match="integer classes"):
        train_through_inversion(X, y.astype(float), inner_steps=5, n_iter=1)
    with pytest.raises(ValueError, match="n_latent"):
        train_through_inversion(X[:10], y[:10], inner_steps=5, n_iter=1)
