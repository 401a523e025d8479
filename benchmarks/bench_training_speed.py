"""Speed goal of chapter 4: training the original configuration.

Configuration: 1000 training images, 250 inner steps, 2000 outer iterations
(the original's full run). Three ways, measured in the same process:

- reference: a faithful TensorFlow 2 port of the original TF1 graph, compiled
  with tf.function: the inner loop is 250 explicit steps, each taking the
  gradient of the batch-mean squared error with a GradientTape, exactly as the
  original took tf.gradients of tf.losses.mean_squared_error.
- closed_form: inverse_lessons.models.original.train_original(gradient="closed_form").
- unrolled: inverse_lessons.models.original.train_original(gradient="unrolled").

Goals: closed_form at least 50x faster than the reference; unrolled no slower.
All three must produce the same loss curve (checked). Run:

    .venv/bin/python benchmarks/bench_training_speed.py            # full size
    .venv/bin/python benchmarks/bench_training_speed.py --quick    # 200 iterations
"""

import argparse
import os
import platform
import time

import numpy as np

from inverse_lessons import tf
from inverse_lessons.data import PIXEL_MAX, load_digits_split
from inverse_lessons.models.original import train_original


def reference_port(X, y, *, n_iterations, inner_steps=250, inner_step_size=1e-2,
                   learning_rate=100.0, seed=42):
    """The original TF1 training, ported line for line to TF2 + tf.function."""
    X = X * PIXEL_MAX
    rng = np.random.RandomState(seed)
    latents0 = tf.constant(np.abs(rng.randn(10, len(X))) / 100.0, tf.float32)   # (10, n)
    model = tf.Variable(np.abs(rng.randn(X.shape[1], 10)) / 100.0, dtype=tf.float32)
    X_t = tf.constant(X, tf.float32)
    onehot = tf.one_hot(y, 10)

    def inner_step(latents):
        with tf.GradientTape() as tape:
            tape.watch(latents)
            output = tf.transpose(tf.matmul(model, latents))
            loss = tf.reduce_mean(tf.square(X_t - output))
        return latents - inner_step_size * tape.gradient(loss, latents)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            latents = latents0
            for _ in range(inner_steps):
                latents = inner_step(latents)
            loss = tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(onehot, tf.transpose(latents)))
        model.assign_sub(learning_rate * tape.gradient(loss, model))
        return loss

    return np.array([float(train_step()) for _ in range(n_iterations)])


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 outer iterations")
    args = parser.parse_args()
    n_iterations = 200 if args.quick else 2000
    X, y, _, _ = load_digits_split()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, TensorFlow {tf.__version__}")
    print(f"configuration: {len(X)} images, 250 inner steps, {n_iterations} outer iterations")
    ref_losses, t_ref = timed(lambda: reference_port(X, y, n_iterations=n_iterations))
    fast, t_fast = timed(lambda: train_original(X, y, n_iterations=n_iterations))
    unrolled, t_unrolled = timed(lambda: train_original(X, y, n_iterations=n_iterations,
                                                        gradient="unrolled"))
    for name, losses in [("closed_form", fast.losses), ("unrolled", unrolled.losses)]:
        gap = np.max(np.abs(losses - ref_losses))
        print(f"{name:>11}: largest loss difference to the reference {gap:.1e}")
        assert gap < 1e-3, f"{name} does not compute the reference's training"

    print(f"\n{'method':<28}{'seconds':>9}{'speed-up vs reference':>24}")
    for name, seconds in [("reference port (tf.function)", t_ref), ("closed_form", t_fast),
                          ("unrolled", t_unrolled)]:
        print(f"{name:<28}{seconds:9.2f}{t_ref / seconds:23.1f}x")
    print(f"\ngoal closed_form >= 50x: {'met' if t_ref / t_fast >= 50 else 'NOT met'}"
          f" ({t_ref / t_fast:.0f}x)")
    print(f"goal unrolled no slower than the reference: "
          f"{'met' if t_unrolled <= t_ref * 1.05 else 'NOT met'} ({t_ref / t_unrolled:.2f}x)")
    print(f"final loss {fast.losses[-1]:.4f} (ln 10 = {np.log(10):.4f})")


if __name__ == "__main__":
    main()
