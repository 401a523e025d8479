"""Tune chapter 8's baselines the way the model's defaults were tuned.

The defaults of ``AnalysisBySynthesis`` were chosen from 120 settings by 5-fold
cross-validation on the training split only, each validation fold a run of 200
consecutive images, each setting scored by its mean validation accuracy over
the four test conditions (clean; half the pixels missing; the bottom half
missing; noise of sigma 0.3, scored by the setting fitted with
``noise_std=0.3``), the folds damaged with seed 0 (``bench_damage.py --cv``).

This script gives the baselines the same procedure: the same folds, the same
damaged validation images, the same score. The baseline told sigma is the same
setting trained also on a noisy copy at sigma, if that scores better (whether to
use the copy is part of the setting), and it scores the noise column, as the
model told sigma does. Searched, for each classifier
(``inverse_lessons.models.baselines.BASELINE_GRID``): its grid (logistic regression: C;
k-NN: k and the weights; RBF SVC: C and gamma), each setting with and without
damaged training copies (half the pixels missing, the bottom half missing;
``training_copies``), each after each of the four fillings, fitted on the
training folds only. It prints the best settings of each classifier and the
model's score on the same folds; the chosen settings are the package's
``TUNED_BASELINES``. Run:

    .venv/bin/python benchmarks/tune_baselines.py
"""

import itertools
import json
import os
import platform
import time

import numpy as np
from bench_damage import SIGMA, damaged_conditions, model_scores
from sklearn.base import clone
from sklearn.model_selection import KFold, ParameterGrid

from inverse_lessons import AnalysisBySynthesis, load_digits_split
from inverse_lessons.models.baselines import BASELINE_GRID, TUNED_BASELINES
from inverse_lessons.models.filled_classifier import training_copies
from inverse_lessons.models.fillings import FILLINGS, apply_filling, fit_fillings
from inverse_lessons.threads import one_blas_thread

RESULTS = "/tmp/tune_baselines.json"
CONDITIONS = ("clean", "50% missing", "bottom half missing", "noise, told sigma",
              "noise, not told sigma")


def fold_scores(X_train, y_train, X_valid, y_valid):
    """Validation accuracies of every setting on one fold.

    Returns a dict (classifier, params as a sorted tuple, copies, filling) ->
    array of the accuracies in :data:`CONDITIONS`.
    """
    imputers = fit_fillings(X_train)
    names = list(damaged_conditions(X_valid, seed=0))
    valid = dict(zip(CONDITIONS, damaged_conditions(X_valid, seed=0).values(),
                     strict=False))     # the fifth column scores the noise again
    filled = {f: {c: apply_filling(imputers, valid[c], f) for c in CONDITIONS[:4]}
              for f in FILLINGS}
    assert names[3].startswith("noise")
    train = {}
    for copies, told in itertools.product([False, True], [False, True]):
        X, y = training_copies(X_train, y_train, missing=copies,
                               noise_std=SIGMA if told else None, seed=0)
        for f in FILLINGS if copies else [None]:    # nothing missing, nothing to fill
            train[copies, told, f] = (X if f is None else apply_filling(imputers, X, f), y)
    scores = {}
    for name, (estimator, grid) in BASELINE_GRID.items():
        for params in ParameterGrid(grid):
            model = clone(estimator).set_params(**params)
            key = tuple(sorted(params.items()))
            for copies in (False, True):
                fits = {}
                for told, f in itertools.product([False, True],
                                                 FILLINGS if copies else [None]):
                    fits[told, f] = clone(model).fit(*train[copies, told, f])
                for f in FILLINGS:
                    plain, noisy = fits[False, f if copies else None], fits[
                        True, f if copies else None]
                    X = filled[f]
                    scores[name, key, copies, f] = np.array([
                        plain.score(X["clean"], y_valid),
                        plain.score(X["50% missing"], y_valid),
                        plain.score(X["bottom half missing"], y_valid),
                        noisy.score(X["noise, told sigma"], y_valid),
                        plain.score(X["noise, told sigma"], y_valid)])
    return scores


def main():
    X_train, y_train, _, _ = load_digits_split()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    n_settings = {name: len(ParameterGrid(grid)) for name, (_, grid) in BASELINE_GRID.items()}
    print(f"grid: {n_settings} settings, each with and without damaged copies, after "
          f"{len(FILLINGS)} fillings: {2 * sum(n_settings.values())} settings of the "
          f"classifiers and copies, {2 * len(FILLINGS) * sum(n_settings.values())} with "
          "the fillings")
    start = time.perf_counter()
    totals, model_total = {}, np.zeros(5)
    with one_blas_thread():
        for train, valid in KFold(5).split(X_train):   # runs of 200 consecutive images
            scores = fold_scores(X_train[train], y_train[train],
                                 X_train[valid], y_train[valid])
            for key, value in scores.items():
                totals[key] = totals.get(key, 0) + value / 5
            conditions = damaged_conditions(X_train[valid], seed=0)
            ours = model_scores(X_train[train], y_train[train], conditions,
                                y_train[valid], seed=0)
            untold = AnalysisBySynthesis(random_state=0).fit(X_train[train],
                                                             y_train[train])
            noise = list(conditions.values())[3]
            model_total += np.array(list(ours.values())
                                    + [untold.score(noise, y_train[valid])]) / 5
            print(f"  fold done ({time.perf_counter() - start:.0f} s)")
    print(f"cross-validation took {time.perf_counter() - start:.0f} s")

    with open(RESULTS, "w") as f:      # every setting's five columns, for the record
        json.dump([[list(k[:1]) + [dict(k[1]), k[2], k[3]], list(v)]
                   for k, v in totals.items()], f)
    report(totals, model_total)


def report(totals, model_total):
    """Print the best settings of each classifier and the choice for TUNED_BASELINES.

    A setting told sigma may use its noisy copy or not (``noise_copies``, chosen
    with the rest): its noise column is the fourth or the fifth of
    :data:`CONDITIONS`.
    """
    def objective(key, noise_copies):
        columns = totals[key][[0, 1, 2, 3 if noise_copies else 4]]
        return float(np.mean(columns))

    print(f"\nmean validation accuracy over the four conditions; columns: {CONDITIONS}")
    print(f"analysis by synthesis (defaults): {np.mean(model_total[:4]):.4f}  "
          f"{np.round(model_total, 3)}")
    chosen = {}
    for name in BASELINE_GRID:
        keys = [(k, n) for k in totals if k[0] == name for n in (False, True)]
        # equal scores go to the earlier setting of the grid (no copies first)
        order = sorted(keys, key=lambda kn: -round(objective(*kn), 10))
        print(f"\n{name}: best of {len(keys)}")
        for k, n in order[:5]:
            print(f"  {objective(k, n):.4f}  {np.round(totals[k], 3)}  {dict(k[1])}, "
                  f"copies {k[2]}, {k[3]}, noise copies {n}")
        chosen[name] = order[0]
    print("\nTUNED_BASELINES = {")
    for name, ((_, params, copies, filling), noisy) in chosen.items():
        print(f"    {name!r}: dict(params={dict(params)!r}, filling={filling!r}, "
              f"damaged_copies={copies}, noise_copies={noisy}),")
    print("}")
    same = all(TUNED_BASELINES.get(name) == dict(params=dict(p), filling=f,
                                                  damaged_copies=c, noise_copies=n)
               for name, ((_, p, c, f), n) in chosen.items())
    print(f"the package's TUNED_BASELINES: {'the same' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
