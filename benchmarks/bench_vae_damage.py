"""Chapter 9's scoreboard over five seeds: the per-class VAE against chapter 8's model.

Chapter 9 scores its nonlinear model, ``VAEBySynthesis(random_state=seed)``, and
chapter 8's linear ``AnalysisBySynthesis(random_state=seed)`` on two seeds, to stay
fast. This script runs the same four test conditions on five seeds (0-4): clean;
50% of the pixels missing (NaN, a fresh pattern per seed); the bottom half
missing; Gaussian noise of standard deviation 0.3, clipped to [0, 1] (a fresh
draw per seed). Both models are told nothing about the noise, as in chapter 9.

Printed per condition: each model's mean test accuracy over the seeds (lowest and
highest seed), the difference VAE minus linear (the reference, fitted in the same
run), McNemar's exact p per seed, and issue 24's goals: clean accuracy >= 0.985,
and the VAE above chapter 8's model in every condition. Run:

    .venv/bin/python benchmarks/bench_vae_damage.py [--seeds 5]
"""

import argparse
import platform
import time

import numpy as np

from inverse_lessons import AnalysisBySynthesis, VAEBySynthesis, load_digits_split
from inverse_lessons.damage import add_noise, drop_block, drop_pixels
from inverse_lessons.evaluation.stats import mcnemar
from inverse_lessons.threads import one_thread


def conditions(X_test, seed):
    """Chapter 9's test conditions, their random parts drawn with ``seed``."""
    return {"clean": X_test, "50% missing": drop_pixels(X_test, 0.5, seed=seed),
            "bottom half missing": drop_block(X_test),
            "noise 0.3": add_noise(X_test, 0.3, seed=seed)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    one_thread()
    start = time.perf_counter()
    print(f"{platform.node()}, {platform.machine()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    X_train, y_train, X_test, y_test = load_digits_split()
    right = {}                      # right[model, condition]: per seed, (n,) bool
    for seed in range(args.seeds):
        models = {"VAE": VAEBySynthesis(random_state=seed),
                  "linear": AnalysisBySynthesis(random_state=seed)}
        for name, model in models.items():
            model.fit(X_train, y_train)
            for column, X in conditions(X_test, seed).items():
                right.setdefault((name, column), []).append(model.predict(X) == y_test)
        print(f"[{time.perf_counter() - start:5.0f} s] seed {seed} done")
    print(f"\n{args.seeds} seeds: mean test accuracy (lowest-highest seed)")
    print("| condition | VAE | linear (ch. 8) | VAE - linear | McNemar p per seed | goal |")
    print("|---|---|---|---|---|---|")
    for column in conditions(X_test, 0):
        acc = {name: np.array([r.mean() for r in right[name, column]])
               for name in ("VAE", "linear")}
        cell = {name: f"{a.mean():.3f} ({a.min():.3f}-{a.max():.3f})"
                for name, a in acc.items()}
        pairs = zip(right["VAE", column], right["linear", column], strict=True)
        p = [mcnemar(a, b)[2] for a, b in pairs]
        ahead = acc["VAE"].mean() > acc["linear"].mean()
        goal = f"above ch. 8: {'met' if ahead else 'not met'}"
        if column == "clean":
            goal += f"; >= 0.985: {'met' if acc['VAE'].mean() >= 0.985 else 'not met'}"
        print(f"| {column} | {cell['VAE']} | {cell['linear']} | "
              f"{acc['VAE'].mean() - acc['linear'].mean():+.3f} | "
              f"{', '.join(f'{q:.2g}' for q in p)} | {goal} |")
    print(f"[{time.perf_counter() - start:5.0f} s] done")


if __name__ == "__main__":
    main()
