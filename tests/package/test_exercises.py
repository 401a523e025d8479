"""Exercise checks: the right answer passes, a wrong one fails with a hint that does not tell."""

import numpy as np
import pytest

from inverse_lessons.exercises import check, exercises
from inverse_lessons.exercises.engine import get_exercise, reference_answer

#: The exercises whose answer is compared with a reference (the judged ones, whose answer is
#: a procedure such as a fitted search, have tests of their own below).
NUMBERS = [number for number in exercises() if get_exercise(number).judge is None]


def _wrong(reference):
    """A plausible wrong answer of the same form: off by a tenth (or one, for zero)."""
    if callable(reference):
        return lambda *args: 1.1 * np.asarray(reference(*args)) + 1.0
    value = np.asarray(reference, dtype=float)
    return value * 1.1 + (value == 0) + (np.abs(value) < 1) * 0.05


def test_every_chapter_has_checks():
    chapters = {number.split(".")[0] for number in exercises()}
    assert chapters == {str(c) for c in range(1, 10)}


@pytest.mark.parametrize("number", NUMBERS)
def test_the_right_answer_is_confirmed(number):
    result = check(number, reference_answer(number))
    assert result and repr(result) == f"Exercise {number}: correct."


@pytest.mark.parametrize("number", NUMBERS)
def test_a_wrong_answer_gets_a_hint_without_the_answer(number):
    reference = reference_answer(number)
    result = check(number, _wrong(reference))
    assert not result and "not yet" in repr(result)
    if not callable(reference):
        for value in np.atleast_1d(np.asarray(reference, dtype=float)):
            for shown in {f"{value:g}", f"{value:.3f}", f"{value:.2f}", f"{value:.4f}"}:
                if len(shown.strip("-0.")) > 1:
                    assert shown not in repr(result), f"the hint gives away {shown}"


def test_an_answer_of_the_wrong_form_says_what_to_pass():
    assert "pass" in repr(check("1.2", 5.0))
    assert not check("1.2", "five")
    assert "pass a function" in repr(check("1.1", 0.25))


def test_a_failing_function_is_reported_not_raised():
    result = check("1.1", lambda c: 1 / 0)
    assert not result and "ZeroDivisionError" in repr(result)


def test_a_close_answer_is_told_the_tolerance_used():
    """Just outside the tolerance: the hint says which tolerance; far off: it does not."""
    slope = float(reference_answer("2.3"))          # rtol 1e-6
    near = check("2.3", slope * (1 + 3e-6))
    assert not near and "close, but not within the tolerance used (rtol=1e-06, atol=1e-08)" \
        in repr(near)
    far = check("2.3", slope * 1.01)
    assert not far and "tolerance" not in repr(far)
    eta_max = reference_answer("1.1")               # a function: compared at the probes
    assert "tolerance used" in repr(check("1.1", lambda c: eta_max(c) * (1 + 5e-3)))
    assert "tolerance" not in repr(check("1.1", lambda c: 2 * eta_max(c)))


def test_a_multi_part_answer_hears_which_part_is_wrong():
    x_star, k = reference_answer("1.2")
    only_k = repr(check("1.2", (x_star, k + 1)))
    assert "not yet: k is off (x_star is right)." in only_k
    only_x = repr(check("1.2", [x_star + 1, k]))
    assert "not yet: x_star is off (k is right)." in only_x
    assert "not yet: x_star and k are off." in repr(check("1.2", (x_star + 1, k + 1)))
    a, b = reference_answer("2.2")
    b_close = repr(check("2.2", (a, b * (1 + 3e-6))))
    assert "b is off (a is right); close, but not within the tolerance used" in b_close
    assert "is right" not in repr(check("2.1", 1.0))    # one number has no parts


def test_an_unknown_exercise_is_a_clear_error():
    with pytest.raises(ValueError, match="number must name a checkable exercise"):
        check("9.9", 1.0)


def test_known_answers_from_the_chapters():
    """Independent of the package's reference code: values derived by hand in the book."""
    assert check("1.2", (5.0, 32))                  # 8 * 0.6**k < 1e-6 first at k = 32
    assert check("2.1", np.sqrt(20.0))              # |1 - 0.1 a^2| < 1
    assert check("1.1", lambda c: 1 / c**2)
    assert not check("1.1", lambda c: 2 / c**2)     # the bound on the curvature, not eta


def test_chapter_3_half_fitted_directions_at_the_chosen_steps():
    """Exercise 3.3 at chapter 3's validated N = 18: eight directions below one half; the
    count after 100 steps (two) is judged wrong."""
    assert check("3.3", 8)
    assert not check("3.3", 2)


# Chapter 5 and 6
def _implicit_formula(G, x, g):
    """Exercise 5.1's formula, from numpy alone: (x - G z) v^T - G v z^T."""
    z = np.linalg.lstsq(G, x, rcond=None)[0]
    v = np.linalg.solve(G.T @ G, g)
    return np.outer(x - G @ z, v) - np.outer(G @ v, z)


def test_known_answers_chapters_5_and_6():
    """Independent of the package's reference code: the chapters' formulas."""
    assert check("5.1", _implicit_formula)
    assert not check("5.1", lambda G, x, g: -_implicit_formula(G, x, g))
    assert check("5.2", 0.5) and not check("5.2", 1.0)   # halves, does not stay
    full, truncated = reference_answer("5.3")
    assert truncated > full                              # truncation trains more slowly
    assert not check("5.3", (truncated, full))           # the pair the wrong way round
    assert check("6.1", lambda G, d: 2 * G.T @ (d[:, None] * G))
    assert not check("6.1", lambda G, d: 2 * G.T @ G)    # the unmasked curvature
    assert not check("6.1", lambda G, d: G.T @ (d[:, None] * G))   # the factor 2


