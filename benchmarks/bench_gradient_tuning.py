"""Chapter 4: the stopped and the exact gradient, each tuned on the training split.

With the automatic inner step eta(G) = 0.5 / sigma_max(G)^2 the objective of
``InverseNet`` has no minimiser (G -> G / s, W -> W / s keeps every logit and
divides the penalty by s^2). ``normalize_generator=True`` removes that symmetry
(sigma_max(G) = 1 after every step). On that well-posed objective this script
tunes the outer learning rate and the penalty alpha for each gradient, the
stopped one (``step_gradient=False``) and the exact one (``step_gradient=True``),
by 3-fold cross-validation on the training split only (``GridSearchCV``, the
test split is never read), and prints the grid, so that chapter 4 can fit the
chosen settings over five seeds. It names every choice that lies on an edge of the
grid, where the best setting may lie outside it (the figures, and the settings checked
beyond the edges, are in ``benchmarks/README.md``). Run (about 3 minutes on 2 idle cores):

    .venv/bin/python benchmarks/bench_gradient_tuning.py
"""

import os
import platform
import time

import numpy as np
from sklearn.model_selection import GridSearchCV

from inverse_lessons import InverseNet, load_digits_split, tf
from inverse_lessons.threads import one_thread

GRID = {"learning_rate": [0.001, 0.003, 0.01], "alpha": [1e-4, 1e-3, 1e-2, 1e-1]}


def on_the_edge(best_params, grid):
    """The names of the settings whose chosen value is the smallest or largest of its grid:
    there the best may lie outside, and the grid should be widened before trusting it."""
    return [name for name, values in grid.items()
            if best_params[name] in (min(values), max(values))]


def main():
    one_thread()
    X_train, y_train, _, _ = load_digits_split()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, TensorFlow {tf.__version__}")
    for exact in (False, True):
        start = time.perf_counter()
        search = GridSearchCV(
            InverseNet(normalize_generator=True, step_gradient=exact, random_state=0),
            GRID, cv=3).fit(X_train, y_train)
        name = "exact (step_gradient=True)" if exact else "stopped (step_gradient=False)"
        print(f"\n{name}: {time.perf_counter() - start:.0f} s")
        print(f"{'learning_rate':>14}{'alpha':>8}{'cv mean':>9}{'cv std':>8}")
        results = search.cv_results_
        for params, mean, std in zip(results["params"], results["mean_test_score"],
                                     results["std_test_score"], strict=True):
            print(f"{params['learning_rate']:14g}{params['alpha']:8g}{mean:9.3f}{std:8.3f}")
        near = search.best_score_ - results["std_test_score"][search.best_index_]
        close = int(np.sum(results["mean_test_score"] >= near))
        print(f"chosen: {search.best_params_} (cv {search.best_score_:.3f}); within one "
              f"fold std of the best: {close} of {len(results['params'])}")
        edge = on_the_edge(search.best_params_, GRID)
        print(f"on the edge of the grid: {', '.join(edge) if edge else 'none'}"
              + (" (a wider grid may choose otherwise; see benchmarks/README.md)"
                 if edge else ""))


if __name__ == "__main__":
    main()
