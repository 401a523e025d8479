"""Chapter 8's exercises and their reference answers, computed by the package."""

from __future__ import annotations

import numpy as np

from inverse_lessons.exercises.engine import Exercise, register


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


def _plain_deepfool_ratio():
    from inverse_lessons.data import load_digits_split
    from inverse_lessons.evaluation.likelihood_attacks import exact_smallest_flip, smallest_flip_l2
    from inverse_lessons.models.analysis_by_synthesis import AnalysisBySynthesis

    X_train, y_train, X_test, _ = load_digits_split()
    model = AnalysisBySynthesis(n_components=1).fit(X_train, y_train)
    one_run = smallest_flip_l2(model, X_test[:1], multi_start=False, refine_steps=0,
                               bisection_steps=0)[0]      # no box: box=None
    exact = exact_smallest_flip(model, X_test[:1])[0]
    return float(np.linalg.norm(one_run) / np.linalg.norm(exact))


def _ill_posed_problem(seed, rows):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 5)), rng.standard_normal(rows)


register(Exercise(
    "8.1", "a function z_limit(G_O, r_O): the limit of z_y as s_y^2 -> 0, for any G_O "
           "(|O| x k, also with fewer observed pixels than latents) and r_O (|O|,)",
    lambda: (lambda G, r: np.linalg.pinv(G) @ r),
    probes=tuple(_ill_posed_problem(s, rows) for s, rows in ((0, 30), (1, 3), (2, 5))),
    rtol=1e-5, atol=1e-8,
    hint="With full column rank the limit solves the normal equations; with fewer rows "
         "than columns ask which of the many least-squares solutions the prior favours."))
register(Exercise(
    "8.2", "(k, accuracy): the cross-validated n_latent of one generator per class (over "
           "the stub's grid) and that model's accuracy on the clean test split",
    _single_generator_choice, rtol=0, atol=1e-6,
    hint="Search the stub's grid of n_latent with GridSearchCV(AnalysisBySynthesis("
         "n_components=1), ..., cv=5) on the training split only; then score "
         "best_estimator_ on the test split."))
register(Exercise(
    "8.3", "(seed 0, seed 1, seed 2, seed 3, seed 4): the test accuracies of the Gaussian "
           "noise model (noise_std=0.3, pixel_range=None, random_state=seed) on the noisy "
           "test images of each seed",
    _gaussian_noise_accuracies, rtol=0, atol=2.5e-3,      # one test image is 0.002
    hint="For each seed draw add_noise(X_test, 0.3, seed=seed), fit "
         "AnalysisBySynthesis(noise_std=0.3, pixel_range=None, random_state=seed) on the "
         "training split and score it on those images; pass the five scores in seed order."))
register(Exercise(
    "8.4", "ratio: the length of the change one plain DeepFool run without the box finds "
           "on test image 0 (the page's loop, one generator per class), over the length of "
           "exact_smallest_flip's change",
    _plain_deepfool_ratio, rtol=1e-4,
    hint="Drop the box from the page's loop (no clipping, no stopped pixels: step along "
         "g[c] itself) and start it from X_test[0]; divide the length of x - X_test[0] by "
         "that of exact_smallest_flip(single, X_test[:1])[0][0]. No attack beats the exact "
         "answer, so the ratio is at least 1."))
