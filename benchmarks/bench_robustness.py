"""Chapter 9's adversary: every model's smallest flips, by the robustness suite.

For every model (chapter 9's per-class VAE when the package has it, chapter 8's
analysis by synthesis, logistic regression, RBF SVC, nearest neighbour, an MLP and
a PGD-trained MLP), the same correctly classified test images (the first
``--images`` that every model gets right) are attacked by
:func:`inverse_lessons.evaluation.robustness.attack_suite`: gradient attacks
(every gradient kind a model offers), HopSkipJump on predict alone, and transfer
of the other models' changes; L2 and L-infinity, images kept in [0, 1]; and
nearest neighbour's exact smallest L2 flip on the same images.

Printed: each model's median smallest flip (the suite's best) with a bootstrap
95 % interval over the images, its ratio to logistic regression's (paired
bootstrap), the median of each attack alone, and decision-based / gradient medians
(within 10 %: no sign of gradient masking). Then the suite's own check: on
chapter 8's model with one generator per class, the suite's best L2 flip (no box)
against the exact smallest flip, image by image.

    .venv/bin/python benchmarks/bench_robustness.py            # about 10 minutes
    .venv/bin/python benchmarks/bench_robustness.py --images 20 --quick
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from inverse_lessons.data import load_digits_split
from inverse_lessons.evaluation import robustness as R
from inverse_lessons.evaluation.likelihood_attacks import exact_smallest_flip
from inverse_lessons.models.analysis_by_synthesis import AnalysisBySynthesis
from inverse_lessons.threads import one_blas_thread


def bootstrap(values, rng, n=2000):
    """The median and a 95 % percentile interval over resampled images."""
    samples = np.median(values[rng.integers(0, len(values), (n, len(values)))], axis=1)
    return np.median(values), *np.percentile(samples, [2.5, 97.5])


def paired_ratio(values, reference, rng, n=2000):
    """median(values) / median(reference) with a paired bootstrap 95 % interval."""
    rows = rng.integers(0, len(values), (n, len(values)))
    ratios = np.median(values[rows], axis=1) / np.median(reference[rows], axis=1)
    return np.median(values) / np.median(reference), *np.percentile(ratios, [2.5, 97.5])


def models_to_attack(seed):
    models = {}
    try:
        from inverse_lessons.models.vae_by_class import VAEBySynthesis
        models["VAE by synthesis"] = VAEBySynthesis(random_state=seed)
    except ImportError:
        print("(inverse_lessons.models.vae_by_class not found: chapter 9's model skipped)")
    models.update(R.robustness_baselines(seed=seed))
    return models


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small attack budgets")
    parser.add_argument("--check-images", type=int, default=100)
    args = parser.parse_args()
    start = time.time()

    def log(text):
        print(f"[{time.time() - start:6.0f} s] {text}", flush=True)

    print(f"{platform.node()}, {platform.processor() or platform.machine()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    X_train, y_train, X_test, y_test = load_digits_split()
    models = models_to_attack(args.seed)
    for name, model in models.items():
        model.fit(X_train, y_train)
        log(f"fitted {name}: test accuracy {model.score(X_test, y_test):.3f}")
    right = np.all([m.predict(X_test) == y_test for m in models.values()], axis=0)
    X = X_test[np.flatnonzero(right)[:args.images]]
    log(f"{len(X)} test images every model classifies correctly (of {right.sum()})")
    # budgets sized for about 10 minutes of one core on 100 images (the VAE's
    # inference makes every one of its predictions and gradients dear)
    gradient = dict(restarts=1, targets=3, max_iter=30, radius_steps=6, pgd_steps=6,
                    refine_steps=4, bisection_steps=12)
    decision = dict(max_iter=5, max_eval=100, init_eval=10)
    if args.quick:
        gradient.update(targets=2, radius_steps=3, refine_steps=1)
        decision = dict(max_iter=2, max_eval=50, init_eval=10)
    with one_blas_thread():
        results = R.attack_suite(models, X, box=(0.0, 1.0), gradient=gradient,
                                 decision=decision, progress=log)
    rng = np.random.default_rng(0)
    reference = "logistic regression"
    for norm in R.NORMS:
        print(f"\n{norm}: median smallest flip (95 % bootstrap interval), {len(X)} images")
        print("| model | best of suite | / logistic regression | gradient | decision "
              "| transfer | decision / gradient |")
        print("|---|---|---|---|---|---|---|")
        for name in models:
            sizes = results[name][norm]["sizes"]
            best = bootstrap(sizes["best"], rng)
            ratio = paired_ratio(sizes["best"], results[reference][norm]["sizes"]["best"], rng)
            kinds = [k for k in sizes if k.startswith("gradient")]
            grad = (np.min(np.stack([sizes[k] for k in kinds]), axis=0) if kinds else None)
            cells = [f"{best[0]:.3f} ({best[1]:.3f}-{best[2]:.3f})",
                     f"{ratio[0]:.2f} ({ratio[1]:.2f}-{ratio[2]:.2f})",
                     "-" if grad is None else f"{np.median(grad):.3f}" + "".join(
                         f"; {k[9:]} {np.median(sizes[k]):.3f}" for k in kinds
                         if len(kinds) > 1),
                     f"{np.median(sizes['decision']):.3f}",
                     f"{np.median(sizes['transfer']):.3f}",
                     "-" if grad is None else
                     f"{np.median(sizes['decision']) / np.median(grad):.2f}"]
            print(f"| {name} | " + " | ".join(cells) + " |")

    # nearest neighbour's exact smallest L2 flip (no box), on the same images
    exact, _ = R.nearest_neighbour_smallest_flip(X_train, y_train, X)
    found = results["nearest neighbour"]["l2"]["sizes"]["best"] / exact
    median, low, high = bootstrap(exact, rng)
    print(f"\nnearest neighbour, exact smallest L2 flip (no box): median {median:.3f} "
          f"({low:.3f}-{high:.3f}); the suite's best (in the box) / exact: median "
          f"{np.median(found):.3f}, within 3 % on {np.mean(found <= 1.03):.0%} of the images")
    log("nearest neighbour's exact flips")

    # the suite's own check: the one-generator model's exact smallest flip (no box)
    one = AnalysisBySynthesis(n_components=1).fit(X_train, y_train)
    right = np.flatnonzero(one.predict(X_test) == y_test)[:args.check_images]
    X = X_test[right]
    with one_blas_thread():
        check = R.attack_suite({"one generator": one}, X, norms=("l2",), box=None,
                               gradient=gradient, decision=decision, progress=log)
    best = check["one generator"]["l2"]["sizes"]["best"]
    exact = np.linalg.norm(exact_smallest_flip(one, X)[0], axis=1)
    ratio = best / exact
    print(f"\nsuite's own check, {len(X)} images: best / exact L2 flip: median "
          f"{np.median(ratio):.4f}, max {ratio.max():.4f}, min {ratio.min():.4f}; within 3 % "
          f"on {np.mean(ratio <= 1.03):.0%} of the images")
    log("done")


if __name__ == "__main__":
    main()
