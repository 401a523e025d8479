"""The canonical digits split, and the original formulation's known behaviour."""

import numpy as np
import pytest

from inverse_lessons.data import (
    IMAGE_SHAPE,
    N_CLASSES,
    N_PIXELS,
    load_digits_split,
    neighbour_gap,
)
from inverse_lessons.models.original import (
    batch_mean_step,
    predict_original,
    train_original,
    train_original_seeds,
)


def test_neighbour_gap_sees_runs_of_similar_rows():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 5))
    runs = np.repeat(centres, 10, axis=0) + 0.01 * rng.normal(size=(200, 5))
    ours, random = neighbour_gap(runs)
    assert ours < 10 and 40 < random < 80      # within its run of ten; random: about n / 3
    shuffled, _ = neighbour_gap(runs[rng.permutation(200)])
    assert shuffled > 20                       # shuffled: the runs are gone
    by_hand = [np.argsort(np.linalg.norm(runs - x, axis=1))[1] for x in runs]
    assert ours == np.median(np.abs(np.array(by_hand) - np.arange(200)))
    with pytest.raises(ValueError, match="at least two rows"):
        neighbour_gap(runs[:1])


def test_the_digits_come_in_runs_of_similar_handwriting():
    X_train = load_digits_split()[0]
    ours, random = neighbour_gap(X_train)
    assert ours < random / 3


def test_canonical_split():
    X_train, y_train, X_test, y_test = load_digits_split()
    assert X_train.shape == (1000, 64) and X_test.shape == (500, 64)
    assert y_train.shape == (1000,) and y_test.shape == (500,)
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert list(y_train[:10]) == list(range(10))  # the first ten are one per class
    assert y_test[0] == 1  # image 1000 of the bundled set
    # the constants the package uses instead of literals describe this data
    assert N_PIXELS == X_train.shape[1] == IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    assert N_CLASSES == len(np.unique(y_train))


def test_batch_mean_step_shrinks_with_batch():
    assert batch_mean_step(1e-2, 1000) == pytest.approx(1e-2 / 64000)
    assert batch_mean_step(1e-2, 1) == 1000 * batch_mean_step(1e-2, 1000)


def test_original_closed_form_matches_unrolled():
    X, y, _, _ = load_digits_split()
    a = train_original(X[:50], y[:50], n_iterations=5, inner_steps=20, learning_rate=100.0)
    b = train_original(X[:50], y[:50], n_iterations=5, inner_steps=20, learning_rate=100.0,
                       gradient="unrolled")
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-5)
    np.testing.assert_allclose(a.generator, b.generator, rtol=1e-4, atol=1e-7)


def test_original_stalls_near_chance_loss():
    X, y, X_test, y_test = load_digits_split()
    run = train_original(X, y, n_iterations=300)
    assert run.losses[0] == pytest.approx(np.log(10), abs=1e-3)
    assert np.log(10) - 0.1 < run.losses[-1] < run.losses[0]
    labels, latents = predict_original(run.generator, X_test, run.rng)
    assert np.abs(latents).mean() < 0.1  # the latents stay tiny


def test_original_prediction_depends_on_batch_size():
    X, y, X_test, y_test = load_digits_split()
    run = train_original(X, y, n_iterations=300)
    state = run.rng.get_state()
    accuracies = []
    for batch_size in (None, 1):
        rng = np.random.RandomState()
        rng.set_state(state)
        labels, _ = predict_original(run.generator, X_test, rng, batch_size=batch_size)
        accuracies.append(np.mean(labels == y_test))
    assert abs(accuracies[0] - accuracies[1]) > 0.05


def test_original_rejects_unknown_gradient():
    with pytest.raises(ValueError, match="gradient must be"):
        train_original(np.zeros((2, 64)), [0, 1], gradient="implicit")


def test_original_training_loop_takes_the_original_steps():
    # train_original runs all outer iterations in one graph; the reference here takes
    # them one at a time, eagerly, with explicit inner steps on the batch-mean loss.
    from inverse_lessons import tf

    X, y, _, _ = load_digits_split()
    X, y = X[:30] * 16.0, y[:30]
    run = train_original(X / 16.0, y, n_iterations=3, inner_steps=5, learning_rate=100.0,
                         seed=7, gradient="unrolled")
    rng = np.random.RandomState(7)
    Z0 = np.abs(rng.randn(10, 30)).T / 100.0
    G = tf.Variable(np.abs(rng.randn(64, 10)) / 100.0)
    losses = []
    for _ in range(3):
        with tf.GradientTape() as tape:
            Z = tf.constant(Z0)
            for _ in range(5):   # gradient of mean((X - Z G^T)^2) over all 30 x 64 entries
                Z = Z + 1e-2 * 2.0 * tf.matmul(X - tf.matmul(Z, G, transpose_b=True), G) / X.size
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(tf.one_hot(y, 10), Z))
        G.assign_sub(100.0 * tape.gradient(loss, G))
        losses.append(float(loss))
    np.testing.assert_allclose(run.losses, losses, rtol=1e-5)
    np.testing.assert_allclose(run.generator, G.numpy(), rtol=1e-4, atol=1e-7)


