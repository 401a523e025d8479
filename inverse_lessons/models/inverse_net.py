"""InverseNet: a classifier that predicts by inverting a learned generator (chapter 4).

The model has a linear generator G (m pixels x k latents) and a classifier
head F on the latent code. To classify an image x it *inverts* G,

    z*(x) = N gradient steps on ||x - G z||^2 from z = 0   (missing pixels left out)
    logits = F(z*) = z* W + c        (head="linear")   or   z*   (head="identity"),

and it learns G, W and c by minimising the cross-entropy of those logits,
differentiating through the inner solver: a bilevel problem. Because the
inner loss is per image (a sum over that image's pixels, not a mean over the
batch), the prediction for an image never depends on which other images are
inverted with it.

The gradient through the inner solver is computed either by automatic
differentiation through the N explicit steps (``gradient="unrolled"``, the
teaching reference) or through their exact closed form
(``gradient="closed_form"``, the default: the same function, built by
repeated squaring in about 2 log2(N) small matrix products).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from inverse_lessons._tf import quiet_retracing, tf, to_dtype
from inverse_lessons._validation import Boolean, Integer, Options, Real, check_params
from inverse_lessons.inversion.closed_form import (
    closed_form_inversion,
    geometric_sum,
    iteration_matrix,
)
from inverse_lessons.inversion.linear import (
    generator_step_size_bound,
    observed_mask,
    unrolled_inversion,
)
from inverse_lessons.models.base import SoftmaxPredictions, encode_labels
from inverse_lessons.models.training import (
    TrainingLoop,
    optimiser_state,
    optimiser_update,
    training_diverged,
    training_loop,
)

__all__ = ["InverseNet"]

_CONSTRAINTS = {
    "n_latent": [Integer(1)],
    "inner_steps": [Integer(1)],
    "inner_step_size": [Options("auto"), Real(0, closed="neither")],
    "head": [Options("linear", "identity")],
    "alpha": [Real(0)],
    "optimizer": [Options("adam", "sgd")],
    "learning_rate": [Real(0, closed="neither")],
    "max_iter": [Integer(1)],
    "gradient": [Options("closed_form", "unrolled")],
    "reconstruction_weight": [Real(0)],
    "batch_size": [None, Integer(1)],
    "step_gradient": [Boolean()],
    "normalize_generator": [Boolean()],
    "progress": [Boolean()],
}
_DTYPE = tf.float32


def _zeroed_and_mask(X, dtype):
    """Return X (NaN = missing) with missing pixels zeroed, and its mask or None.

    None when no pixel is missing: the cheaper unmasked inversion.
    """
    X_zeroed, mask = observed_mask(tf.constant(X, dtype))
    return X_zeroed, (mask if np.isnan(X).any() else None)


class InverseNet(SoftmaxPredictions, ClassifierMixin, BaseEstimator):
    """Classify by inverting a learned linear generator.

    Parameters
    ----------
    n_latent : int, default=30
        k, the number of latent factors (columns of the generator). With
        ``head="identity"`` it must equal the number of classes.
    inner_steps : int, default=1000
        N, the gradient-descent steps of the inner inversion.
    inner_step_size : "auto" or float, default="auto"
        Step size of the inner inversion on each image's sum of squared
        errors. "auto" sets it to 0.5 / sigma_max(G)^2 at every outer
        iteration, which keeps the inner loop stable while G changes. A
        number must stay below 1 / sigma_max(G)^2 or the inner loop diverges
        (checked at the start and watched during training).
    head : {"linear", "identity"}, default="linear"
        The classifier F on z*: a learned affine map to the class logits, or
        z* itself (one latent per class, as in the original series).
    alpha : float, default=3e-4
        L2 penalty on the head's weights W (ignored by the identity head).
    optimizer : {"adam", "sgd"}, default="adam"
        The outer optimiser.
    learning_rate : float, default=0.01
        Its learning rate.
    max_iter : int, default=1000
        Outer iterations (optimiser updates).
    gradient : {"closed_form", "unrolled"}, default="closed_form"
        How the gradient through the inner solver is computed (see module
        docstring). Both give the same function and the same gradient.
    reconstruction_weight : float, default=0.0
        Weight of a reconstruction term in the outer loss: the mean squared
        error per observed pixel between each training image and G z*. With
        0 the generator only has to serve classification; with more it must
        also draw the images, which helps when pixels are missing.
    batch_size : int or None, default=None
        Images per outer iteration: None uses the whole training set every
        time; an integer draws a fresh random mini-batch of that size. The
        inner loss is per image, so mini-batches change nothing else.
    step_gradient : bool, default=False
        Whether the outer gradient flows through the automatic inner step
        size eta(G) = 0.5 / sigma_max(G)^2 (only with ``inner_step_size=
        "auto"``). By default eta is treated as a constant at every outer
        iteration (a stop-gradient), so the gradient is that of the N steps
        with eta held fixed, not of the whole map G -> z*(G) that predicts.
        True differentiates eta(G) as well (through the largest eigenvalue
        of G^T G), which gives the gradient of the function being trained.
        Chapter 4 compares the two.
    normalize_generator : bool, default=False
        Whether G is rescaled to sigma_max(G) = 1 at the start and after every
        optimiser step. With the automatic step size the model is unchanged
        by G -> G / s, W -> W / s (the codes scale by s, the logits do not)
        while the penalty alpha ||W||^2 falls by s^2, so without this the
        objective has no minimiser (its infimum lies at G -> 0). Fixing the
        scale removes that symmetry: eta = 0.5 at every iteration, and alpha
        is measured against codes of a fixed scale.
    random_state : int, RandomState or None, default=None
        Seeds the initial generator and head (and the mini-batches).
    progress : bool, default=False
        Show a tqdm progress bar during fit.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    generator_ : ndarray (n_features, n_latent), the learned G.
    initial_generator_ : ndarray (n_features, n_latent), the G training
        started from (randomly chosen training images, slightly perturbed).
    coef_, intercept_ : ndarray (n_latent, n_classes), (n_classes,), the head
        (identity and zeros for ``head="identity"``). In the book's column
        notation the logits are W z* + c, so ``coef_`` is W transposed (one
        image per row in the code: logits = Z @ coef_ + intercept_).
    inner_step_size_ : float, the inner step size used for prediction.
    loss_curve_ : list of float, the training objective at each iteration.
    n_iter_ : int
    n_features_in_ : int

    Missing pixels, given as NaN, are left out of the inner loss of their
    image: the generator fills them in.
    """

    def __init__(self, n_latent=30, inner_steps=1000, inner_step_size="auto", head="linear",
                 alpha=3e-4, optimizer="adam", learning_rate=0.01, max_iter=1000,
                 gradient="closed_form", reconstruction_weight=0.0, batch_size=None,
                 random_state=None, progress=False, step_gradient=False,
                 normalize_generator=False):
        self.n_latent = n_latent
        self.inner_steps = inner_steps
        self.inner_step_size = inner_step_size
        self.head = head
        self.alpha = alpha
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.gradient = gradient
        self.reconstruction_weight = reconstruction_weight
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress
        self.step_gradient = step_gradient
        self.normalize_generator = normalize_generator

    def __sklearn_tags__(self):
        """Declare that NaN (a missing pixel) is allowed in X."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- validation ---------------------------------------------------------------
    def _check_params(self):
        check_params(self, _CONSTRAINTS)
        if self.step_gradient and self.inner_step_size != "auto":
            raise ValueError(
                "step_gradient=True needs inner_step_size='auto': a fixed step size does not "
                "depend on G, so there is no gradient through it")

    def _check_inner_stable(self, G):
        if self.inner_step_size == "auto":
            return
        bound = float(generator_step_size_bound(G))
        if self.inner_step_size >= bound:
            raise ValueError(
                f"inner_step_size={self.inner_step_size:g} would make the inner loop diverge: "
                f"it must be below 1/sigma_max(G)^2 = {bound:.4g} for this generator "
                "(or use inner_step_size='auto')"
            )

    # -- fitting --------------------------------------------------------------------
    def fit(self, X, y):
        """Learn the generator and the head.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Training images; NaN marks a missing pixel.
        y : array-like of shape (n,)
            Their labels.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For a bad setting or bad data, named in the message, or a fixed
            inner step size beyond the generator's stable bound.
        DivergenceError
            If the training loss stops being finite.
        """
        self._check_params()
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64,
                             ensure_min_samples=2)
        codes = encode_labels(self, y)
        self._check_head(len(self.classes_))
        rng = check_random_state(self.random_state)
        G0, W0, c0 = _initial_parameters(self, X, len(self.classes_), rng)
        if self.normalize_generator:
            G0 = G0 / np.float32(np.linalg.norm(G0.astype(np.float64), 2))
        self._check_inner_stable(tf.constant(G0))
        self.initial_generator_ = G0.copy()
        params = [tf.constant(v) for v in ((G0, W0, c0) if self.head == "linear" else (G0,))]
        with quiet_retracing():
            params = self._train(params, X, codes, rng)
        G = params[0]
        self.generator_ = G.numpy().copy()
        if self.head == "linear":
            self.coef_, self.intercept_ = params[1].numpy().copy(), params[2].numpy().copy()
        else:
            self.coef_, self.intercept_ = W0, c0
        self.inner_step_size_ = float(_inner_step(self, G))
        return self

    def _training_loop(self, n_classes):
        """Return the :class:`TrainingLoop` of this model's settings, made on first use.

        Everything the step reads from the settings while it is traced is in
        the key, so fits that differ only in ``random_state``, ``max_iter``,
        ``batch_size``, ``progress`` or ``learning_rate`` (part of the
        optimiser's state) share one.
        """
        params = self.get_params()
        for name in ("random_state", "max_iter", "progress", "batch_size", "learning_rate"):
            params.pop(name)
        key = (type(self), tuple(sorted(params.items())), n_classes)
        return training_loop(key, lambda: TrainingLoop(
            _training_step(type(self)(**params), n_classes), _DTYPE, n_records=3))

    def _check_head(self, n_classes):
        if self.head == "identity" and self.n_latent != n_classes:
            raise ValueError(
                f"head='identity' uses one latent per class: n_latent must be {n_classes}, "
                f"got {self.n_latent}"
            )

    def _train(self, params, X, codes, rng):
        """Run the outer iterations from ``params``; return the trained parameters.

        Each iteration trains on the whole set or on a fresh random mini-batch
        drawn from ``rng`` (in the order the iterations use them). Sets
        ``loss_curve_`` and ``n_iter_``; raises :class:`DivergenceError` at the
        first iteration whose loss is not finite.
        """
        n = len(X)
        X_zeroed, mask = _zeroed_and_mask(X, _DTYPE)
        batch = None if self.batch_size is None or self.batch_size >= n else self.batch_size

        def rows(start, count):
            return (np.stack([rng.choice(n, size=batch, replace=False)
                              for _ in range(count)]),)

        # with missing pixels the per-image matrices are faster for a known number of
        # images, so the loop is traced for the training set's size (full batches)
        _, params, _ = self._training_loop(len(self.classes_)).run(
            self, params, optimiser_state(params, self.learning_rate),
            (X_zeroed, mask, tf.constant(codes, tf.int32)), n_steps=self.max_iter,
            per_step=None if batch is None else rows, diverged=_diverged,
            fixed_size=mask is not None and batch is None)
        self.n_iter_ = self.max_iter
        return params

    # -- prediction -------------------------------------------------------------------
    def _validated(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, ensure_all_finite="allow-nan",
                             dtype=np.float64)

    def invert(self, X):
        """Invert the generator on images: their latent codes z*.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Images; NaN marks a missing pixel.

        Returns
        -------
        ndarray of shape (n, n_latent)
            Computed in float64, so that an image's code does not depend on
            the other images inverted with it.
        """
        X = self._validated(X)
        # Prediction runs in float64, so that an image's code does not depend (even
        # in the last float32 digit) on how many images are inverted together.
        G = tf.constant(self.generator_, tf.float64)
        self._check_inner_stable(G)
        X_zeroed, mask = _zeroed_and_mask(X, tf.float64)
        return closed_form_inversion(G, X_zeroed, n_steps=self.inner_steps,
                                     step_size=self.inner_step_size_, mask=mask).numpy()

    def reconstruct(self, X):
        """Draw each image as the generator sees it, G z*, missing pixels filled.

        Parameters
        ----------
        X : array-like of shape (n, m)
            Images; NaN marks a missing pixel.

        Returns
        -------
        ndarray of shape (n, m)
        """
        return self.invert(X) @ self.generator_.T

    def _logits(self, X):
        return self.invert(X) @ self.coef_ + self.intercept_


