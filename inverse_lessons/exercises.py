"""Exercises that check themselves: ``check("1.2", answer)`` says whether an answer is right.

Works wherever a notebook runs (JupyterLab, Binder, Colab), with no server: the
reference answers are computed here, by the package's own functions, the first
time they are asked for, never typed in. A right answer (within the stated
tolerance) is confirmed; a wrong one gets a hint that points the way without
giving the answer away. ``exercises()`` lists what can be checked and what to
pass for each.

>>> from inverse_lessons.exercises import check
>>> check("1.2", (5.0, 32))          # doctest: +SKIP
Exercise 1.2: correct.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inverse_lessons.data import N_CLASSES, N_PIXELS

__all__ = ["Check", "Exercise", "check", "exercises"]


@dataclass(frozen=True)
class Exercise:
    """One checkable exercise.

    number : "chapter.exercise", as the book numbers it ("3.2").
    expects : what to pass to :func:`check`, in words (shown in hints and listings).
    reference : computes the right answer with the package (called once, then cached).
        A tuple of numbers, an array, or a callable (then the reader's answer must be a
        callable too, and the two are compared at ``probes``).
    hint : a nudge for a wrong answer that does not give the answer away.
    rtol, atol : the tolerance of the comparison (numpy.allclose). An answer that misses
        it but lies within ``CLOSE`` times of it is told the tolerance used.
    The parts of a tuple answer are named by the parenthesised list that opens
    ``expects`` ("(x_star, k): ..."), so that a hint can say which part is off.
    probes : for a callable answer, the argument tuples it is compared at.
    judge : for an answer that is a procedure rather than a number (a fitted search, say):
        a callable answer -> None if it is right, else what is wrong (a sentence); it
        recomputes with the package what it needs. ``reference`` is then unused.
    """

    number: str
    expects: str
    reference: Callable[[], Any]
    hint: str
    rtol: float = 1e-3
    atol: float = 1e-8
    probes: tuple = field(default=())
    judge: Callable[[Any], str | None] | None = None


class Check:
    """The verdict of :func:`check`: true when the answer is right; shows a sentence."""

    def __init__(self, number, correct, message):
        self.number, self.correct, self.message = number, bool(correct), message

    def __bool__(self):
        """Return whether the answer was right."""
        return self.correct

    def __repr__(self):
        """Return the verdict as a notebook shows it."""
        return f"Exercise {self.number}: {self.message}"

    _repr_pretty_ = lambda self, printer, cycle: printer.text(repr(self))  # noqa: E731


_EXERCISES: dict[str, Exercise] = {}

#: An answer outside the tolerance but within CLOSE times it is "close": check() then says
#: which tolerance it used, so that a reader can tell rounding from a wrong method.
CLOSE = 10.0


def _register(exercise):
    _EXERCISES[exercise.number] = exercise
    return exercise


@functools.cache
def _reference(number):
    return _EXERCISES[number].reference()


def exercises():
    """Return {number: what to pass} for every exercise that can be checked."""
    return {number: e.expects for number, e in sorted(
        _EXERCISES.items(), key=lambda item: tuple(int(p) for p in item[0].split(".")))}


def _as_numbers(value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _tolerance(exercise):
    return f"rtol={exercise.rtol:g}, atol={exercise.atol:g}"


def _close(mine, right, exercise):
    """Elementwise: within the tolerance, and within CLOSE times the tolerance."""
    within = np.isclose(mine, right, rtol=exercise.rtol, atol=exercise.atol)
    near = np.isclose(mine, right, rtol=CLOSE * exercise.rtol, atol=CLOSE * exercise.atol)
    return within, near


def _part_names(exercise, size):
    """Return the names of a tuple answer's parts, from ``expects``; "part 1", ... otherwise."""
    match = re.match(r"\s*\(([^()]*)\)", exercise.expects)
    names = [name.strip() for name in match.group(1).split(",")] if match else []
    if len(names) != size or not all(names):
        names = [f"part {i + 1}" for i in range(size)]
    return names


def _listed(names):
    names = list(names)
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return text + (" is" if len(names) == 1 else " are")