def test_many_original_runs_print_no_retracing_notice(tf_log_messages):
    X, y, _, _ = load_digits_split()
    for seed in range(7):
        train_original(X[:20], y[:20], n_iterations=2, inner_steps=3, seed=seed)
    assert not [m for m in tf_log_messages if "retracing" in m]


def test_seeds_trained_together_are_the_runs_of_each_seed_alone():
    # train_original_seeds stacks the seeds in one compiled loop (one graph call
    # instead of one per seed); each seed's run is still its own: the same draws,
    # the same updates, its own Adam state and its own stop at a loss not finite
    X, y, _, _ = load_digits_split()
    settings = [dict(n_iterations=7, inner_steps=15, learning_rate=100.0),
                dict(n_iterations=6, inner_steps=20, learning_rate=0.01, optimizer="adam",
                     inner_loss="per_image", inner_step_size="auto", init="images",
                     start="zero", pixel_scale=1.0)]
    for options in settings:
        together = train_original_seeds(X[:60], y[:60], [3, 4, 3], **options)
        for seed, run in zip([3, 4, 3], together, strict=True):
            alone = train_original(X[:60], y[:60], seed=seed, **options)
            np.testing.assert_allclose(run.losses, alone.losses, rtol=1e-5)
            np.testing.assert_allclose(run.generator, alone.generator, rtol=1e-4, atol=1e-6)
            assert run.rng.randn() == alone.rng.randn()     # the same draws, in order
            assert run.losses.shape == (options["n_iterations"],)
            assert run.losses.dtype == np.float64
        np.testing.assert_allclose(together[2].generator, together[0].generator, rtol=1e-5,
                                   atol=1e-8)   # the same seed twice, to rounding
        assert not np.array_equal(together[1].generator, together[0].generator)
    # diverging seeds: each one's losses end at its own first loss that is not finite
    options = dict(n_iterations=40, inner_steps=50, inner_loss="per_image")
    runs = train_original_seeds(X[:200], y[:200], [0, 1], **options)
    for seed, run in zip([0, 1], runs, strict=True):
        alone = train_original(X[:200], y[:200], seed=seed, **options)
        assert len(run.losses) == len(alone.losses) < 40
        assert not np.isfinite(run.losses[-1]) and np.isfinite(run.losses[:-1]).all()
    with pytest.raises(ValueError, match="seeds is empty"):
        train_original_seeds(X[:20], y[:20], [])
    with pytest.raises(TypeError, match="seed"):
        train_original_seeds(X[:20], y[:20], [0], seed=1)


def test_original_options_validated():
    X, y, _, _ = load_digits_split()
    for bad in (dict(inner_loss="sum"), dict(optimizer="lbfgs"), dict(init="zeros"),
                dict(start="ones"), dict(inner_step_size=-1.0)):
        name = next(iter(bad))
        with pytest.raises(ValueError, match=name):
            train_original(X[:20], y[:20], n_iterations=1, inner_steps=2, **bad)


def test_original_options_closed_form_matches_unrolled():
    # every option of the repaired model at once, including Adam and the automatic step
    X, y, _, _ = load_digits_split()
    options = dict(n_iterations=5, inner_steps=20, learning_rate=0.01, inner_loss="per_image",
                   inner_step_size="auto", optimizer="adam", init="images", start="zero",
                   pixel_scale=1.0)
    a = train_original(X[:50], y[:50], **options)
    b = train_original(X[:50], y[:50], gradient="unrolled", **options)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-5)
    np.testing.assert_allclose(a.generator, b.generator, rtol=1e-4, atol=1e-6)
    assert a.losses[-1] < a.losses[0]


def test_per_image_prediction_does_not_depend_on_the_batch():
    X, y, X_test, _ = load_digits_split()
    run = train_original(X[:100], y[:100], n_iterations=3, inner_steps=20,
                         inner_loss="per_image", inner_step_size="auto", start="zero")
    options = dict(inner_steps=20, inner_step_size="auto", inner_loss="per_image",
                   start="zero")
    whole = predict_original(run.generator, X_test[:40], np.random.RandomState(0), **options)
    tens = predict_original(run.generator, X_test[:40], np.random.RandomState(1),
                            batch_size=10, **options)
    np.testing.assert_allclose(whole[1], tens[1], rtol=1e-5, atol=1e-7)
    # the batch mean's step 0.01 / (64 n) is the per-image step 0.01 / 64 for one image
    one = predict_original(run.generator, X_test[:1], np.random.RandomState(0),
                           inner_steps=20)
    per = predict_original(run.generator, X_test[:1], np.random.RandomState(0),
                           inner_steps=20, inner_step_size=0.01 / 64, inner_loss="per_image")
    np.testing.assert_allclose(one[1], per[1], rtol=1e-5)