# -- the objective: functions of the settings held by ``model`` -------------------------

def _inner_step(model, G, bound=None):
    """Return the inner step size for generator G (a tensor).

    With "auto" it is 0.5 / sigma_max(G)^2, a stop-gradient unless
    ``step_gradient`` is True; a fixed number does not depend on G.
    ``bound``: ``generator_step_size_bound(G)`` if already computed (the
    same number, not computed twice).
    """
    if model.inner_step_size == "auto":
        if model.step_gradient:   # eta(G) differentiated: d lambda_max = 2 v^T G^T dG v
            largest = tf.linalg.eigh(tf.matmul(G, G, transpose_a=True))[0][-1]
            return 0.5 / largest
        return 0.5 * (generator_step_size_bound(G) if bound is None else bound)
    return tf.constant(model.inner_step_size, G.dtype)


def _latents(model, G, X, mask, step):
    solve = closed_form_inversion if model.gradient == "closed_form" else unrolled_inversion
    return solve(G, X, n_steps=model.inner_steps, step_size=step, mask=mask)


def _initial_parameters(model, X, n_classes, rng):
    """Return the starting G (m, k), W (k, C) and c (C,), float32 (identity head: W = I, c = 0).

    G starts from randomly chosen training images (missing pixels replaced by
    the pixel mean), slightly perturbed: sensible shapes and scale.
    """
    n, m = X.shape
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0, keepdims=True), X)
    filled = np.nan_to_num(filled)
    picks = rng.choice(n, size=model.n_latent, replace=model.n_latent > n)
    scale = max(float(np.abs(filled).mean()), 1e-3)
    G0 = filled[picks].T + 0.1 * scale * rng.standard_normal((m, model.n_latent))
    if model.head == "linear":
        W0 = 0.01 * rng.standard_normal((model.n_latent, n_classes))
    else:
        W0 = np.eye(n_classes)
    return (np.asarray(G0, np.float32), np.asarray(W0, np.float32),
            np.zeros(n_classes, np.float32))


