"""Chapter 4's exercises and their reference answers, computed by the package."""

from __future__ import annotations

import functools

import numpy as np

from inverse_lessons.exercises.engine import Exercise, as_numbers, register


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
    step = as_numbers(answer)
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
    # only the three settings the gaps read (the same folds and fits as the page's
    # search), and no refit on the whole split: 9 fits instead of the page's 13
    settings = [{"inner_steps": [1000], "alpha": [1e-4, 1e-3]},
                {"inner_steps": [10], "alpha": [1e-3]}]
    search = GridSearchCV(InverseNet(random_state=0), settings, cv=3,
                          refit=False).fit(X_train, y_train)
    results = search.cv_results_
    score = {(int(p["inner_steps"]), float(p["alpha"])): float(m) for p, m in
             zip(results["params"], results["mean_test_score"], strict=True)}
    return (score[1000, 1e-3] - score[1000, 1e-4], score[1000, 1e-3] - score[10, 1e-3])


register(Exercise(
    "4.1", "sigma_min: the smallest sigma_max(G) for which the original's inner loop (step 0.01 "
           "on the batch mean over 1000 images, 250 steps) gets halfway in the stiffest direction",
    _halfway_sigma, rtol=1e-3,
    hint="Turn the batch step into the step on one image's own loss (divide by 64 n), write the "
         "stiffest direction's factor per step as 1 - 2 eta' sigma^2, and ask when its 250th "
         "power is one half."))
register(Exercise(
    "4.2", "step: the largest fixed inner_step_size with which InverseNet(random_state=0) "
           "trains on the training split (below the bound fit enforces, within 3 % of it)",
    _fixed_step_bound, judge=_fixed_step_judge,
    hint="Read the bound in the ValueError that fit raises for a step that is too large, or "
         "compute it from initial_generator_; then try steps just under it."))
register(Exercise(
    "4.3", "(gap_alpha, gap_steps): in the search of the chapter's third page, the "
           "cross-validated score of alpha 1e-3 minus that of alpha 1e-4, both at 1000 inner "
           "steps, and the score of 1000 minus that of 10 inner steps, both at alpha 1e-3",
    _chapter_search_gaps, rtol=0, atol=4e-3,   # a fold's image is 0.003, its mean 0.001
    hint="search.cv_results_['params'] lists the four settings in the order of "
         "search.cv_results_['mean_test_score']; subtract the two scores each part names, "
         "in the order it names them."))
