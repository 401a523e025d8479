"""Chapter 6's ablation of the model trained for both jobs, with the default k as well.

Chapter 6 trains ``InverseNet`` for damaged inputs with six settings changed at
once from chapter 4's model (damaged training copies, reconstruction weight
lambda = 10, k = 10 latents, 300 inner steps, mini-batches of 500, 500 outer
iterations). Its second page (``06_2_what_each_change_buys``) undoes one change
at a time (no damaged copies, lambda = 0), three training seeds each. This
script adds the row the chapter cannot afford: the default k = 30 latents
instead of 10 (with damaged copies in every batch, each image's masked inversion
solves with its own k x k matrices, so a fit costs several times more; the
script prints each setting's CPU seconds a fit).

Training seed s sets ``random_state`` and the damaged copies' patterns
(``with_damaged_copies(..., seed=s)``), as in the chapter; the test conditions
and their damage patterns are the chapter's (``reporting.damaged_test_sets``).
Each entry is the mean over the three seeds of the accuracy (itself a mean over
the damage patterns), with the lowest and highest seed; the last columns are the
RMS error of the filled-in pixels with half of them missing and the median
condition number of the generator restricted to the observed pixels (half
missing, first pattern).

Run (about a minute of CPU):

    .venv/bin/python benchmarks/bench_ablation_06.py
"""

import time

import numpy as np

from inverse_lessons import InverseNet, load_digits_split
from inverse_lessons.damage import with_damaged_copies
from inverse_lessons.evaluation.reporting import damaged_test_sets, filled_rmse
from inverse_lessons.threads import one_thread

SEEDS = range(3)
BOTH_JOBS = dict(n_latent=10, inner_steps=300, batch_size=500, max_iter=500,
                 reconstruction_weight=10.0)
CHANGES = {"both jobs": {}, "without damaged copies": {"copies": False},
           "lambda = 0 instead of 10": {"reconstruction_weight": 0.0},
           "k = 30 (the default) instead of 10": {"n_latent": 30}}


def fit(X_train, y_train, seed, copies=True, **change):
    X, y = with_damaged_copies(X_train, y_train, seed=seed) if copies else (X_train, y_train)
    return InverseNet(**{**BOTH_JOBS, **change}, random_state=seed).fit(X, y)


def spread(values):
    values = np.asarray(values)
    return f"{values.mean():.3f} ({values.min():.3f}-{values.max():.3f})"


def main():
    one_thread()
    X_train, y_train, X_test, y_test = load_digits_split()
    damaged = damaged_test_sets(X_test)
    half = damaged["50% missing"]
    for name, change in CHANGES.items():
        rows = {d: [] for d in damaged} | {"fill RMSE": [], "masked cond": []}
        start = time.process_time()
        for seed in SEEDS:
            model = fit(X_train, y_train, seed, **change)
            for d, sets in damaged.items():
                rows[d].append(np.mean([model.score(X, y_test) for X in sets]))
            rows["fill RMSE"].append(filled_rmse(
                lambda X, m=model: np.clip(m.reconstruct(X), 0, 1), half, X_test))
            G = model.generator_
            rows["masked cond"].append(np.median([np.linalg.cond(G[~np.isnan(x)])
                                                  for x in half[0]]))
        cpu = (time.process_time() - start) / len(SEEDS)
        print(f"{name} ({cpu:.1f} s of CPU a fit)")
        for column, values in rows.items():
            print(f"    {column:<22} {spread(values)}")


if __name__ == "__main__":
    main()