def _pixel_weights(model, G, W, step):
    """Return V (m, C) with logits = X V + c: the closed form's z* = 2 eta X G S_N, then W.

    Without missing pixels z* is linear in x, so the whole map from pixels to
    logits is one (m, C) matrix, V = 2 eta G S_N W (:func:`iteration_matrix`,
    :func:`geometric_sum`). Multiplying the images by V needs C columns
    instead of the codes' k (and so does the gradient).
    """
    step = to_dtype(step, G.dtype)
    S, _ = geometric_sum(iteration_matrix(G, step), model.inner_steps)
    return 2.0 * step * tf.matmul(G, tf.matmul(S, W))


def _outer_loss(model, G, W, c, X, mask, labels, step):
    """Return the objective the outer optimiser minimises.

    The cross-entropy of the logits of z*(X), the head's penalty and the
    reconstruction term.
    """
    weight = float(model.reconstruction_weight)
    if mask is None and not weight and model.gradient == "closed_form":
        # the same logits as below (up to float rounding), without the codes
        logits = tf.matmul(X, _pixel_weights(model, G, W, step)) + c
    else:
        Z = _latents(model, G, X, mask, step)
        logits = tf.matmul(Z, W) + c
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    penalty = model.alpha if model.head == "linear" else 0.0
    loss = loss + penalty * tf.reduce_sum(tf.square(W))
    if weight:
        residual = X - tf.matmul(Z, G, transpose_b=True)
        if mask is None:
            observed = tf.cast(tf.size(X), _DTYPE)
        else:
            residual = residual * mask
            observed = tf.reduce_sum(mask)
        loss = loss + weight * tf.reduce_sum(tf.square(residual)) / observed
    return loss


