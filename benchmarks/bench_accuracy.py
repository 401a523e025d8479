"""Accuracy goals of chapter 4, on the canonical split (train 0-999, test 1000-1499).

Goals:
- InverseNet() with no arguments: test accuracy >= 0.955, in well under 10 s.
- 20 latents and 3000 inner steps, a configuration picked during development with the
  test split in view (not shown in chapter 4 any more): >= 0.96. It is a record, not a fair
  comparison; the fair InverseNet row is the one whose N and alpha were chosen by
  cross-validation on the training split (chapter 4's second page: N = 1000, alpha = 1e-3).
Reference, in the same run: tuned logistic regression (it fits the same family of
affine rules as a linear generator with a linear head; the family's ceiling is the
best affine rule, not this fitted one) and the other baselines. Each InverseNet setting is
trained with five seeds; the table gives the worst, mean and best. Run:

    .venv/bin/python benchmarks/bench_accuracy.py
"""

import os
import platform
import time

import numpy as np

from inverse_lessons import InverseNet, load_digits_split, tf
from inverse_lessons.models.baselines import baseline_accuracies

SETTINGS = {
    "InverseNet() defaults": {},
    "20 latents, 3000 inner steps (picked with the test split in view)":
        dict(n_latent=20, inner_steps=3000),
    "N and alpha by 3-fold CV on the training split (1000 steps, alpha 1e-3)":
        dict(alpha=1e-3),
    "original architecture, repaired (10 latents, identity head, 250 steps)":
        dict(n_latent=10, head="identity", inner_steps=250),
    # the well-posed objective (sigma_max(G) = 1), each gradient with the settings
    # bench_gradient_tuning.py chose on the training split
    "normalised G, stopped gradient (learning rate 0.003, alpha 1e-2)":
        dict(normalize_generator=True, learning_rate=0.003, alpha=1e-2),
    "normalised G, exact gradient (learning rate 0.001, alpha 1e-2)":
        dict(normalize_generator=True, step_gradient=True, learning_rate=0.001, alpha=1e-2),
}
SEEDS = range(5)


def main():
    X_train, y_train, X_test, y_test = load_digits_split()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, TensorFlow {tf.__version__}")
    baselines = baseline_accuracies(X_train, y_train, X_test, y_test)
    reference = baselines["logistic regression (tuned C)"]
    print(f"\n{'baseline':<46}{'accuracy':>9}")
    for name, acc in baselines.items():
        print(f"{name:<46}{acc:9.3f}")

    print(f"\n{'InverseNet setting (5 seeds)':<72}{'worst':>7}{'mean':>7}{'best':>7}"
          f"{'vs logreg':>10}{'fit s':>7}")
    results = {}
    for name, params in SETTINGS.items():
        accs, secs = [], []
        for seed in SEEDS:
            start = time.perf_counter()
            model = InverseNet(random_state=seed, **params).fit(X_train, y_train)
            secs.append(time.perf_counter() - start)
            accs.append(model.score(X_test, y_test))
        results[name] = (min(accs), float(np.mean(accs)), max(accs), float(np.mean(secs)))
        lo, mean, hi, sec = results[name]
        print(f"{name:<72}{lo:7.3f}{mean:7.3f}{hi:7.3f}{mean / reference:10.3f}{sec:7.2f}")

    lo, _, _, sec = results["InverseNet() defaults"]
    best_lo = results["20 latents, 3000 inner steps (picked with the test split in view)"][0]
    print(f"\ngoal defaults >= 0.955 for every seed: {'met' if lo >= 0.955 else 'NOT met'} "
          f"(worst {lo:.3f}, {sec:.1f} s per fit)")
    print(f"goal 20 latents, 3000 steps >= 0.96 for every seed: "
          f"{'met' if best_lo >= 0.96 else 'NOT met'} (worst {best_lo:.3f})")


if __name__ == "__main__":
    main()