def _diagnosis(exercise, answer, within, near):
    """Say what is wrong, without the answer: which parts, and whether it is close."""
    said = []
    if isinstance(answer, tuple | list) and within.ndim == 1 and within.size > 1:
        names = _part_names(exercise, within.size)
        wrong = [name for name, ok in zip(names, within, strict=True) if not ok]
        right = [name for name, ok in zip(names, within, strict=True) if ok]
        said.append(f"{_listed(wrong)} off" + (f" ({_listed(right)} right)" if right else ""))
    if np.all(near):
        said.append(f"close, but not within the tolerance used ({_tolerance(exercise)})")
    return ": " + "; ".join(said) if said else ""


def check(number, answer):
    """Is ``answer`` right for exercise ``number``? Returns a :class:`Check`.

    number : str such as "3.2" (an int or float such as 3.2 is read the same way).
    answer : what the exercise asks for, in the form ``exercises()[number]`` names.
    Raises ValueError for an exercise that has no check. A wrong answer gets a hint; the
    hint names the wrong parts of a tuple answer, and says the tolerance used when the
    answer is close (within ``CLOSE`` times the tolerance) but not accepted.
    """
    key = str(number)
    if key not in _EXERCISES:
        raise ValueError(f"number must name a checkable exercise, one of "
                         f"{list(exercises())}, got {number!r}")
    exercise = _EXERCISES[key]
    if exercise.judge is not None:
        wrong = exercise.judge(answer)
        if wrong is None:
            return Check(key, True, "correct.")
        return Check(key, False, f"not yet: {wrong} {exercise.hint}")
    reference = _reference(key)
    if callable(reference):
        if not callable(answer):
            return Check(key, False, f"not yet: pass {exercise.expects}.")
        try:
            mine = [np.asarray(answer(*args), dtype=np.float64) for args in exercise.probes]
        except Exception as error:   # the reader's function failed: say how, as a hint
            return Check(key, False, f"not yet: your function raised "
                                     f"{type(error).__name__}: {error}. {exercise.hint}")
        right = [np.asarray(reference(*args), dtype=np.float64) for args in exercise.probes]
        if any(m.shape != r.shape for m, r in zip(mine, right, strict=True)):
            return Check(key, False, f"not yet: your function's results have the wrong "
                                     f"shape. {exercise.hint}")
        within, near = _close(np.concatenate([np.zeros(0)] + [m.ravel() for m in mine]),
                              np.concatenate([np.zeros(0)] + [r.ravel() for r in right]),
                              exercise)
        answer = None                     # a function's results have no named parts
    else:
        mine, right = _as_numbers(answer), np.asarray(reference, dtype=np.float64)
        if mine is None or mine.shape != right.shape:
            shape = "one number" if right.ndim == 0 else f"{right.size} numbers"
            return Check(key, False, f"not yet: pass {exercise.expects} ({shape}).")
        within, near = _close(mine, right, exercise)
    if np.all(within):
        return Check(key, True, "correct.")
    return Check(key, False, f"not yet{_diagnosis(exercise, answer, within, near)}. "
                             f"{exercise.hint}")


# --------------------------------------------------------------------------- chapter 1

def _toy_steps_needed():
    from inverse_lessons.inversion.forward_models import toy_forward
    from inverse_lessons.inversion.solver import invert

    target = (6.0 + 4.0) / 2.0
    path = invert(toy_forward, 6.0, -3.0, step_size=0.05, n_steps=100, record=True).path
    k = int(np.flatnonzero(np.abs(np.asarray(path, dtype=np.float64) - target) < 1e-6)[0])
    return (target, k)


_register(Exercise(
    "1.1", "a function eta_max(c): the bound below which steps are stable, f(x) = c x + d",
    lambda: (lambda c: 1.0 / c**2), probes=((0.5,), (2.0,), (3.0,)),
    hint="Write L'(x) as (curvature) * (x - x*) and ask when |1 - eta * curvature| < 1."))
_register(Exercise(
    "1.2", "(x_star, k): the answer for y = 6 and the fewest steps within 1e-6 of it",
    _toy_steps_needed, rtol=0, atol=1e-9,
    hint="Solve 2x - 4 = 6 for x*, and count steps until the error 8 * 0.6**k is below "
         "1e-6 (or run invert for increasing n_steps)."))


# --------------------------------------------------------------------------- chapter 2

def _line_exact_fit_start_1():
    from inverse_lessons.models.line_model import exact_fit

    return exact_fit(n_steps=20, step_size=0.05, start=1.0)


