"""InverseNet: scikit-learn's conventions, gradient modes, missing pixels, bad input."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from inverse_lessons import InverseNet, tf
from inverse_lessons.damage import drop_pixels
from inverse_lessons.data import load_digits_split
from inverse_lessons.inversion.closed_form import closed_form_inversion
from inverse_lessons.inversion.solver import DivergenceError

X_TRAIN, Y_TRAIN, X_TEST, Y_TEST = load_digits_split()
FAST = dict(max_iter=60, inner_steps=50, random_state=0)


# All of scikit-learn's estimator checks. One is skipped by scikit-learn itself and
# cannot apply: the array-API check (it needs SCIPY_ARRAY_API=1 and an array-API
# namespace; InverseNet computes with TensorFlow on numpy input).
@parametrize_with_checks(
    [InverseNet(max_iter=150, inner_steps=30, learning_rate=0.05,
                random_state=0)],
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def small_model():
    return InverseNet(**FAST).fit(X_TRAIN[:300], Y_TRAIN[:300])


def test_fitted_attributes(small_model):
    m = small_model
    assert m.generator_.shape == (64, 30) and m.coef_.shape == (30, 10)
    assert m.intercept_.shape == (10,) and list(m.classes_) == list(range(10))
    assert len(m.loss_curve_) == m.n_iter_ == 60
    assert m.loss_curve_[-1] < m.loss_curve_[0]
    assert m.invert(X_TEST[:5]).shape == (5, 30)
    assert m.reconstruct(X_TEST[:5]).shape == (5, 64)
    proba = m.predict_proba(X_TEST[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_arbitrary_labels():
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    m = InverseNet(**FAST).fit(X_TRAIN[:300], names[Y_TRAIN[:300]])
    assert set(m.predict(X_TEST[:20])) <= set(names)
    assert m.score(X_TEST, names[Y_TEST]) > 0.8


def test_unrolled_and_closed_form_train_the_same_model():
    kw = dict(FAST, max_iter=10, inner_steps=25)
    a = InverseNet(gradient="unrolled", **kw).fit(X_TRAIN[:200], Y_TRAIN[:200])
    b = InverseNet(gradient="closed_form", **kw).fit(X_TRAIN[:200], Y_TRAIN[:200])
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(a.generator_, b.generator_, rtol=1e-3, atol=1e-5)


def test_identity_head_is_the_original_architecture():
    m = InverseNet(n_latent=10, head="identity", **FAST).fit(X_TRAIN[:300], Y_TRAIN[:300])
    np.testing.assert_array_equal(m.coef_, np.eye(10))
    np.testing.assert_array_equal(m.predict(X_TEST), m.invert(X_TEST).argmax(axis=1))


def test_prediction_does_not_depend_on_the_batch(small_model):
    together = small_model.decision_function(X_TEST[:50])
    alone = np.concatenate([small_model.decision_function(X_TEST[i:i + 1]) for i in range(50)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-5)


def test_missing_pixels_are_left_out(small_model):
    X = X_TEST[:20].copy()
    X[:, 32:] = np.nan                      # the bottom half is missing
    # reference: the same steps with the generator's rows of the observed top half only
    G = small_model.generator_.astype(np.float64)
    top_only = closed_form_inversion(G[:32], X_TEST[:20, :32], n_steps=small_model.inner_steps,
                                     step_size=small_model.inner_step_size_).numpy()
    np.testing.assert_allclose(small_model.invert(X), top_only, rtol=1e-7, atol=1e-9)
    # filling the missing half with zeros instead (no mask) gives other codes
    assert not np.allclose(small_model.invert(np.nan_to_num(X)), top_only, atol=1e-3)
    # the reconstruction fills the missing half with finite values
    assert np.all(np.isfinite(small_model.reconstruct(X)))


def test_fit_accepts_missing_pixels():
    X = X_TRAIN[:300].copy()
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.3] = np.nan
    m = InverseNet(**FAST).fit(X, Y_TRAIN[:300])
    assert np.all(np.isfinite(m.generator_)) and m.score(X_TEST, Y_TEST) > 0.7


def test_pipeline_gridsearch_and_cross_val():
    pipe = make_pipeline(FunctionTransformer(), InverseNet(**dict(FAST, max_iter=20)))
    scores = cross_val_score(pipe, X_TRAIN[:200], Y_TRAIN[:200], cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.3)
    search = GridSearchCV(InverseNet(**dict(FAST, max_iter=20)), {"alpha": [0.0, 1e-3]}, cv=2)
    search.fit(X_TRAIN[:200], Y_TRAIN[:200])
    assert search.best_params_["alpha"] in (0.0, 1e-3)


def test_fixed_inner_step_that_diverges_is_refused():
    with pytest.raises(ValueError, match=r"inner_step_size=10 would make the inner loop diverge"):
        InverseNet(inner_step_size=10.0, **FAST).fit(X_TRAIN[:100], Y_TRAIN[:100])


def test_divergence_during_training_is_reported():
    # a stable start, but a huge learning rate grows G until the fixed step diverges
    eta = 0.4 / np.linalg.svd(X_TRAIN[:100], compute_uv=False)[0] ** 2
    model = InverseNet(inner_step_size=float(eta), optimizer="sgd", learning_rate=1e4,
                       **dict(FAST, max_iter=200))
    with pytest.raises(DivergenceError, match="training diverged"):
        model.fit(X_TRAIN[:100], Y_TRAIN[:100])


@pytest.mark.parametrize("params, error, pattern", [
    (dict(n_latent=0), ValueError, "n_latent must be an integer >= 1, got 0"),
    (dict(n_latent=2.5), TypeError, "n_latent must be an integer >= 1, got 2.5"),
    (dict(inner_steps=-1), ValueError, "inner_steps must be an integer >= 1"),
    (dict(inner_step_size="fast"), ValueError,
     r"inner_step_size must be one of \('auto',\) or a positive real number, got 'fast'"),
    (dict(inner_step_size=-0.1), ValueError, "inner_step_size must be one of"),
    (dict(inner_step_size=[0.1]), TypeError, "inner_step_size must be one of"),
    (dict(head="mlp"), ValueError, "head must be one of"),
    (dict(optimizer="lbfgs"), ValueError, "optimizer must be one of"),
    (dict(gradient="magic"), ValueError, "gradient must be one of"),
    (dict(learning_rate=0.0), ValueError, "learning_rate must be a positive real number"),
    (dict(learning_rate=np.inf), ValueError, "learning_rate must be a positive real number"),
    (dict(alpha=-1.0), ValueError, "alpha must be a non-negative real number, got -1.0"),
    (dict(batch_size=0), ValueError, "batch_size must be None or an integer >= 1"),
    (dict(head="identity", n_latent=30), ValueError, "n_latent must be 10"),
])
def test_bad_parameters_are_named(params, error, pattern):
    with pytest.raises(error, match=pattern):
        InverseNet(**dict(FAST, **params)).fit(X_TRAIN[:50], Y_TRAIN[:50])


def test_bad_data_is_refused():
    m = InverseNet(**FAST)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        m.fit(X_TRAIN[:50], Y_TRAIN[:40])
    with pytest.raises(ValueError, match="at least two classes"):
        m.fit(X_TRAIN[:50], np.zeros(50))
    with pytest.raises(ValueError, match="NaN"):
        m.fit(X_TRAIN[:50], np.where(np.arange(50) == 3, np.nan, Y_TRAIN[:50]))
    with pytest.raises(ValueError, match="could not convert|numeric"):
        m.fit(np.full((50, 64), "ink"), Y_TRAIN[:50])
    with pytest.raises(ValueError, match="infinity"):
        m.fit(np.where(X_TRAIN[:50] > 0.5, np.inf, X_TRAIN[:50]), Y_TRAIN[:50])
    fitted = InverseNet(**FAST).fit(X_TRAIN[:100], Y_TRAIN[:100])
    with pytest.raises(ValueError, match="64 features"):
        fitted.predict(X_TEST[:, :60])


def test_reconstruction_weight_makes_the_generator_draw():
    plain = InverseNet(**FAST).fit(X_TRAIN[:300], Y_TRAIN[:300])
    drawing = InverseNet(reconstruction_weight=30.0, **FAST).fit(X_TRAIN[:300], Y_TRAIN[:300])

    def error(model):
        return np.mean((model.reconstruct(X_TEST) - X_TEST) ** 2)

    assert error(drawing) < error(plain)


def test_mini_batches_train_and_are_reproducible():
    kw = dict(FAST, batch_size=64, max_iter=80)
    a = InverseNet(**kw).fit(X_TRAIN[:300], Y_TRAIN[:300])
    b = InverseNet(**kw).fit(X_TRAIN[:300], Y_TRAIN[:300])
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-6)
    assert a.score(X_TEST, Y_TEST) > 0.7
    with pytest.raises(ValueError, match="batch_size must be None or an integer >= 1"):
        InverseNet(**dict(FAST, batch_size=0)).fit(X_TRAIN[:50], Y_TRAIN[:50])
    with pytest.raises(ValueError, match="reconstruction_weight must be a non-negative real"):
        InverseNet(**dict(FAST, reconstruction_weight=-1.0)).fit(X_TRAIN[:50], Y_TRAIN[:50])


def test_initial_generator_is_recorded():
    m = InverseNet(**dict(FAST, max_iter=1)).fit(X_TRAIN[:100], Y_TRAIN[:100])
    assert m.initial_generator_.shape == (64, 30)
    # it starts from training images (slightly perturbed): each column is close to one
    distance = np.linalg.norm(m.initial_generator_.T[:, None] - X_TRAIN[None, :100], axis=2)
    assert np.all(distance.min(axis=1) < 0.1 * np.linalg.norm(X_TRAIN[:100], axis=1).min())
    assert not np.allclose(m.initial_generator_, m.generator_)


def _reference_loss(G, X, y, n_steps, eta=None):
    """Cross-entropy of the identity head's logits z* (numpy, float64, explicit steps).

    eta=None uses the automatic step 0.5 / sigma_max(G)^2 of this G.
    """
    if eta is None:
        eta = 0.5 / np.linalg.eigvalsh(G.T @ G)[-1]
    Z = np.zeros((len(X), G.shape[1]))
    for _ in range(n_steps):
        Z = Z + 2 * eta * (X - Z @ G.T) @ G
    Z = Z - Z.max(axis=1, keepdims=True)
    return np.mean(np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(len(y)), y])


@pytest.mark.parametrize("step_gradient", [False, True])
def test_step_gradient_decides_whether_eta_is_differentiated(step_gradient):
    # One plain gradient step of size 1 on G: G0 - G1 is the gradient the model used.
    X, y, n_steps = X_TRAIN[:60], Y_TRAIN[:60], 30
    m = InverseNet(n_latent=10, head="identity", inner_steps=n_steps, optimizer="sgd",
                   learning_rate=1.0, max_iter=1, step_gradient=step_gradient,
                   random_state=0).fit(X, y)
    G0 = m.initial_generator_.astype(np.float64)
    used = G0 - m.generator_
    frozen_eta = 0.5 / np.linalg.eigvalsh(G0.T @ G0)[-1]
    eta = None if step_gradient else frozen_eta   # the function that gradient belongs to
    rng = np.random.default_rng(1)
    eps = 1e-5

    def slope(direction, eta):
        """Central finite difference of the reference loss along ``direction``."""
        return (_reference_loss(G0 + eps * direction, X, y, n_steps, eta)
                - _reference_loss(G0 - eps * direction, X, y, n_steps, eta)) / (2 * eps)

    for direction in (G0, rng.standard_normal(G0.shape)):   # the scale direction, any other
        assert np.sum(used * direction) == pytest.approx(slope(direction, eta), rel=2e-2,
                                                         abs=1e-6)
    # the two gradients differ along the scale direction, so the test tells them apart
    other = slope(G0, frozen_eta if step_gradient else None)
    assert abs(np.sum(used * G0) - other) > 0.1 * abs(other)


def test_automatic_step_makes_the_inversion_scale_equivariant():
    # G -> G / s multiplies every code by s: the reason the no-head model can be as
    # confident as it likes (chapter 4)
    m = InverseNet(n_latent=10, head="identity", **FAST).fit(X_TRAIN[:100], Y_TRAIN[:100])
    G = m.generator_.astype(np.float64)

    def codes(G):
        eta = 0.5 / np.linalg.eigvalsh(G.T @ G)[-1]
        return closed_form_inversion(G, X_TEST[:20], n_steps=50, step_size=eta).numpy()

    np.testing.assert_allclose(codes(G / 4.0), 4.0 * codes(G), rtol=1e-8, atol=1e-10)


def test_the_objective_has_a_scale_symmetry_that_normalising_removes():
    # (G / s, W / s, c): the same logits, the penalty alpha ||W||^2 divided by s^2, so
    # without normalize_generator the objective has no minimiser (chapter 4)
    m = InverseNet(**FAST).fit(X_TRAIN[:100], Y_TRAIN[:100])
    s = 5.0
    scaled = InverseNet(**FAST).fit(X_TRAIN[:100], Y_TRAIN[:100])
    scaled.generator_ = m.generator_ / s
    scaled.coef_ = m.coef_ / s
    scaled.inner_step_size_ = m.inner_step_size_ * s**2   # eta(G / s) = s^2 eta(G)
    np.testing.assert_allclose(scaled.decision_function(X_TEST[:50]),
                               m.decision_function(X_TEST[:50]), rtol=1e-5, atol=1e-6)
    assert np.sum(scaled.coef_**2) == pytest.approx(np.sum(m.coef_**2) / s**2)
    # normalised: sigma_max(G) = 1 from the start and after every step, so eta = 0.5
    unit = InverseNet(**dict(FAST, normalize_generator=True)).fit(X_TRAIN[:100],
                                                                  Y_TRAIN[:100])
    for G in (unit.initial_generator_, unit.generator_):
        assert np.linalg.norm(G.astype(np.float64), 2) == pytest.approx(1.0, rel=1e-5)
    assert unit.inner_step_size_ == pytest.approx(0.5, rel=1e-5)
    assert unit.loss_curve_[-1] < unit.loss_curve_[0]
    # the starting generator is the default's, rescaled
    G0 = m.initial_generator_.astype(np.float64)
    np.testing.assert_allclose(unit.initial_generator_, G0 / np.linalg.norm(G0, 2),
                               rtol=1e-5, atol=1e-7)


def test_normalised_stopped_and_exact_gradients_agree_along_the_constraint():
    # At sigma_max(G) = 1 the two gradients differ only by a multiple of u v^T (u, v the
    # top singular vectors), the normal of the surface sigma_max = 1: their components
    # along the surface are the same, and the normal ones differ
    X, y = X_TRAIN[:60], Y_TRAIN[:60]
    G0 = np.random.default_rng(0).random((64, 10))
    G = tf.Variable(G0 / np.linalg.norm(G0, 2))
    grads = []
    for exact in (False, True):
        with tf.GradientTape() as tape:
            largest = tf.linalg.eigvalsh(tf.transpose(G) @ G)[-1]
            if not exact:
                largest = tf.stop_gradient(largest)
            Z = closed_form_inversion(G, X, n_steps=30, step_size=0.5 / largest)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, Z))
        grads.append(tape.gradient(loss, G).numpy())
    U, _, Vt = np.linalg.svd(G.numpy())
    normal = np.outer(U[:, 0], Vt[0])
    stopped, exact = (g - np.sum(g * normal) * normal for g in grads)
    np.testing.assert_allclose(exact, stopped, rtol=1e-7, atol=1e-10)
    difference = grads[1] - grads[0]
    assert np.linalg.norm(difference) > 0.01 * np.linalg.norm(grads[0])
    np.testing.assert_allclose(difference, np.sum(difference * normal) * normal, atol=1e-10)


def test_step_gradient_needs_the_automatic_step_and_a_bool():
    with pytest.raises(ValueError, match="step_gradient=True needs inner_step_size='auto'"):
        InverseNet(**dict(FAST, step_gradient=True, inner_step_size=1e-3)).fit(
            X_TRAIN[:50], Y_TRAIN[:50])
    with pytest.raises(TypeError, match="step_gradient must be True or False"):
        InverseNet(**dict(FAST, step_gradient="yes")).fit(X_TRAIN[:50], Y_TRAIN[:50])
    with pytest.raises(TypeError, match="normalize_generator must be True or False"):
        InverseNet(**dict(FAST, normalize_generator=1)).fit(X_TRAIN[:50], Y_TRAIN[:50])


def test_many_fits_print_no_retracing_notice(capfd, tf_log_messages):
    for seed in range(7):
        InverseNet(**dict(FAST, max_iter=2, random_state=seed)).fit(X_TRAIN[:50],
                                                                    Y_TRAIN[:50])
    assert not [m for m in tf_log_messages if "retracing" in m]
    assert "retracing" not in capfd.readouterr().err


def test_repeated_fits_keep_their_own_results():
    kw = dict(FAST, max_iter=5, n_latent=7)
    first = InverseNet(**kw).fit(X_TRAIN[:100], Y_TRAIN[:100])
    kept = first.generator_.copy(), first.coef_.copy()
    InverseNet(**dict(kw, random_state=1)).fit(X_TRAIN[100:200], Y_TRAIN[100:200])
    again = InverseNet(**kw).fit(X_TRAIN[:100], Y_TRAIN[:100])
    # the fit in between leaks nothing into the next (optimiser state included) ...
    np.testing.assert_array_equal(again.loss_curve_, first.loss_curve_)
    np.testing.assert_array_equal(again.generator_, first.generator_)
    # ... and the shared variables are not the fitted model's arrays
    np.testing.assert_array_equal(first.generator_, kept[0])
    np.testing.assert_array_equal(first.coef_, kept[1])


@pytest.mark.parametrize("missing, n_latent, batch", [(0.0, 6, None), (0.3, 5, 40)])
def test_fits_of_other_sizes_do_not_disturb_each_other(missing, n_latent, batch):
    # cross-validation folds differ in size: a fit's numbers do not depend on which
    # sizes were fitted before it
    kw = dict(FAST, max_iter=5, n_latent=n_latent, batch_size=batch)
    X = drop_pixels(X_TRAIN[:233], missing, seed=0) if missing else X_TRAIN[:233]
    first = InverseNet(**kw).fit(X[:100], Y_TRAIN[:100])
    for n in (150, 233):
        InverseNet(**kw).fit(X[:n], Y_TRAIN[:n])
    again = InverseNet(**kw).fit(X[:100], Y_TRAIN[:100])
    np.testing.assert_array_equal(again.loss_curve_, first.loss_curve_)
    np.testing.assert_array_equal(again.generator_, first.generator_)


@pytest.mark.parametrize("extra", [{}, dict(batch_size=40)])
def test_a_longer_fit_begins_with_the_shorter_one(extra):
    # the first 150 of 250 iterations are those of a fit stopped after 150
    # (mini-batches drawn in the same order)
    kw = dict(FAST, n_latent=8, inner_steps=20, **extra)
    short = InverseNet(**dict(kw, max_iter=150)).fit(X_TRAIN[:120], Y_TRAIN[:120])
    long = InverseNet(**dict(kw, max_iter=250)).fit(X_TRAIN[:120], Y_TRAIN[:120])
    assert len(short.loss_curve_) == short.n_iter_ == 150 and len(long.loss_curve_) == 250
    np.testing.assert_array_equal(long.loss_curve_[:150], short.loss_curve_)
    assert long.loss_curve_[-1] < short.loss_curve_[-1]


def test_divergence_is_reported_at_the_first_loss_that_is_not_finite():
    eta = 0.4 / np.linalg.svd(X_TRAIN[:100], compute_uv=False)[0] ** 2
    model = InverseNet(inner_step_size=float(eta), optimizer="sgd", learning_rate=1e4,
                       **dict(FAST, max_iter=300))
    with pytest.raises(DivergenceError, match=r"training diverged at iteration (\d+)") as info:
        model.fit(X_TRAIN[:100], Y_TRAIN[:100])
    at = int(info.value.args[0].split("iteration ")[1].split(":")[0])
    # every loss before it is recorded and finite, and it names the step and its bound
    assert len(model.loss_curve_) == at > 0 and np.all(np.isfinite(model.loss_curve_))
    assert info.value.step_size == pytest.approx(eta, rel=1e-6)
    assert info.value.step_size_bound > 0


def test_masked_training_matches_the_unrolled_gradient():
    X = drop_pixels(X_TRAIN[:150], 0.4, seed=0)
    kw = dict(FAST, max_iter=10, inner_steps=25, n_latent=8, reconstruction_weight=1.0)
    a = InverseNet(gradient="unrolled", **kw).fit(X, Y_TRAIN[:150])
    b = InverseNet(gradient="closed_form", **kw).fit(X, Y_TRAIN[:150])
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(a.generator_, b.generator_, rtol=1e-3, atol=1e-5)


def test_prediction_with_missing_pixels_is_the_closed_form():
    # invert() gives the closed form's codes (float64), and an image's code does
    # not depend on its batch
    m = InverseNet(**dict(FAST, n_latent=12)).fit(X_TRAIN[:200], Y_TRAIN[:200])
    X = drop_pixels(X_TEST[:80], 0.5, seed=4)
    D = (~np.isnan(X)).astype(float)
    expected = closed_form_inversion(m.generator_.astype(np.float64), np.nan_to_num(X),
                                     n_steps=m.inner_steps, step_size=m.inner_step_size_,
                                     mask=D).numpy()
    codes = m.invert(X)
    np.testing.assert_allclose(codes, expected, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(m.invert(X[7:8])[0], codes[7], rtol=1e-12, atol=1e-14)
