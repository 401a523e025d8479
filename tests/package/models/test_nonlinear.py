"""The nonlinear generator: differentiable inversion, long descents, the estimator's contract."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from inverse_lessons import tf
from inverse_lessons.data import load_digits_split
from inverse_lessons.inversion.solver import DivergenceError
from inverse_lessons.models.decoder import (
    inversion_derivatives,
    invert_decoder,
    long_inversion,
    make_decoder,
    make_encoder,
)
from inverse_lessons.models.nonlinear import NonlinearInverseNet
from inverse_lessons.models.nonlinear_training import batch_order

X_TRAIN, Y_TRAIN, X_TEST, Y_TEST = load_digits_split()


# All of scikit-learn's estimator checks, on a small and quick model (the array-API
# check is skipped by scikit-learn itself, as for InverseNet).
@parametrize_with_checks(
    [NonlinearInverseNet(n_latent=2, hidden=8, inner_steps=3, max_iter=100, learning_rate=0.05,
                         reconstruction_weight=0.0, random_state=0)],
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_inversion_lowers_the_loss_and_is_differentiable():
    decoder = make_decoder(5, seed=0)
    X = tf.constant(X_TEST[:20], tf.float32)
    Z0 = tf.zeros((20, 5))
    Z = invert_decoder(decoder, X, Z0, n_steps=30, step_size=0.05)
    before = tf.reduce_sum(tf.square(X - decoder(Z0)))
    after = tf.reduce_sum(tf.square(X - decoder(Z)))
    assert float(after) < float(before)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(invert_decoder(decoder, X, Z0, n_steps=5, step_size=0.05))
    grads = tape.gradient(value, decoder.trainable_variables)
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)


def test_inversion_gradient_matches_finite_differences():
    decoder = make_decoder(3, seed=1, dtype="float64")
    X = tf.constant(X_TEST[:4])
    bias = decoder.layers[-1].bias

    def objective():
        Z = invert_decoder(decoder, X, tf.zeros((4, 3), tf.float64), n_steps=3, step_size=0.05)
        return float(tf.reduce_sum(Z))

    with tf.GradientTape() as tape:
        value = tf.reduce_sum(invert_decoder(decoder, X, tf.zeros((4, 3), tf.float64),
                                             n_steps=3, step_size=0.05))
    auto = tape.gradient(value, bias).numpy()
    original = bias.numpy().copy()
    h = 1e-6
    for p in (0, 7, 40):
        step = h * np.eye(64)[p]
        bias.assign(original + step)
        up = objective()
        bias.assign(original - step)
        down = objective()
        bias.assign(original)
        assert auto[p] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


def test_estimator_contract():
    model = NonlinearInverseNet(max_iter=30, random_state=0)
    model.fit(X_TRAIN[:300], Y_TRAIN[:300])
    assert len(model.loss_curve_) == 30 and model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.invert(X_TEST[:5]).shape == (5, 10)
    assert model.reconstruct(X_TEST[:5]).shape == (5, 64)
    np.testing.assert_allclose(model.predict_proba(X_TEST[:5]).sum(axis=1), 1.0, rtol=1e-6)
    assert set(model.predict(X_TEST)) <= set(range(10))
    again = NonlinearInverseNet(max_iter=30, random_state=0).fit(
        X_TRAIN[:300], Y_TRAIN[:300])
    np.testing.assert_allclose(again.loss_curve_, model.loss_curve_, rtol=1e-5)


@pytest.mark.parametrize("params, error, pattern", [
    (dict(start="random"), ValueError, "start must be one of"),
    (dict(inner_steps=0), ValueError, "inner_steps must be an integer >= 1, got 0"),
    (dict(inner_step_size=-1.0), ValueError, "inner_step_size must be a positive real"),
    (dict(hidden=1.5), TypeError, "hidden must be an integer >= 1, got 1.5"),
    (dict(batch_size=0), ValueError, "batch_size must be None or an integer >= 1"),
    (dict(batch_size=2.5), TypeError, "batch_size must be None or an integer >= 1"),
])
def test_bad_parameters(params, error, pattern):
    with pytest.raises(error, match=pattern):
        NonlinearInverseNet(max_iter=2, **params).fit(X_TRAIN[:50], Y_TRAIN[:50])


def test_bad_data():
    with pytest.raises(ValueError, match="at least two classes"):
        NonlinearInverseNet(max_iter=2).fit(X_TRAIN[:20], np.zeros(20))
    with pytest.raises(ValueError, match="NaN"):
        NonlinearInverseNet(max_iter=2).fit(
            np.where(X_TRAIN[:20] > 0.5, np.nan, X_TRAIN[:20]), Y_TRAIN[:20])


def _numpy_loss(decoder, x, z):
    """||x - g(z)||^2 with the decoder written out in numpy (an independent reference)."""
    k1, b1, k2, b2 = (w.astype(np.float64) for w in decoder.get_weights())
    g = 1 / (1 + np.exp(-(np.tanh(z @ k1 + b1) @ k2 + b2)))
    return float(np.sum((x - g) ** 2))


def test_inversion_derivatives_match_finite_differences():
    decoder = make_decoder(4, seed=3)
    rng = np.random.default_rng(0)
    X, Z = X_TEST[:3], rng.standard_normal((3, 4))
    losses, grads, hessians = inversion_derivatives(decoder, X, Z)
    h = 1e-5
    for i in range(3):
        assert losses[i] == pytest.approx(_numpy_loss(decoder, X[i], Z[i]), rel=1e-10)
        for j in range(4):
            e = h * np.eye(4)[j]
            fd = (_numpy_loss(decoder, X[i], Z[i] + e)
                  - _numpy_loss(decoder, X[i], Z[i] - e)) / (2 * h)
            assert grads[i, j] == pytest.approx(fd, rel=1e-6, abs=1e-8)
            up = inversion_derivatives(decoder, X[i:i + 1], (Z[i] + e)[None])[1][0]
            down = inversion_derivatives(decoder, X[i:i + 1], (Z[i] - e)[None])[1][0]
            np.testing.assert_allclose(hessians[i, :, j], (up - down) / (2 * h),
                                       rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(hessians, np.swapaxes(hessians, 1, 2), atol=1e-10)


def test_long_inversion_takes_the_same_steps_as_invert_decoder():
    decoder = make_decoder(5, seed=4)
    Z0 = np.random.default_rng(1).standard_normal((6, 5))
    Z, losses, norms = long_inversion(decoder, X_TEST[:6], Z0, step_size=0.05, n_steps=7)
    reference = invert_decoder(decoder, tf.constant(X_TEST[:6], tf.float32),
                               tf.constant(Z0, tf.float32), n_steps=7, step_size=0.05)
    np.testing.assert_allclose(Z, reference.numpy(), rtol=1e-4, atol=1e-5)
    # in float64 (XLA-compiled) they agree to float64 rounding, also after many steps
    decoder_64 = make_decoder(5, dtype="float64")
    decoder_64.set_weights([w.astype(np.float64) for w in decoder.get_weights()])
    long, _, _ = long_inversion(decoder, X_TEST[:6], Z0, step_size=0.05, n_steps=300)
    reference = invert_decoder(decoder_64, tf.constant(X_TEST[:6]), tf.constant(Z0),
                               n_steps=300, step_size=0.05)
    np.testing.assert_allclose(long, reference.numpy(), rtol=1e-10, atol=1e-12)
    again, grads, _ = inversion_derivatives(decoder, X_TEST[:6], Z)[0:3]
    np.testing.assert_allclose(losses, again)
    np.testing.assert_allclose(norms, np.linalg.norm(grads, axis=1))
    start = inversion_derivatives(decoder, X_TEST[:6], Z0)[0]
    assert np.all(losses < start)
    same, _, _ = long_inversion(decoder, X_TEST[:6], Z0, step_size=0.05, n_steps=0)
    np.testing.assert_array_equal(same, Z0)


def test_prior_weight_adds_lambda_z_squared_and_its_derivatives():
    decoder = make_decoder(4, seed=7)
    Z = np.random.default_rng(3).standard_normal((3, 4))
    lam = 0.3
    plain = inversion_derivatives(decoder, X_TEST[:3], Z)
    prior = inversion_derivatives(decoder, X_TEST[:3], Z, prior_weight=lam)
    # closed forms: lambda ||z||^2, its gradient 2 lambda z, its Hessian 2 lambda I
    np.testing.assert_allclose(prior[0], plain[0] + lam * np.sum(Z**2, axis=1), rtol=1e-12)
    np.testing.assert_allclose(prior[1], plain[1] + 2 * lam * Z, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(prior[2], plain[2] + 2 * lam * np.eye(4), rtol=1e-10,
                               atol=1e-12)
    # the descent takes steps of that gradient: one step by hand
    Z1, _, _ = long_inversion(decoder, X_TEST[:3], Z, step_size=0.05, n_steps=1,
                              prior_weight=lam)
    np.testing.assert_allclose(Z1, Z - 0.05 * prior[1], rtol=1e-10, atol=1e-12)


def test_a_prior_stops_the_outward_drift_of_the_codes():
    # An untrained decoder and a target it cannot draw (all pixels 1): without a prior
    # the codes keep moving, with one the descent comes to rest at a finite point.
    decoder = make_decoder(3, seed=8)
    X = np.ones((4, 64))
    Z0 = np.random.default_rng(4).standard_normal((4, 3))
    for lam in (0.0, 0.1):
        Z_a, _, _ = long_inversion(decoder, X, Z0, step_size=0.01, n_steps=2000,
                                   prior_weight=lam)
        Z_b, _, norms = long_inversion(decoder, X, Z_a, step_size=0.01, n_steps=2000,
                                       prior_weight=lam)
        moved = np.linalg.norm(Z_b - Z_a, axis=1)
        if lam == 0.0:
            assert np.all(np.linalg.norm(Z_b, axis=1) > np.linalg.norm(Z_a, axis=1))
            assert np.all(moved > 0.1)
        else:
            assert np.all(norms < 1e-6) and np.all(moved < 1e-3)


def test_analysis_helpers_reject_bad_input():
    decoder = make_decoder(3, seed=6)
    with pytest.raises(ValueError, match="Z must have shape"):
        inversion_derivatives(decoder, X_TEST[:2], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="initial must have shape"):
        long_inversion(decoder, X_TEST[:2], np.zeros((3, 3)), step_size=0.05, n_steps=1)
    with pytest.raises(ValueError, match="step_size must be positive"):
        long_inversion(decoder, X_TEST[:2], np.zeros((2, 3)), step_size=0.0, n_steps=1)
    with pytest.raises(ValueError, match="n_steps must be >= 0"):
        long_inversion(decoder, X_TEST[:2], np.zeros((2, 3)), step_size=0.05, n_steps=-1)
    with pytest.raises(ValueError, match="prior_weight must be non-negative"):
        long_inversion(decoder, X_TEST[:2], np.zeros((2, 3)), step_size=0.05, n_steps=1,
                       prior_weight=-0.1)
    with pytest.raises(TypeError, match="prior_weight must be a real number"):
        inversion_derivatives(decoder, X_TEST[:2], np.zeros((2, 3)), prior_weight="0.1")
    one_layer = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(64)])
    with pytest.raises(ValueError, match="made by make_decoder"):
        inversion_derivatives(one_layer, X_TEST[:2], np.zeros((2, 3)))


def test_repeated_fits_start_afresh():
    kw = dict(n_latent=3, hidden=8, inner_steps=2, max_iter=15)
    first = NonlinearInverseNet(random_state=0, **kw).fit(X_TRAIN[:100], Y_TRAIN[:100])
    NonlinearInverseNet(random_state=1, **kw).fit(X_TRAIN[100:200], Y_TRAIN[100:200])
    NonlinearInverseNet(random_state=1, start="zero", **kw).fit(X_TRAIN[:100], Y_TRAIN[:100])
    again = NonlinearInverseNet(random_state=0, **kw).fit(X_TRAIN[:100], Y_TRAIN[:100])
    # nothing of the fits in between (weights, Adam's moments and step count) leaks into it
    np.testing.assert_array_equal(again.loss_curve_, first.loss_curve_)
    for a, b in zip(again.decoder_.get_weights(), first.decoder_.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.decoder_ is not first.decoder_


def test_batch_order_draws_every_image_once_per_epoch():
    # full batch: every iteration sees all images, in order (batch_size None or >= n)
    for size in (None, 10, 25):
        np.testing.assert_array_equal(batch_order(10, size, 3, None),
                                      np.tile(np.arange(10), (3, 1)))
    # 10 images in batches of 3: three batches per epoch, one image left for the next epoch
    order = batch_order(10, 3, 7, np.random.default_rng(0))
    assert order.shape == (7, 3)
    for epoch in (order[0:3], order[3:6]):
        assert len(set(epoch.ravel())) == 9 and set(epoch.ravel()) <= set(range(10))
    np.testing.assert_array_equal(order, batch_order(10, 3, 7, np.random.default_rng(0)))
    # over many epochs every image is drawn about equally often
    counts = np.bincount(batch_order(10, 3, 3000, np.random.default_rng(1)).ravel())
    assert counts.min() > 0.95 * counts.mean() and counts.max() < 1.05 * counts.mean()


def _keras_reference_fit(model, X, y):
    """What fit does, written with the Keras layers and keras.optimizers.Adam (an
    independent reference for the training step and the package's Adam):
    returns (loss curve, decoder weights, head weights, encoder weights or None)."""
    seed = int(np.random.RandomState(model.random_state).randint(2**31 - 1))
    decoder = make_decoder(model.n_latent, 64, model.hidden, seed=seed)
    encoder = (make_encoder(model.n_latent, 64, model.hidden, seed=seed + 2)
               if model.start == "encoder" else None)
    head = tf.keras.layers.Dense(10, kernel_initializer=tf.keras.initializers.GlorotUniform(
        seed=seed + 4))
    head.build((None, model.n_latent))
    variables = (decoder.trainable_variables + head.trainable_variables
                 + (encoder.trainable_variables if encoder else []))
    optimizer = tf.keras.optimizers.Adam(model.learning_rate)
    X_all, y_all = np.asarray(X, np.float32), np.asarray(y)
    rows = batch_order(len(X_all), model.batch_size, model.max_iter,
                        np.random.default_rng(seed + 6))
    curve = []
    for batch in rows:
        X, labels = tf.constant(X_all[batch]), tf.constant(y_all[batch])
        with tf.GradientTape() as tape:
            start = encoder(X) if encoder else tf.zeros((X.shape[0], model.n_latent))
            Z = invert_decoder(decoder, X, start, n_steps=model.inner_steps,
                               step_size=model.inner_step_size)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels, head(Z)))
            loss += model.reconstruction_weight * tf.reduce_mean(tf.square(X - decoder(Z)))
            loss += model.alpha * tf.reduce_sum(tf.square(head.kernel))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        curve.append(float(loss))
    return (curve, decoder.get_weights(), head.get_weights(),
            encoder.get_weights() if encoder else None)


@pytest.mark.parametrize("start, batch_size", [("encoder", None), ("zero", None),
                                               ("encoder", 30), ("zero", 250)])
def test_training_matches_keras_layers_and_adam(start, batch_size):
    # batches of 30 of the 80 images (two per epoch); 250 >= 80 is the full batch
    model = NonlinearInverseNet(n_latent=3, hidden=8, inner_steps=3, max_iter=12,
                                learning_rate=0.02, start=start, batch_size=batch_size,
                                random_state=3)
    model.fit(X_TRAIN[:80], Y_TRAIN[:80])
    curve, decoder, head, encoder = _keras_reference_fit(model, X_TRAIN[:80], Y_TRAIN[:80])
    # the same training to float32 rounding (not bit for bit: the two are different
    # graphs, and their sums may round differently)
    np.testing.assert_allclose(model.loss_curve_, curve, rtol=1e-5)
    for a, b in zip(model.decoder_.get_weights() + model.head_.get_weights(),
                    decoder + head, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    if start == "encoder":
        for a, b in zip(model.encoder_.get_weights(), encoder, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    else:
        assert model.encoder_ is None


def test_fits_in_threads_equal_fits_one_after_another():
    from joblib import Parallel, delayed

    kw = dict(n_latent=3, hidden=8, inner_steps=3, max_iter=20)
    models = [NonlinearInverseNet(random_state=s, start=start, **kw)
              for s in range(3) for start in ("encoder", "zero")]
    alone = [clone(m).fit(X_TRAIN[:100], Y_TRAIN[:100]) for m in models]
    together = Parallel(n_jobs=3, prefer="threads")(
        delayed(clone(m).fit)(X_TRAIN[:100], Y_TRAIN[:100]) for m in models)
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
        for u, v in zip(a.decoder_.get_weights(), b.decoder_.get_weights(), strict=True):
            np.testing.assert_array_equal(u, v)


def test_divergence_names_the_iteration():
    model = NonlinearInverseNet(n_latent=3, hidden=8, inner_steps=2, max_iter=5,
                                learning_rate=1e30, random_state=0)
    with pytest.raises(DivergenceError, match="diverged at iteration 1: the loss is nan"):
        model.fit(X_TRAIN[:60], Y_TRAIN[:60])
    assert len(model.loss_curve_) == 1 and np.isfinite(model.loss_curve_[0])


@pytest.fixture(scope="module")
def fitted():
    return NonlinearInverseNet(n_latent=4, hidden=16, max_iter=30, random_state=0).fit(
        X_TRAIN[:300], Y_TRAIN[:300])


def test_invert_takes_the_models_own_steps(fitted):
    X = X_TEST[:6]
    guess = fitted.invert(X, n_steps=0)
    # from the encoder's guess, inner_steps steps of the model's step size, in float64
    weights = [w.astype(np.float64) for w in fitted.decoder_.get_weights()]
    decoder = make_decoder(4, hidden=16, dtype="float64")
    decoder.set_weights(weights)
    expected = invert_decoder(decoder, tf.constant(X), tf.constant(guess),
                              n_steps=fitted.inner_steps, step_size=fitted.inner_step_size)
    np.testing.assert_allclose(fitted.invert(X), expected.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(fitted.invert(X, n_steps=0, start="zero"), np.zeros((6, 4)))
    np.testing.assert_allclose(fitted.invert(X, n_steps=3, start=guess),
                               fitted.invert(X, n_steps=3), rtol=1e-12)
    # predictions are the head's classes of those codes; drawings are g of them
    np.testing.assert_array_equal(fitted.classify_codes(fitted.invert(X)), fitted.predict(X))
    np.testing.assert_allclose(fitted.decode(fitted.invert(X)), fitted.reconstruct(X))
    with pytest.raises(ValueError, match=r"start must have shape \(6, 4\)"):
        fitted.invert(X, start=np.zeros((6, 3)))
    with pytest.raises(ValueError, match="n_steps must be >= 0"):
        fitted.invert(X, n_steps=-1)
    zero_model = NonlinearInverseNet(n_latent=4, hidden=16, max_iter=2, start="zero",
                                     random_state=0).fit(X_TRAIN[:50], Y_TRAIN[:50])
    with pytest.raises(ValueError, match="start='encoder' needs a model fitted"):
        zero_model.invert(X, start="encoder")