def _line_flat_root():
    from inverse_lessons.models.line_model import exact_fit_slopes

    return exact_fit_slopes(n_steps=10, step_size=0.05)[0]


_register(Exercise(
    "2.1", "a_max: the bound on |a| below which the limit of h exists, with eta = 0.05",
    lambda: 1.0 / np.sqrt(0.05),
    hint="The limit exists when |r| < 1 with r = 1 - 2 eta a^2; solve for |a|."))
_register(Exercise(
    "2.2", "(a, b): where training ends with the inner solver started at y_0 = 1",
    _line_exact_fit_start_1, rtol=1e-6, atol=1e-8,
    hint="Run train(x, y, start=1.0, ...) long enough, or solve exact_fit(start=1.0, ...); "
         "only one of the two parameters moves."))
_register(Exercise(
    "2.3", "a: the slope where training with 10 unrolled steps from (a, b) = (1, 0) ends",
    _line_flat_root, rtol=1e-6,
    hint="Train with n_steps=10 from a0=1.0, b0=0.0, and read run.a; it is a root of "
         "a = 2 (1 - (1 - 2 eta a^2)^10)."))


# --------------------------------------------------------------------------- chapter 3

def _template_generator():
    from inverse_lessons.data import load_digits_split

    X_train, y_train, _, _ = load_digits_split()
    return np.stack([X_train[np.flatnonzero(y_train == c)[0]] for c in range(N_CLASSES)], axis=1)


def _class_mean_accuracies():
    from inverse_lessons.data import load_digits_split
    from inverse_lessons.inversion.closed_form import closed_form_inversion
    from inverse_lessons.inversion.linear import least_squares_inversion

    X_train, y_train, X_test, y_test = load_digits_split()
    G = np.stack([X_train[y_train == c].mean(axis=0) for c in range(N_CLASSES)], axis=1)
    gd = closed_form_inversion(G, X_test, n_steps=100, step_size=2e-3).numpy()
    ls = least_squares_inversion(G, X_test).numpy()
    return (float(np.mean(gd.argmax(1) == y_test)), float(np.mean(ls.argmax(1) == y_test)))


# The number of steps chapter 3 chooses on its validation images (the notebook's sweep).
_CHAPTER3_STEPS = 18


def _half_fitted_directions():
    G = _template_generator()
    s2 = np.linalg.eigvalsh(G.T @ G)
    return int(np.sum(1 - (1 - 2 * 0.002 * s2) ** _CHAPTER3_STEPS < 0.5))


_register(Exercise(
    "3.1", "a function first_step(G, x, eta): z_1 after one step from z = 0",
    lambda: (lambda G, x, eta: 2 * eta * np.asarray(G).T @ np.asarray(x)),
    probes=tuple((np.random.default_rng(s).random((N_PIXELS, N_CLASSES)),
                  np.random.default_rng(s + 9).random(N_PIXELS), 0.01) for s in range(3)),
    rtol=1e-9, hint="Differentiate ||x - G z||^2 with respect to z, evaluate at z = 0, "
                    "and take one step of size eta against it."))
_register(Exercise(
    "3.2", "(accuracy after 100 steps, accuracy of least squares) with class-mean templates",
    _class_mean_accuracies, rtol=0, atol=2e-3,
    hint="Stack X_train[y_train == c].mean(axis=0) for c = 0..9 as the columns of G, "
         "keep eta = 0.002, and score argmax z against y_test for both inversions."))
_register(Exercise(
    "3.3", f"the number of directions less than half fitted after the N = {_CHAPTER3_STEPS} "
           "steps chosen on the validation images, with eta = 0.002",
    _half_fitted_directions, rtol=0, atol=0,
    hint="Take the eigenvalues of G^T G for the chapter's template generator and count the "
         "filter factors 1 - (1 - 2 eta sigma^2)^N below one half, N the chosen steps."))


# --------------------------------------------------------------------------- chapter 4

def _halfway_sigma():
    """Return the sigma_max(G) at which the original's inner steps remove half the error.

    250 steps of the original's batch-mean inner loss (step 0.01, 1000 images) remove
    half the error in the stiffest direction at the smallest sigma_max(G) returned.
    """
    from inverse_lessons.models.original import batch_mean_step

    eta_image = batch_mean_step(0.01, 1000)
    return float(np.sqrt((1 - 0.5 ** (1 / 250)) / (2 * eta_image)))