def _diverged(i, loss, step, bound):
    cause = (f"the inner step size {step:.4g} is beyond the stable bound "
             f"1/sigma_max(G)^2 = {bound:.4g} of the generator"
             if step >= bound else "the outer learning rate is too large")
    return training_diverged(
        i, loss, f"{cause}. Use inner_step_size='auto' or a smaller learning_rate",
        step_size=step, step_size_bound=bound)


def _training_step(model, n_classes):
    """Make the pure outer step of an InverseNet configuration, for :class:`TrainingLoop`.

    ``model`` holds the settings the step reads while it is traced. The step
    takes the parameters [G, W, c] (linear head) or [G] (identity head), the
    optimiser state and a batch (images, mask or None, labels[, rows]), and
    records (loss, inner step size, its stable bound).
    """
    W_identity = tf.eye(n_classes, dtype=_DTYPE)
    c_zero = tf.zeros(n_classes, _DTYPE)

    def step(params, state, batch):
        X, mask, labels, *rows = batch
        if rows:
            X, labels = tf.gather(X, rows[0]), tf.gather(labels, rows[0])
            mask = None if mask is None else tf.gather(mask, rows[0])
        bound = generator_step_size_bound(params[0])   # the inner loop's stability limit
        with tf.GradientTape() as tape:
            tape.watch(params)
            G, W, c = params if len(params) == 3 else (params[0], W_identity, c_zero)
            eta = _inner_step(model, G, bound)
            loss = _outer_loss(model, G, W, c, X, mask, labels, eta)
        params, state = optimiser_update(params, tape.gradient(loss, params), state,
                                         model.optimizer)
        if model.normalize_generator:   # back to sigma_max(G) = 1
            params[0] = params[0] * tf.sqrt(generator_step_size_bound(params[0]))
        return (loss, tf.stop_gradient(eta), bound), params, state

    return step