# Chapters 7 and 8

def test_chapters_7_and_8_have_checks():
    assert {"7.1", "7.2", "7.3", "8.1", "8.2", "8.3", "8.4"} <= set(NUMBERS)


def test_chapter_7_and_8_function_checks_catch_plausible_slips():
    """Answers a reader would write, independent of the reference code."""
    import tensorflow as tf

    assert check("7.1", lambda x, w: np.log(x / (1 - x)) / w)
    assert not check("7.1", lambda x, w: np.log(x / (1 - x)))      # w forgotten
    assert check("8.1", lambda G, r: np.linalg.lstsq(G, r, rcond=None)[0])
    assert not check("8.1", lambda G, r: np.linalg.solve(          # the prior kept
        G.T @ G + np.eye(G.shape[1]), G.T @ r))
    assert not check("7.2", lambda m, X, y, n_steps: 0.0)          # "no gain", untested
    one_run = reference_answer("8.4")       # one plain DeepFool run, no box
    assert 1.0 < one_run < 1.2               # above the exact flip, not far
    assert check("8.4", one_run) and not check("8.4", 1.0)   # "as exact" fails

    def masked(decoder, X, mask, Z, n_steps, step_size, use_mask=True):
        for _ in range(n_steps):
            with tf.GradientTape() as tape:
                tape.watch(Z)
                residual = X - decoder(Z)
                loss = tf.reduce_sum(tf.square(mask * residual if use_mask else residual))
            Z = Z - step_size * tape.gradient(loss, Z)
        return Z

    assert check("7.3", masked)
    assert not check("7.3", lambda *args: masked(*args, use_mask=False))


# Chapter 9

def test_chapter_9_accuracy_check_catches_plausible_slips():
    """The book's solution passes; the same model scored twice, or changed in place, fails."""
    import copy

    def accuracies(m, X, y):
        return copy.deepcopy(m).set_params(n_steps=0).score(X, y), m.score(X, y)

    def in_place(m, X, y):                 # sets m's own n_steps to 0 first
        return m.set_params(n_steps=0).score(X, y), m.score(X, y)

    assert "9.2" in NUMBERS
    assert check("9.2", accuracies)
    assert not check("9.2", lambda m, X, y: (m.score(X, y), m.score(X, y)))
    assert not check("9.2", lambda m, X, y: accuracies(m, X, y)[::-1])
    assert not check("9.2", in_place)
    assert check("9.2", accuracies)        # the probes it changed were copies


# Chapter 4

def test_chapter_4_answers_from_the_book_and_plausible_slips():
    eta_image = 0.01 / (64 * 1000)          # the batch mean's step, on one image
    assert check("4.1", np.sqrt((1 - 0.5 ** (1 / 250)) / (2 * eta_image)))
    per_image_only = 0.01 / 1000            # dividing by n but not by the 64 pixels
    assert not check("4.1", np.sqrt((1 - 0.5 ** (1 / 250)) / (2 * per_image_only)))
    assert not check("4.1", np.sqrt(1 / (2 * eta_image)))   # one step, not 250


def test_chapter_4_the_step_check_sits_at_the_bound_fit_enforces():
    from inverse_lessons import InverseNet, load_digits_split

    X_train, y_train, _, _ = load_digits_split()
    bound = reference_answer("4.2")
    with pytest.raises(ValueError, match="inner_step_size"):
        InverseNet(inner_step_size=1.01 * bound, random_state=0,
                   progress=False).fit(X_train, y_train)
    assert check("4.2", 0.98 * bound)       # just under the bound: trains
    assert check("4.2", 0.99 * bound)
    assert not check("4.2", 0.5 * bound)    # the automatic step, half the bound


def test_chapter_4_the_step_check_is_one_sided():
    bound = reference_answer("4.2")
    for above in (1.0, 1.02, 1.01):         # fit refuses these: never right
        verdict = check("4.2", above * bound)
        assert not verdict and "refuses" in repr(verdict)
    below = check("4.2", 0.96 * bound)      # trains, but more than 3 % below
    assert not below and "larger" in repr(below)
    assert check("4.2", 0.971 * bound)
    assert "one number" in repr(check("4.2", (bound, bound)))
    for verdict in (check("4.2", 1.02 * bound), below):   # no answer given away
        for shown in {f"{bound:g}", f"{bound:.4f}", f"{bound:.5f}"}:
            assert shown not in repr(verdict)


# Chapter 4, exercise 4.3: two gaps read off the third page's search
def test_chapter_4_search_gaps_and_plausible_slips():
    gap_alpha, gap_steps = reference_answer("4.3")
    # what the page finds: three folds cannot tell the penalties apart, but 10 steps
    # score clearly below 1000
    assert abs(gap_alpha) < 0.01 < gap_steps
    assert check("4.3", (gap_alpha, gap_steps))
    assert not check("4.3", (gap_steps, gap_alpha))          # parts swapped
    assert not check("4.3", (gap_alpha, -gap_steps))         # subtracted the wrong way
    assert "gap_steps is off" in repr(check("4.3", (gap_alpha, gap_steps + 0.03)))