@functools.cache
def _initial_generator():
    """Return G_0 (64, 10) of InverseNet(random_state=0) on the book's training split.

    It is drawn from the training images, so it tells which images a model was fitted
    on; one outer iteration suffices to read it.
    """
    from inverse_lessons.data import load_digits_split
    from inverse_lessons.models.inverse_net import InverseNet

    X_train, y_train, _, _ = load_digits_split()
    return InverseNet(random_state=0, max_iter=1).fit(X_train, y_train).initial_generator_


def _fixed_step_bound():
    """Return 1 / sigma_max(G_0)^2 for InverseNet(random_state=0)'s starting generator.

    On the book's training split, fixed inner steps at or above it are refused, those
    just under it train.
    """
    return float(1.0 / np.linalg.norm(_initial_generator(), 2) ** 2)


def _fixed_step_judge(answer):
    """Judge exercise 4.2: None if ``answer`` is right, else what is wrong.

    Right is a step that ``fit`` accepts (below the bound 1 / sigma_max(G_0)^2) and within
    3 % of that bound. One-sided: a step at or above the bound is refused by ``fit``, so it
    is never the answer.
    """
    step = _as_numbers(answer)
    if step is None or step.shape != ():
        return "pass the step size, one number."
    bound = _fixed_step_bound()
    if not step < bound:
        return "fit refuses that step: the inner loop would diverge."
    if step < 0.97 * bound:
        return "a larger fixed step still trains."
    return None


@functools.cache
def _chapter_search_gaps():
    """Return exercise 4.3's two gaps in cross-validated score.

    From the search of chapter 4's third page (GridSearchCV of InverseNet(random_state=0)
    over inner_steps 10 and 1000 and alpha 1e-4 and 1e-3, three folds of the book's
    training split): the score of alpha 1e-3 minus that of alpha 1e-4 at 1000 steps, and of
    1000 minus 10 steps at alpha 1e-3.
    """
    from sklearn.model_selection import GridSearchCV

    from inverse_lessons.data import load_digits_split
    from inverse_lessons.models.inverse_net import InverseNet

    X_train, y_train, _, _ = load_digits_split()
    search = GridSearchCV(InverseNet(random_state=0),
                          {"inner_steps": [10, 1000], "alpha": [1e-4, 1e-3]},
                          cv=3).fit(X_train, y_train)
    results = search.cv_results_
    score = {(int(p["inner_steps"]), float(p["alpha"])): float(m) for p, m in
             zip(results["params"], results["mean_test_score"], strict=True)}
    return (score[1000, 1e-3] - score[1000, 1e-4], score[1000, 1e-3] - score[10, 1e-3])


_register(Exercise(
    "4.1", "sigma_min: the smallest sigma_max(G) for which the original's inner loop (step 0.01 "
           "on the batch mean over 1000 images, 250 steps) gets halfway in the stiffest direction",
    _halfway_sigma, rtol=1e-3,
    hint="Turn the batch step into the step on one image's own loss (divide by 64 n), write the "
         "stiffest direction's factor per step as 1 - 2 eta' sigma^2, and ask when its 250th "
         "power is one half."))
_register(Exercise(
    "4.2", "step: the largest fixed inner_step_size with which InverseNet(random_state=0) "
           "trains on the training split (below the bound fit enforces, within 3 % of it)",
    _fixed_step_bound, judge=_fixed_step_judge,
    hint="Read the bound in the ValueError that fit raises for a step that is too large, or "
         "compute it from initial_generator_; then try steps just under it."))
_register(Exercise(
    "4.3", "(gap_alpha, gap_steps): in the search of the chapter's third page, the "
           "cross-validated score of alpha 1e-3 minus that of alpha 1e-4, both at 1000 inner "
           "steps, and the score of 1000 minus that of 10 inner steps, both at alpha 1e-3",
    _chapter_search_gaps, rtol=0, atol=4e-3,   # a fold's image is 0.003, its mean 0.001
    hint="search.cv_results_['params'] lists the four settings in the order of "
         "search.cv_results_['mean_test_score']; subtract the two scores each part names, "
         "in the order it names them."))


# --------------------------------------------------------------------------- chapter 5

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


