"""AnalysisBySynthesis: scikit-learn's conventions, the maths against independent
references, missing pixels, the clipped-noise model, fine-tuning and bad input."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.utils.estimator_checks import parametrize_with_checks

from inverse_lessons import AnalysisBySynthesis
from inverse_lessons.damage import add_noise
from inverse_lessons.data import load_digits_split
from inverse_lessons.models.fine_tuning import held_out_rows
from inverse_lessons.models.ppca import class_log_likelihoods, clipped_noise_moments

X_TRAIN, Y_TRAIN, X_TEST, Y_TEST = load_digits_split()


# All of scikit-learn's estimator checks, with one-latent generators (their toy data sets
# have few features and few images per class), one and two per class.
@parametrize_with_checks([AnalysisBySynthesis(n_latent=1, n_components=1),
                          AnalysisBySynthesis(n_latent=1, n_components=2)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def model():
    return AnalysisBySynthesis(n_latent=6, n_components=1).fit(X_TRAIN, Y_TRAIN)


@pytest.fixture(scope="module")
def mixture():
    return AnalysisBySynthesis(n_latent=4, n_components=3, random_state=0).fit(X_TRAIN, Y_TRAIN)


def damaged_rows(fraction=0.4, n=8, seed=0):
    X = X_TEST[:n].copy()
    X[np.random.default_rng(seed).random(X.shape) < fraction] = np.nan
    return X


def test_fit_is_probabilistic_pca_of_each_class():
    """Against a direct eigendecomposition (SVD) of each class's covariance."""
    k = 5
    m = AnalysisBySynthesis(n_latent=k, n_components=1, min_variance=1e-9)
    m.fit(X_TRAIN, Y_TRAIN)
    for c in (0, 7):
        Xc = X_TRAIN[Y_TRAIN == c]
        centred = Xc - Xc.mean(axis=0)
        _, s, Vt = np.linalg.svd(centred / np.sqrt(len(Xc)), full_matrices=False)
        U = Vt.T    # principal directions (64, min(n, 64))
        eigenvalues = np.concatenate([s ** 2, np.zeros(64 - len(s))])
        s2 = eigenvalues[k:].mean()
        np.testing.assert_allclose(m.means_[c, 0], Xc.mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(m.isotropic_variances_[c, 0], s2, rtol=1e-10)
        W = m.components_[c, 0]
        expected = U[:, :k] @ np.diag(eigenvalues[:k] - s2) @ U[:, :k].T
        np.testing.assert_allclose(W @ W.T, expected, atol=1e-10)
        np.testing.assert_allclose(m.noise_variances_[c, 0], s2)


def test_variance_floor():
    m = AnalysisBySynthesis(n_latent=40, n_components=1, min_variance=0.05)
    m.fit(X_TRAIN, Y_TRAIN)
    assert np.all(m.isotropic_variances_ == 0.05)


@pytest.mark.parametrize("name", ["model", "mixture"])
def test_log_likelihood_is_the_gaussian_of_the_observed_pixels(name, request):
    """Against scipy's multivariate normal on the observed sub-vector only."""
    m = request.getfixturevalue(name)
    X = damaged_rows()
    ours = m.log_likelihoods(X)
    assert ours.shape == (8, 10)
    for i in range(len(X)):
        seen = ~np.isnan(X[i])
        for c in range(10):
            terms = []
            for j in range(m.n_components):
                W = m.components_[c, j]
                cov = W @ W.T + np.diag(m.noise_variances_[c, j])
                gaussian = multivariate_normal(m.means_[c, j][seen], cov[np.ix_(seen, seen)])
                terms.append(m.log_weights_[c, j] + gaussian.logpdf(X[i, seen]))
            np.testing.assert_allclose(ours[i, c], logsumexp(terms), rtol=1e-9)


def test_known_noise_enters_the_covariance():
    plain = AnalysisBySynthesis(n_latent=6, n_components=1).fit(X_TRAIN, Y_TRAIN)
    noisy = AnalysisBySynthesis(n_latent=6, n_components=1, noise_std=0.3, pixel_range=None)
    noisy.fit(X_TRAIN, Y_TRAIN)
    np.testing.assert_allclose(noisy.noise_variances_, plain.noise_variances_ + 0.09)
    np.testing.assert_allclose(noisy.components_, plain.components_)


def test_clipped_noise_moments_against_sampling():
    x = np.array([[0.0, 0.1, 0.5, 0.95, 1.0]])
    mean, var = clipped_noise_moments(x, 0.3)
    samples = np.clip(x + 0.3 * np.random.default_rng(0).standard_normal((400_000, 5)), 0, 1)
    np.testing.assert_allclose(mean[0], samples.mean(axis=0), atol=2e-3)
    np.testing.assert_allclose(var[0], samples.var(axis=0), atol=2e-3)
    # a blank pixel reads about sigma / sqrt(2 pi) on average (the clip at 1 barely matters)
    np.testing.assert_allclose(mean[0, 0], 0.3 / np.sqrt(2 * np.pi), rtol=1e-3)
    # no noise: the pixels as they are
    np.testing.assert_array_equal(clipped_noise_moments(x, 0.0)[0], x)


def test_clipped_noise_model_fits_the_recorded_images():
    m = AnalysisBySynthesis(n_latent=6, n_components=1, noise_std=0.3).fit(X_TRAIN, Y_TRAIN)
    recorded = np.mean([add_noise(X_TRAIN, 0.3, seed=s) for s in range(20)], axis=0)
    for c in (1, 4):
        np.testing.assert_allclose(m.means_[c, 0], recorded[Y_TRAIN == c].mean(axis=0),
                                   atol=0.02)


def test_inversion_is_the_posterior_mean_and_masked_least_squares(model):
    X = damaged_rows()
    z = model.invert(X)
    drawings = model.reconstruct(X)
    assert z.shape == (8, 10, 1, 6) and drawings.shape == (8, 10, 64)
    for i in range(len(X)):
        seen = ~np.isnan(X[i])
        for c in (2, 5):
            W, D = model.components_[c, 0][seen], model.noise_variances_[c, 0][seen]
            r = X[i, seen] - model.means_[c, 0][seen]
            # ridge least squares: minimise |D^-1/2 (r - W z)|^2 + |z|^2
            A = np.vstack([W / np.sqrt(D)[:, None], np.eye(6)])
            target = np.concatenate([r / np.sqrt(D), np.zeros(6)])
            expected = np.linalg.lstsq(A, target, rcond=None)[0]
            np.testing.assert_allclose(z[i, c, 0], expected, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(drawings[i, c],
                                       model.means_[c, 0] + model.components_[c, 0] @ expected,
                                       rtol=1e-8, atol=1e-10)


def test_small_noise_limit_is_plain_masked_least_squares():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((1, 20, 3))
    mean = rng.standard_normal((1, 20))
    X = rng.standard_normal((4, 20))
    mask = (rng.random((4, 20)) < 0.6).astype(float)
    _, z = class_log_likelihoods(X, mask, mean, W, np.full((1, 20), 1e-10))
    for i in range(4):
        seen = mask[i] == 1
        expected = np.linalg.lstsq(W[0][seen], (X[i] - mean[0])[seen], rcond=None)[0]
        np.testing.assert_allclose(z.numpy()[i, 0], expected, rtol=1e-6)


def test_missing_pixels_are_left_out_not_filled():
    rng = np.random.default_rng(2)
    W, mean = rng.standard_normal((3, 10, 2)), rng.standard_normal((3, 10))
    D = rng.random((3, 10)) + 0.1
    X = rng.standard_normal((5, 10))
    mask = np.ones_like(X)
    mask[:, 6:] = 0
    garbage = X.copy()
    garbage[:, 6:] = 1e3
    a, za = class_log_likelihoods(X, mask, mean, W, D)
    b, zb = class_log_likelihoods(garbage, mask, mean, W, D)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(za, zb)
    # and equal to the model restricted to the first six pixels
    c, _ = class_log_likelihoods(X[:, :6], mask[:, :6], mean[:, :6], W[:, :6], D[:, :6])
    np.testing.assert_allclose(a, c)


def test_posterior_prediction_and_batches(model):
    X = damaged_rows(0.5, n=40)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    scores = model.log_likelihoods(X) + model.class_log_prior_
    expected = np.exp(scores - scores.max(1, keepdims=True))
    np.testing.assert_allclose(proba, expected / expected.sum(1, keepdims=True), atol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.classes_[scores.argmax(1)])
    alone = np.concatenate([model.log_likelihoods(X[i:i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(model.log_likelihoods(X), alone, rtol=1e-10)


def test_shared_masks_are_factorised_once_with_the_same_values(mixture):
    """Images that share a mask share its factorisation: same scores as one image at a time."""
    X = np.concatenate([X_TEST[:6], damaged_rows(0.5, n=3), X_TEST[6:9]])
    X[9:, 40:] = np.nan                         # three images with the bottom cut
    alone = np.concatenate([mixture.log_likelihoods(X[i:i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(mixture.log_likelihoods(X), alone, rtol=1e-12)
    np.testing.assert_allclose(mixture.invert(X), np.concatenate(
        [mixture.invert(X[i:i + 1]) for i in range(len(X))]), rtol=1e-10, atol=1e-12)
    # the function itself: distinct masks and each image's pattern, against one mask each
    rng = np.random.default_rng(3)
    W, mean = rng.standard_normal((4, 12, 3)), rng.standard_normal((4, 12))
    D = rng.random((4, 12)) + 0.1
    Z = rng.standard_normal((7, 12))
    masks = (rng.random((2, 12)) < 0.6).astype(float)
    pattern = np.array([1, 0, 0, 1, 1, 0, 1])
    shared = class_log_likelihoods(Z, masks, mean, W, D, pattern=pattern)
    each = class_log_likelihoods(Z, masks[pattern], mean, W, D)
    for a, b in zip(shared, each, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # one mask for every image (its factor broadcast, not copied): the same
    # values, and the same gradient in the images (chapter 9 attacks through it)
    from inverse_lessons import tf

    one = np.zeros(len(Z), np.int64)
    Z_tensor = tf.constant(Z)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(Z_tensor)
        shared = class_log_likelihoods(Z_tensor, masks[:1], mean, W, D, pattern=one)
        each = class_log_likelihoods(Z_tensor, masks[one], mean, W, D)
    for a, b in zip(shared, each, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(shared[0], Z_tensor),
                               tape.gradient(each[0], Z_tensor), rtol=1e-10)


def test_gradients_of_the_likelihood_and_inversion_match_a_dense_reference():
    """The closed-form gradient through the k x k factorisation, against TensorFlow's
    autodiff through the d x d covariance of the observed pixels (slogdet and solve)."""
    from inverse_lessons import tf

    rng = np.random.default_rng(4)
    C, d, k, n = 3, 9, 2, 5
    params = [tf.constant(rng.standard_normal((C, d))), tf.constant(rng.standard_normal((C, d, k))),
              tf.constant(rng.random((C, d)) + 0.2)]
    X = tf.constant(rng.standard_normal((n, d)))
    mask = (rng.random((n, d)) < 0.7).astype(float)
    weights = tf.constant(rng.standard_normal((n, C)))
    probe = tf.constant(rng.standard_normal((n, C, k)))

    def dense(mean, W, D):       # image by image, observed pixels only
        ll, z = [], []
        for i in range(n):
            seen = np.flatnonzero(mask[i])
            Wo, Do = tf.gather(W, seen, axis=1), tf.gather(D, seen, axis=1)
            r = tf.gather(X[i], seen)[None] - tf.gather(mean, seen, axis=1)       # (C, |O|)
            cov = tf.matmul(Wo, Wo, transpose_b=True) + tf.linalg.diag(Do)
            solved = tf.linalg.solve(cov, r[..., None])[..., 0]
            ll.append(-0.5 * (len(seen) * np.log(2 * np.pi) + tf.linalg.slogdet(cov)[1]
                              + tf.reduce_sum(r * solved, axis=-1)))
            z.append(tf.einsum("cok,co->ck", Wo, solved))   # W^T C^-1 r = posterior mean
        return tf.stack(ll), tf.stack(z)

    results = []
    for function in (dense, lambda *p: class_log_likelihoods(X, mask, *p)):
        with tf.GradientTape() as tape:
            tape.watch(params)
            ll, z = function(*params)
            objective = tf.reduce_sum(weights * ll) + tf.reduce_sum(probe * z)
        results.append([ll, z] + tape.gradient(objective, params))
    for ours, reference in zip(results[1], results[0], strict=True):
        np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-10)


def test_accuracy_on_digits(model, mixture):
    assert model.score(X_TEST, Y_TEST) > 0.95 and mixture.score(X_TEST, Y_TEST) > 0.95
    labels = np.array(list("abcdefghij"))
    m = AnalysisBySynthesis(n_latent=6, n_components=1).fit(X_TRAIN, labels[Y_TRAIN])
    np.testing.assert_array_equal(m.predict(X_TEST), labels[model.predict(X_TEST)])


def test_fine_tuning_trains_through_the_likelihood():
    kw = dict(n_latent=4, n_components=2, fine_tune_learning_rate=1e-3, random_state=0)
    X, y = X_TRAIN[:400], Y_TRAIN[:400]
    base = AnalysisBySynthesis(**kw).fit(X, y)
    tuned = AnalysisBySynthesis(fine_tune_steps=30, fine_tune_missing=0.5, **kw).fit(X, y)
    assert base.fine_tune_loss_curve_ == [] and len(tuned.fine_tune_loss_curve_) == 30
    assert tuned.fine_tune_loss_curve_[-1] < tuned.fine_tune_loss_curve_[0]
    assert not np.allclose(tuned.components_, base.components_)
    assert np.all(tuned.isotropic_variances_ >= tuned.min_variance)
    again = AnalysisBySynthesis(fine_tune_steps=30, fine_tune_missing=0.5, **kw).fit(X, y)
    np.testing.assert_allclose(again.components_, tuned.components_)
    batched = AnalysisBySynthesis(fine_tune_steps=5, fine_tune_batch_size=100, **kw).fit(X, y)
    assert len(batched.fine_tune_loss_curve_) == 5
    assert not np.allclose(batched.components_, base.components_)


def test_fine_tuning_loss_gradient_matches_finite_differences():
    """The gradient Adam follows, checked entry by entry against central differences,
    for every parameter, the log variances included (once scaled by 1e-12)."""
    from inverse_lessons import tf
    from inverse_lessons.models.fine_tuning import fine_tune_loss

    m = AnalysisBySynthesis(n_latent=3, n_components=2, random_state=0).fit(
        X_TRAIN[:300], Y_TRAIN[:300])
    X = damaged_rows(0.3, n=40)
    mask = (~np.isnan(X)).astype(float)
    fixed = [tf.constant(np.nan_to_num(X)), tf.constant(mask),
             tf.constant(np.searchsorted(m.classes_, Y_TEST[:40]), tf.int32),
             tf.constant(m.class_log_prior_), tf.constant(np.zeros((10, 64)))]
    rng = np.random.default_rng(0)
    values = [m.means_, m.components_ + 0.01 * rng.standard_normal(m.components_.shape),
              np.log(m.isotropic_variances_) + 0.3 * rng.standard_normal((10, 2)),
              m.log_weights_]
    params = [tf.constant(v) for v in values]
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = fine_tune_loss(*fixed, params)
    grads = [g.numpy() for g in tape.gradient(loss, params)]
    for which in range(4):
        flat = values[which].ravel()
        for i in rng.choice(flat.size, size=min(flat.size, 8), replace=False):
            shifted = []
            for sign in (1, -1):
                v = flat.copy()
                v[i] += sign * 1e-6
                trial = [tf.constant(x) for x in values]
                trial[which] = tf.constant(v.reshape(values[which].shape))
                shifted.append(float(fine_tune_loss(*fixed, trial)))
            numeric = (shifted[0] - shifted[1]) / 2e-6
            assert abs(grads[which].ravel()[i] - numeric) <= 1e-6 + 1e-5 * abs(numeric)
    # the variance's gradient is not scaled away: of the order of the others
    assert np.abs(grads[2]).max() > 1e-3


def test_fine_tuning_moves_the_variances_off_the_floor_and_keeps_the_floor():
    kw = dict(n_latent=4, n_components=1, random_state=0)
    X, y = X_TRAIN[:400], Y_TRAIN[:400]
    base = AnalysisBySynthesis(**kw).fit(X, y)
    assert np.all(base.isotropic_variances_ == base.min_variance)   # starts at the floor
    tuned = AnalysisBySynthesis(fine_tune_steps=10, fine_tune_learning_rate=1e-2, **kw)
    tuned.fit(X, y)
    # ten steps of 0.01 on log s^2 can change s^2 by up to about 10 %; where the loss
    # wants a smaller variance the floor holds it, elsewhere it moves (the former
    # parametrisation, floor + exp(theta) from theta = log 1e-12, moved it by 1e-13)
    change = tuned.isotropic_variances_ / base.isotropic_variances_ - 1
    assert change.max() > 0.01
    assert np.all(tuned.isotropic_variances_ >= tuned.min_variance)


def test_fine_tuning_on_held_out_images_and_its_monitor():
    kw = dict(n_latent=4, n_components=1, random_state=0)
    X, y = X_TRAIN[:500], Y_TRAIN[:500]
    tuned = AnalysisBySynthesis(fine_tune_steps=15, fine_tune_learning_rate=1e-2,
                                fine_tune_holdout=0.3, **kw)
    tuned.fit(X, y, monitor=(X_TEST[:100], Y_TEST[:100]))
    assert len(tuned.fine_tune_loss_curve_) == 15
    assert len(tuned.fine_tune_monitor_curve_) == 16
    # the fine-tuning images are each class's last 30 %: the generative fit never saw
    # them, so the untrained loss on them is far above the loss on the fit's own images
    held = held_out_rows(y, 0.3)
    for c in range(10):                     # each class's last 30 %, a run
        rows = np.flatnonzero(y == c)
        n_held = int(np.ceil(0.3 * len(rows)))
        assert not held[rows[:-n_held]].any() and held[rows[-n_held:]].all()
    assert held.sum() == sum(int(np.ceil(0.3 * np.sum(y == c))) for c in range(10))
    start = AnalysisBySynthesis(**kw).fit(X[~held], y[~held])
    np.testing.assert_allclose(start.means_, AnalysisBySynthesis(
        fine_tune_steps=1, fine_tune_learning_rate=1e-12, fine_tune_holdout=0.3, **kw
    ).fit(X, y).means_, atol=1e-10)
    def cross_entropy(images, labels):   # the class prior counts every training image
        scores = start.log_likelihoods(images) + tuned.class_log_prior_
        return np.mean(logsumexp(scores, axis=1) - scores[np.arange(len(labels)), labels])

    np.testing.assert_allclose(tuned.fine_tune_loss_curve_[0], cross_entropy(X[held], y[held]),
                               rtol=1e-8)
    np.testing.assert_allclose(tuned.fine_tune_monitor_curve_[0],
                               cross_entropy(X_TEST[:100], Y_TEST[:100]), rtol=1e-8)
    assert tuned.fine_tune_loss_curve_[-1] < 0.8 * tuned.fine_tune_loss_curve_[0]
    # without fine-tuning steps, holding out changes nothing
    plain = AnalysisBySynthesis(fine_tune_holdout=0.3, **kw).fit(X, y)
    np.testing.assert_array_equal(plain.means_, AnalysisBySynthesis(**kw).fit(X, y).means_)
    with pytest.raises(ValueError, match="monitor"):
        tuned.fit(X, y, monitor=(X_TEST[:10, :5], Y_TEST[:10]))
    with pytest.raises(ValueError, match="generative fit"):
        AnalysisBySynthesis(n_latent=30, n_components=1, fine_tune_steps=1,
                            fine_tune_holdout=0.9).fit(X, y)


def test_before_fine_tuning_is_the_generative_fit_of_the_kept_images():
    """The copy kept before fine-tuning equals a separate fit, bit for bit."""
    kw = dict(n_latent=4, n_components=2, random_state=3)
    X, y = X_TRAIN[:600], Y_TRAIN[:600]
    tuned = AnalysisBySynthesis(fine_tune_steps=3, fine_tune_learning_rate=1e-2,
                                fine_tune_holdout=0.25, **kw).fit(X, y)
    kept = ~held_out_rows(y, 0.25)
    direct = AnalysisBySynthesis(**kw).fit(X[kept], y[kept])
    before = tuned.before_fine_tuning_
    assert before.fine_tune_steps == 0 and not hasattr(direct, "before_fine_tuning_")
    for name in ("classes_", "n_features_in_", "class_log_prior_", "log_weights_", "means_",
                 "components_", "isotropic_variances_", "noise_variances_", "n_iter_",
                 "fine_tune_loss_curve_", "fine_tune_monitor_curve_"):
        np.testing.assert_array_equal(getattr(before, name), getattr(direct, name),
                                      err_msg=name)
    X_damaged = damaged_rows(0.5, n=50)
    np.testing.assert_array_equal(before.predict_log_proba(X_damaged),
                                  direct.predict_log_proba(X_damaged))
    assert np.abs(tuned.means_ - before.means_).max() > 1e-3     # tuning left it alone
    assert tuned.class_log_prior_.shape == before.class_log_prior_.shape
    assert not np.array_equal(tuned.class_log_prior_, before.class_log_prior_)


def test_fine_tuning_that_diverges_raises_the_package_divergence_error():
    from inverse_lessons import DivergenceError

    X, y = X_TRAIN[:300], Y_TRAIN[:300]
    model = AnalysisBySynthesis(n_latent=2, n_components=1, fine_tune_steps=5,
                                fine_tune_learning_rate=1e6)
    with pytest.raises(DivergenceError, match="fine_tune_learning_rate") as raised:
        model.fit(X, y)
    assert raised.value.step_size == 1e6


def test_adam_steps_are_the_textbook_update_and_agree_with_keras():
    from inverse_lessons import tf
    from inverse_lessons.models.training import adam_step

    rng = np.random.default_rng(5)
    start = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    params = [tf.constant(p) for p in start]
    moments = [tf.zeros_like(p) for p in params]
    velocities = [tf.zeros_like(p) for p in params]
    keras_vars = [tf.Variable(p) for p in start]
    keras_adam = tf.keras.optimizers.Adam(1e-3)
    mine, m, v = [p.copy() for p in start], [0 * p for p in start], [0 * p for p in start]
    for t in range(1, 8):
        grads = [rng.standard_normal(p.shape) * 10.0 ** rng.integers(-6, 2, p.shape)
                 for p in start]
        params, moments, velocities = adam_step(params, [tf.constant(g) for g in grads],
                                                moments, velocities,
                                                tf.constant(float(t), tf.float64),
                                                tf.constant(1e-3, tf.float64))
        keras_adam.apply_gradients(zip([tf.constant(g) for g in grads], keras_vars, strict=True))
        for i, g in enumerate(grads):       # Kingma and Ba's algorithm 1, in numpy
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            m_hat, v_hat = m[i] / (1 - 0.9 ** t), v[i] / (1 - 0.999 ** t)
            mine[i] = mine[i] - 1e-3 * m_hat / (np.sqrt(v_hat) + 1e-7 / np.sqrt(1 - 0.999 ** t))
        for ours, reference, keras in zip(params, mine, keras_vars, strict=True):
            np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-15)
            # Keras rounds the learning rate and the betas to float32
            np.testing.assert_allclose(ours, keras.numpy(), rtol=1e-6, atol=1e-9)


def test_too_few_images_in_a_class_names_the_class():
    y = Y_TRAIN[:300].copy()
    X = X_TRAIN[:300]
    keep = (y != 3) | (np.cumsum(y == 3) <= 5)
    with pytest.raises(ValueError, match=r"class 3 has 5 training images.*n_latent \+ 1\) = 11"):
        AnalysisBySynthesis(n_latent=10, n_components=1).fit(X[keep], y[keep])
    with pytest.raises(ValueError, match=r"class 3 has 5 training images.*= 6"):
        AnalysisBySynthesis(n_latent=2, n_components=2).fit(X[keep], y[keep])


def test_a_row_with_every_pixel_missing_is_refused(model):
    X = X_TEST[:3].copy()
    X[1] = np.nan
    with pytest.raises(ValueError, match="row 1 of X has every pixel missing"):
        model.predict(X)


def test_bad_data_is_refused(model):
    with pytest.raises(ValueError, match="64 features"):
        model.predict(X_TEST[:, :60])
    with pytest.raises(ValueError, match="infinity"):
        model.predict(np.where(X_TEST > 0.9, np.inf, X_TEST))
    with pytest.raises(ValueError, match="infinity"):
        AnalysisBySynthesis().fit(np.where(X_TRAIN > 0.9, np.inf, X_TRAIN), Y_TRAIN)
    with pytest.raises(ValueError, match="at least two classes"):
        AnalysisBySynthesis(n_latent=2).fit(X_TRAIN[:50], np.zeros(50))


@pytest.mark.parametrize("params, error, pattern", [
    (dict(noise_std=-0.1), ValueError, "noise_std must be None or a non-negative real"),
    (dict(noise_std="loud"), TypeError, "noise_std must be None or a non-negative real"),
    (dict(n_latent=0), ValueError, "n_latent must be an integer >= 1, got 0"),
    (dict(n_components=0), ValueError, "n_components must be an integer >= 1"),
    (dict(max_iter=0), ValueError, "max_iter must be an integer >= 1"),
    (dict(n_latent=2.5), TypeError, "n_latent must be an integer >= 1, got 2.5"),
    (dict(n_latent=65), ValueError, r"n_latent must be at most the number of pixels \(64\)"),
    (dict(min_variance=0.0), ValueError, "min_variance must be a positive real number"),
    (dict(pixel_range=(1.0, 0.0)), ValueError,
     r"pixel_range must be None or a pair \(low, high\) with low < high, got \(1.0, 0.0\)"),
    (dict(pixel_range="0-1"), ValueError, "pixel_range must be None or a pair"),
    (dict(fine_tune_steps=-1), ValueError, "fine_tune_steps must be an integer >= 0"),
    (dict(fine_tune_learning_rate=0.0), ValueError, "fine_tune_learning_rate must be"),
    (dict(fine_tune_batch_size=0), ValueError, "fine_tune_batch_size must be None or an"),
    (dict(fine_tune_missing=1.0), ValueError,
     r"fine_tune_missing must be a real number in \[0, 1\)"),
    (dict(fine_tune_holdout=True), TypeError,
     r"fine_tune_holdout must be a real number in \[0, 1\)"),
])
def test_bad_parameters_are_named(params, error, pattern):
    with pytest.raises(error, match=pattern):
        AnalysisBySynthesis(**params).fit(X_TRAIN[:300], Y_TRAIN[:300])


def test_mixture_reconstruction_weights_its_generators(mixture):
    X = damaged_rows(0.5)
    joint_free = mixture.reconstruct(X)
    z = mixture.invert(X)
    assert z.shape == (8, 10, 3, 4)
    # each class's drawing lies between its generators' drawings (a convex combination)
    drawings = mixture.means_[None] + np.einsum("cjdk,ncjk->ncjd", mixture.components_, z)
    assert np.all(joint_free >= drawings.min(axis=2) - 1e-9)
    assert np.all(joint_free <= drawings.max(axis=2) + 1e-9)


def test_em_does_not_lower_the_likelihood():
    from scipy.stats import multivariate_normal

    from inverse_lessons.models.ppca import mixture_of_ppca

    X = X_TRAIN[Y_TRAIN == 8]
    totals = []
    for iterations in (1, 2, 5):
        log_w, means, W, s2, _ = mixture_of_ppca(X, 3, 4, 1e-3, iterations,
                                                  np.random.RandomState(0))
        dense = np.stack([multivariate_normal(mu, G @ G.T + v * np.eye(X.shape[1])).logpdf(X)
                          for mu, G, v in zip(means, W, s2, strict=True)], axis=1)
        totals.append(logsumexp(dense + log_w, 1).sum())
    assert totals[0] <= totals[1] + 1e-6 <= totals[2] + 2e-6


def test_chapter_figures_and_explorer(model):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from inverse_lessons.figures.images import (
        draw_class_inversions,
        plot_class_generators,
        plot_class_reconstructions,
    )
    from inverse_lessons.figures.widgets import damage_explorer

    fig = plot_class_generators(model.means_[:, 0], model.components_[:, 0, :, :3]
                                .transpose(0, 2, 1))
    assert len(fig.axes) == 4 * 10
    X = damaged_rows(0.5, n=1)
    fig = plot_class_reconstructions(X[0], model.reconstruct(X)[0], model.log_likelihoods(X)[0])
    best = int(np.argmax(model.log_likelihoods(X)[0]))
    assert fig.axes[best + 1].title.get_color() != fig.axes[0].title.get_color()
    fig, label = draw_class_inversions(model, X_TEST[0], fraction=0.5, sigma=0.0, seed=1)
    assert label in model.classes_
    explorer = damage_explorer(model, X_TRAIN, Y_TRAIN, X_TEST[:5], Y_TEST[:5])
    assert {w.description for w in explorer.children[:4]} == {"test image", "missing",
                                                              "noise σ", "pattern"}
    plt.close("all")


def test_smallest_flip_l2_flips_and_beats_a_gradient_free_bound(model):
    from inverse_lessons.evaluation.likelihood_attacks import smallest_flip_l2

    X = X_TEST[:20]
    delta, flipped = smallest_flip_l2(model, X)
    assert flipped.all()
    before = model.predict(X)
    assert np.all(model.predict(X + delta) != before)
    norms = np.linalg.norm(delta, axis=1)
    # no more than the straight line to the nearest training image the model calls different
    labels = model.predict(X_TRAIN)
    for i in range(len(X)):
        other = X_TRAIN[labels != before[i]]
        assert norms[i] <= np.linalg.norm(other - X[i], axis=1).min() + 1e-9
    # and a random change of the same size flips almost nothing
    noise = np.random.default_rng(0).standard_normal(X.shape)
    noise *= (norms / np.linalg.norm(noise, axis=1))[:, None]
    assert np.mean(model.predict(X + noise) != before) <= 0.1


def test_complete_image_scores_and_gradients_match_the_model_and_autodiff(mixture):
    from inverse_lessons import tf
    from inverse_lessons.evaluation.likelihood_attacks import complete_image_scores

    X = X_TEST[:6] + 0.1
    scores, joint, grad, joint_grad = complete_image_scores(mixture)(X)
    np.testing.assert_allclose(scores, mixture.log_likelihoods(X) + mixture.class_log_prior_,
                               rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(logsumexp(joint, axis=2), scores, rtol=1e-12)
    # gradients against TensorFlow's autodiff through the package's likelihood
    x = tf.constant(X)
    C, J, d = mixture.means_.shape
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ll, _ = class_log_likelihoods(
            x, tf.ones_like(x), mixture.means_.reshape(C * J, d),
            mixture.components_.reshape(C * J, d, -1),
            mixture.noise_variances_.reshape(C * J, d))
        terms = tf.unstack(ll, axis=1)
    expected = np.stack([tape.gradient(t, x).numpy() for t in terms], axis=1)
    np.testing.assert_allclose(joint_grad.reshape(len(X), C * J, d), expected,
                               rtol=1e-8, atol=1e-8)
    share = np.exp(joint - scores[:, :, None])
    np.testing.assert_allclose(grad, np.einsum("ncj,ncjd->ncd", share, joint_grad))


def test_smallest_flip_l2_multi_start_and_refinement_never_lose_to_plain_deepfool(mixture):
    from inverse_lessons.evaluation.likelihood_attacks import smallest_flip_l2

    X = X_TEST[:30]
    before = mixture.predict(X)
    plain, plain_flipped = smallest_flip_l2(mixture, X, multi_start=False, refine_steps=0,
                                            bisection_steps=0)
    unrefined, _ = smallest_flip_l2(mixture, X, refine_steps=0)
    strong, flipped = smallest_flip_l2(mixture, X)
    assert plain_flipped.all() and flipped.all()
    assert np.all(mixture.predict(X + strong) != before)
    assert np.all(mixture.predict(X + plain) != before)
    plain_norms, norms = np.linalg.norm(plain, axis=1), np.linalg.norm(strong, axis=1)
    unrefined_norms = np.linalg.norm(unrefined, axis=1)
    assert np.all(norms <= unrefined_norms + 1e-9) and np.all(unrefined_norms <= plain_norms)
    assert np.median(norms) < np.median(unrefined_norms) < np.median(plain_norms)
    # no straight line to a training image the model calls different flips sooner
    labels = mixture.predict(X_TRAIN)
    for i in range(len(X)):
        other = X_TRAIN[labels != before[i]]
        nearest = other[np.argsort(np.linalg.norm(other - X[i], axis=1))[:5]]
        for target in nearest:
            t = np.linspace(0, 1, 257)[1:, None]
            flips = mixture.predict(X[i] + t * (target - X[i])) != before[i]
            assert norms[i] <= t[flips.argmax(), 0] * np.linalg.norm(target - X[i]) + 1e-9


def test_smallest_flip_l2_is_near_the_smallest_flip_found_by_brute_force():
    """In two dimensions, against a dense polar grid scored by scipy's Gaussians.

    Class 0 is a cross (two generators), so the boundaries around it are curved
    and one DeepFool run, or no refinement, ends well above the smallest flip.
    """
    from inverse_lessons.evaluation.likelihood_attacks import smallest_flip_l2

    rng = np.random.default_rng(0)
    cross = np.vstack([rng.normal(0, [1.0, 0.2], (60, 2)), rng.normal(0, [0.2, 1.0], (60, 2))])
    X = np.vstack([cross, rng.normal([1.2, 1.2], 0.3, (120, 2)),
                   rng.normal([-1.5, 0.8], 0.5, (120, 2))])
    m = AnalysisBySynthesis(n_latent=1, n_components=2, min_variance=1e-3, random_state=0)
    m.fit(X, np.repeat([0, 1, 2], 120))

    def predict(P):   # independent of the package's likelihood code
        scores = [logsumexp([m.log_weights_[c, j] + multivariate_normal(
            m.means_[c, j], m.components_[c, j] @ m.components_[c, j].T
            + np.diag(m.noise_variances_[c, j])).logpdf(P) for j in range(2)], axis=0)
            for c in range(3)]
        return np.argmax(np.stack(scores, axis=1) + m.class_log_prior_, axis=1)

    points = cross[predict(cross) == 0][::12]
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    radii = np.linspace(0, 2.5, 1001)[1:]       # steps of 0.0025
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    smallest = []
    for x in points:
        flips = predict((x + radii[None, :, None] * directions[:, None]).reshape(-1, 2))
        flips = flips.reshape(len(angles), -1) != 0
        smallest.append(radii[flips.argmax(axis=1)[flips.any(axis=1)]].min())

    def ratios(**kwargs):
        delta, flipped = smallest_flip_l2(m, points, **kwargs)
        assert flipped.all() and np.all(predict(points + delta) != 0)
        return np.linalg.norm(delta, axis=1) / np.array(smallest)

    assert len(points) == 10 and np.all(ratios() <= 1.01)
    # the check can tell a weaker attack
    assert ratios(refine_steps=0).max() > 1.01
    assert ratios(multi_start=False).max() > 1.05
    assert ratios(multi_start=False, refine_steps=0, bisection_steps=0).max() > 1.05


@pytest.mark.parametrize("kwargs, error", [
    ({"max_iter": 0}, ValueError), ({"refine_steps": -1}, ValueError),
    ({"overshoot": -0.1}, ValueError), ({"bisection_steps": 1.5}, TypeError),
    ({"bisection_steps": -1}, ValueError), ({"box": (1.0, 0.0)}, ValueError),
    ({"box": (0.0, 0.5)}, ValueError)])
def test_smallest_flip_l2_rejects_bad_settings(model, kwargs, error):
    from inverse_lessons.evaluation.likelihood_attacks import smallest_flip_l2

    with pytest.raises(error, match=next(iter(kwargs))):
        smallest_flip_l2(model, X_TEST[:2], **kwargs)


def test_smallest_flip_l2_wants_a_fitted_analysis_by_synthesis(model):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    from inverse_lessons.evaluation.likelihood_attacks import smallest_flip_l2

    with pytest.raises(TypeError, match="model must be a fitted AnalysisBySynthesis"):
        smallest_flip_l2(LogisticRegression().fit(X_TRAIN, Y_TRAIN), X_TEST[:2])
    with pytest.raises(NotFittedError):
        smallest_flip_l2(AnalysisBySynthesis(), X_TEST[:2])


@pytest.mark.parametrize("X", [X_TEST[:2, :60], damaged_rows(n=2)])
def test_smallest_flip_l2_rejects_incomplete_images(model, X):
    from inverse_lessons.evaluation.likelihood_attacks import smallest_flip_l2

    with pytest.raises(ValueError, match="complete"):
        smallest_flip_l2(model, X)