def test_prediction_in_batches_is_each_batch_inverted_alone():
    # predict_original inverts all full batches in one call; the answer must be
    # that of inverting batch after batch, drawing each batch's start in turn
    X, y, X_test, _ = load_digits_split()
    run = train_original(X[:100], y[:100], n_iterations=3, inner_steps=20)
    rng = np.random.RandomState(5)
    in_batches = predict_original(run.generator, X_test[:23], np.random.RandomState(5),
                                  inner_steps=20, batch_size=7)[1]
    one_by_one = np.concatenate([
        predict_original(run.generator, X_test[:23][first:first + 7], rng, inner_steps=20)[1]
        for first in range(0, 23, 7)])
    np.testing.assert_allclose(in_batches, one_by_one, rtol=1e-5, atol=1e-8)
    whole = predict_original(run.generator, X_test[:23], np.random.RandomState(5),
                             inner_steps=20)[1]
    assert not np.allclose(whole, one_by_one, rtol=1e-3)   # the batch size sets the step


def test_original_training_stops_at_the_first_loss_that_is_not_finite():
    # the per-image loss on raw pixels with the original's outer step 100 diverges
    X, y, _, _ = load_digits_split()
    run = train_original(X[:200], y[:200], n_iterations=400, inner_steps=50,
                         inner_loss="per_image")
    assert len(run.losses) < 400
    assert np.isfinite(run.losses[:-1]).all() and not np.isfinite(run.losses[-1])


def _stall_constant(n_steps):
    """c_N = max over 0 < r <= 1 of |1 - (1 - 2r)^N| / sqrt(r) (chapter 4's stall bound)."""
    r = np.geomspace(1e-9, 1, 200_001)
    return float(np.max(np.abs(1 - (1 - 2 * r) ** n_steps) / np.sqrt(r)))


def test_stall_bound_holds_for_every_stable_generator_and_is_tight():
    # ||z_N - M^N z_0|| <= c_N sqrt(eta') ||x|| for N steps of size eta' on ||x - G z||^2,
    # whatever the (stable) G: checked on generators of very different scales and shapes
    from inverse_lessons.inversion.closed_form import closed_form_inversion

    X, _, _, _ = load_digits_split()
    X = 16 * X[:200]                                   # the original's raw pixels
    eta, n_steps = batch_mean_step(0.01, 1000), 250
    c_N = _stall_constant(n_steps)
    assert c_N / np.sqrt(2 * n_steps) == pytest.approx(0.638, abs=2e-3)
    rng = np.random.default_rng(0)
    for scale in (1e-3, 1e-1, 10.0, 100.0, 0.99 / np.sqrt(eta)):
        G = rng.random((N_PIXELS, N_CLASSES))
        G *= scale / np.linalg.norm(G, 2)              # sigma_max(G) = scale, stable
        Z = closed_form_inversion(G, X, n_steps=n_steps, step_size=eta).numpy()
        assert np.all(np.linalg.norm(Z, axis=1)
                      <= c_N * np.sqrt(eta) * np.linalg.norm(X, axis=1) * (1 + 1e-9))
    # tight: orthonormal columns scaled to the peak's sigma, and an image in their span
    r = np.geomspace(1e-9, 1, 200_001)
    r_peak = r[np.argmax(np.abs(1 - (1 - 2 * r) ** n_steps) / np.sqrt(r))]
    Q = np.linalg.qr(rng.standard_normal((N_PIXELS, N_CLASSES)))[0]
    x = Q @ rng.standard_normal(N_CLASSES)
    z = closed_form_inversion(np.sqrt(r_peak / eta) * Q, x[None], n_steps=n_steps,
                              step_size=eta).numpy()[0]
    ratio = np.linalg.norm(z) / (c_N * np.sqrt(eta) * np.linalg.norm(x))
    assert 0.999 < ratio <= 1 + 1e-9                   # so c_N / 2 would be wrong


def test_pixel_scale_is_a_learning_rate_for_adam():
    # With the automatic inner step the codes are unchanged by (x, G) -> (s x, s G), the
    # gradient in G is divided by s, and Adam ignores the gradient's scale: pixels times 16
    # with learning rate 0.01 train as pixels in [0, 1] with learning rate 0.01 / 16
    X, y, _, _ = load_digits_split()
    options = dict(n_iterations=30, inner_steps=50, inner_loss="per_image",
                   inner_step_size="auto", optimizer="adam", init="images", start="zero")
    raw = train_original(X[:200], y[:200], pixel_scale=16.0, learning_rate=0.01, **options)
    unit = train_original(X[:200], y[:200], pixel_scale=1.0, learning_rate=0.01 / 16,
                          **options)
    np.testing.assert_allclose(raw.losses, unit.losses, rtol=1e-3)
    # G / 16 agrees to about 1 % of its largest entry (Adam's epsilon matters only where
    # the gradient is nearly zero: pixels that are blank in every image)
    gap = np.abs(raw.generator / 16 - unit.generator).max()
    assert gap < 0.02 * np.abs(unit.generator).max()
    assert unit.losses[-1] < unit.losses[0] - 0.01      # and it did train
    # the same learning rate on both scales trains differently: the scale matters
    same = train_original(X[:200], y[:200], pixel_scale=1.0, learning_rate=0.01, **options)
    assert abs(same.losses[-1] - raw.losses[-1]) > 0.1