_register(Exercise(
    "5.1", "a function dl_dG(G, x, g): the implicit gradient for G (m, k), x (m,) and "
           "g = dl/dz* (k,), with z* the least-squares code",
    lambda: _implicit_gradient, probes=tuple(_random_problem(s) for s in range(3)),
    rtol=1e-6, atol=1e-9,
    hint="Solve G^T G v = g, compute z* from the normal equations, and combine the residual "
         "x - G z* and G v with outer products; compare with automatic differentiation "
         "through tf.linalg.solve on a small random problem."))
_register(Exercise(
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


_register(Exercise(
    "5.3", "(final_full, final_truncated): the last training loss of seed 0 with the full "
           "gradient and with the last 10 steps only, from train_through_inversion on the "
           "first 500 training images, N = 300, 50 iterations",
    _truncated_training, rtol=1e-3, atol=0,
    hint="Train twice with the same data, seed and settings (inner_steps=300, n_iter=50), "
         "once with backprop_steps=None and once with backprop_steps=10, and pass the last "
         "entry of each curve, full gradient first."))


# --------------------------------------------------------------------------- chapter 6

def _masked_curvature(G, d):
    """Return the Hessian of ||D (x - G z)||^2 in z, by automatic differentiation: (k, k)."""
    from inverse_lessons._tf import tf

    G = tf.constant(np.asarray(G, dtype=np.float64))
    d = tf.constant(np.asarray(d, dtype=np.float64))
    x = tf.ones(G.shape[0], tf.float64)
    z = tf.Variable(tf.zeros(G.shape[1], tf.float64))
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            loss = tf.reduce_sum((d * (x - tf.linalg.matvec(G, z))) ** 2)
        gradient = inner.gradient(loss, z)
    return outer.jacobian(gradient, z, experimental_use_pfor=False).numpy()


def _knn_on_damaged_copies():
    from sklearn.neighbors import KNeighborsClassifier

    from inverse_lessons.damage import drop_pixels, fill_missing, with_damaged_copies
    from inverse_lessons.data import load_digits_split
    from inverse_lessons.models.baselines import baseline_models
    from inverse_lessons.threads import one_blas_thread

    X_train, y_train, X_test, y_test = load_digits_split()
    mean_pixel = X_train.mean(axis=0)
    X_mixed, y_mixed = with_damaged_copies(X_train, y_train,
                                           fractions=(0.0, 0.25, 0.5, 0.5, 0.75))
    with one_blas_thread():
        k = baseline_models()["k-NN (tuned k)"].fit(X_train, y_train).best_params_["n_neighbors"]
        knn = KNeighborsClassifier(n_neighbors=k).fit(fill_missing(X_mixed, mean_pixel), y_mixed)
        return float(np.mean([knn.score(fill_missing(drop_pixels(X_test, 0.5, seed=s),
                                                     mean_pixel), y_test)
                              for s in range(5)]))


def _generator_and_mask(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N_PIXELS, 5)), (rng.random(N_PIXELS) < 0.5).astype(float)


_register(Exercise(
    "6.1", "a function curvature(G, d): the Hessian in z of ||D (x - G z)||^2 for G (64, k) "
           "and the mask's diagonal d (64,) of 0s and 1s",
    lambda: _masked_curvature, probes=tuple(_generator_and_mask(s) for s in range(3)),
    rtol=1e-9, atol=1e-9,
    hint="Differentiate the gradient -2 G^T D^T D (x - G z) once more in z, and use that a "
         "diagonal matrix of 0s and 1s satisfies D^T D = D."))
_register(Exercise(
    "6.3", "the mean accuracy over the five half-missing test sets (seeds 0-4) of k-NN "
           "trained on the mean-filled damaged copies, with the cross-validated k",
    _knn_on_damaged_copies, rtol=0, atol=1e-3,
    hint="Fit KNeighborsClassifier(n_neighbors=k) on fill_missing(X_mixed, mean_pixel) and "
         "score it on each mean-filled damaged[\"50% missing\"] set; average the five."))


# --------------------------------------------------------------------------- chapter 7

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


_register(Exercise(
    "7.1", "a function z_star(x, w): where L(z) = (x - sigmoid(w z))^2 has its minimum, "
           "for 0 < x < 1 and w > 0",
    lambda: (lambda x, w: np.log(x / (1 - x)) / w),
    probes=((0.3, 2.0), (0.8, 0.5), (0.05, 3.0)), rtol=1e-9, atol=1e-12,
    hint="L'(z) vanishes only where sigmoid(w z) = x; solve that for z."))
_register(Exercise(
    "7.2", "a function gain(m, X, y, n_steps): the accuracy of m's head on the codes after "
           "n_steps inversion steps from the encoder's guess, minus its accuracy on the "
           "guess alone",
    # one test image of the 200 probed may flip between float32 and float64 arithmetic
    lambda: _refinement_gain, probes=_LazyProbes(_small_encoder_model), rtol=0, atol=0.006,
    hint="The encoder's guess is m.invert(X, n_steps=0); m.invert(X, n_steps=n) takes n of "
         "the model's own steps from it; m.classify_codes(Z) gives the head's labels. Score "
         "both codes and subtract."))
_register(Exercise(
    "7.3", "a function masked_inversion(decoder, X, mask, Z, n_steps, step_size): n_steps "
           "gradient steps on ||mask (X - decoder(Z))||^2 from Z, for a 0/1 float mask",
    lambda: _masked_decoder_inversion, probes=_LazyProbes(_small_decoders),
    rtol=1e-4, atol=1e-5,
    hint="Inside tf.GradientTape, watch Z, sum the squared masked residual over every "
         "image and pixel, and step against its gradient; the mask multiplies the "
         "residual before it is squared."))


# --------------------------------------------------------------------------- chapter 8

def _single_generator_choice():
    from sklearn.model_selection import GridSearchCV

    from inverse_lessons.data import load_digits_split
    from inverse_lessons.models.analysis_by_synthesis import AnalysisBySynthesis

    X_train, y_train, X_test, y_test = load_digits_split()
    search = GridSearchCV(AnalysisBySynthesis(n_components=1),
                          {"n_latent": [4, 8, 12, 16, 24, 32]}, cv=5).fit(X_train, y_train)
    return (search.best_params_["n_latent"],
            float(search.best_estimator_.score(X_test, y_test)))


def _gaussian_noise_accuracies():
    from inverse_lessons.damage import add_noise
    from inverse_lessons.data import load_digits_split
    from inverse_lessons.models.analysis_by_synthesis import AnalysisBySynthesis

    X_train, y_train, X_test, y_test = load_digits_split()
    scores = []
    for seed in range(5):
        model = AnalysisBySynthesis(noise_std=0.3, pixel_range=None, random_state=seed)
        model.fit(X_train, y_train)
        scores.append(float(model.score(add_noise(X_test, 0.3, seed=seed), y_test)))
    return tuple(scores)


def _ill_posed_problem(seed, rows):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 5)), rng.standard_normal(rows)


_register(Exercise(
    "8.1", "a function z_limit(G_O, r_O): the limit of z_y as s_y^2 -> 0, for any G_O "
           "(|O| x k, also with fewer observed pixels than latents) and r_O (|O|,)",
    lambda: (lambda G, r: np.linalg.pinv(G) @ r),
    probes=tuple(_ill_posed_problem(s, rows) for s, rows in ((0, 30), (1, 3), (2, 5))),
    rtol=1e-5, atol=1e-8,
    hint="With full column rank the limit solves the normal equations; with fewer rows "
         "than columns ask which of the many least-squares solutions the prior favours."))
_register(Exercise(
    "8.2", "(k, accuracy): the cross-validated n_latent of one generator per class (over "
           "the stub's grid) and that model's accuracy on the clean test split",
    _single_generator_choice, rtol=0, atol=1e-6,
    hint="Search the stub's grid of n_latent with GridSearchCV(AnalysisBySynthesis("
         "n_components=1), ..., cv=5) on the training split only; then score "
         "best_estimator_ on the test split."))
_register(Exercise(
    "8.3", "(seed 0, seed 1, seed 2, seed 3, seed 4): the test accuracies of the Gaussian "
           "noise model (noise_std=0.3, pixel_range=None, random_state=seed) on the noisy "
           "test images of each seed",
    _gaussian_noise_accuracies, rtol=0, atol=2.5e-3,      # one test image is 0.002
    hint="For each seed draw add_noise(X_test, 0.3, seed=seed), fit "
         "AnalysisBySynthesis(noise_std=0.3, pixel_range=None, random_state=seed) on the "
         "training split and score it on those images; pass the five scores in seed order."))
