"""Where an InverseNet fit's time goes: per-iteration overhead or the inner inversion.

Two fits the book repeats most: chapter 6's "both jobs" fit (10 latents, 300
inner steps, mini-batches of 500 from the training split with its damaged
copies, 500 iterations, reconstruction weight 10; 06_2 and 06_3 run it 3 and 6
times) and ``InverseNet()`` on the clean split (30 latents, 1000 inner steps,
1000 iterations; 04_2 and 04_3 run it 5 and 18 times). Each is timed as set,
with 3 inner steps, with batches of 50 (06 only), and with both: what is left
with both cut is the cost of an iteration that does almost nothing (the
training loop, the optimiser, the step size's eigenvalue), the bound on what
a leaner loop could save. A bare ``tf.while_loop`` over the same step (no
progress bar, loss curve or divergence check) gives the loop's own share.

Times are CPU seconds of this process on one thread (as the pages run), the
least of ``--repeats`` fits, so that other jobs on the machine move them less
than wall-clock time. The first fit of the chapter 6 setting, which traces the
training loop and compiles the masked inversion with XLA, is also shown: a
page pays that once. Run:

    .venv/bin/python tools/profile_inverse_net_fit.py [--repeats 3]
"""

import argparse
import time

import numpy as np

from inverse_lessons.threads import one_thread

THREADS = one_thread()   # before TensorFlow's first computation, as the pages do

from inverse_lessons import InverseNet, load_digits_split, tf  # noqa: E402
from inverse_lessons.damage import with_damaged_copies  # noqa: E402
from inverse_lessons.models.inverse_net_training import (  # noqa: E402
    initial_parameters,
    training_step,
)
from inverse_lessons.models.training import optimiser_state  # noqa: E402

BOTH_JOBS = dict(n_latent=10, inner_steps=300, batch_size=500, max_iter=500,
                 reconstruction_weight=10.0)


def cpu_seconds(fn, repeats, first=None):
    """Return the least CPU time of ``repeats`` calls of ``fn`` (after one warm-up).

    ``first``, a list, receives the warm-up call's CPU time.
    """
    start = time.process_time()
    fn()
    if first is not None:
        first.append(time.process_time() - start)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def bare_loop_seconds(params, X, y, repeats):
    """CPU time of InverseNet's training step run max_iter times in a bare while loop."""
    model = InverseNet(**params)
    model.classes_ = np.unique(y)
    start = [tf.constant(v) for v in initial_parameters(model, X, 10, np.random.RandomState(0))]
    step = training_step(model, 10)
    data = (tf.constant(X, tf.float32), None, tf.constant(y, tf.int32))

    @tf.function
    def run():
        def body(i, p, s):
            _, p, s = step(p, s, data)
            return i + 1, p, s
        return tf.while_loop(lambda i, *_: i < model.max_iter, body,
                             (0, start, optimiser_state(start, model.learning_rate)))[1]

    return cpu_seconds(lambda: run()[0].numpy(), repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X, y, _, _ = load_digits_split()
    X_copies, y_copies = with_damaged_copies(X, y, seed=0)
    cases = {"06 both jobs (damaged copies)": (BOTH_JOBS, X_copies, y_copies, True),
             "InverseNet() (clean)": ({}, X, y, False)}
    print(f"CPU seconds of a fit, least of {args.repeats}, one thread")
    for name, (params, X_fit, y_fit, batched) in cases.items():
        changes = {"as set": {}, "3 inner steps": {"inner_steps": 3}}
        if batched:
            changes |= {"batches of 50": {"batch_size": 50},
                        "both cut": {"inner_steps": 3, "batch_size": 50}}
        print(f"\n{name}: {params or 'defaults'}")
        full, first = None, []
        for label, change in changes.items():
            settings = {**params, **change}
            seconds = cpu_seconds(lambda s=settings, X=X_fit, y=y_fit: InverseNet(
                random_state=0, **s).fit(X, y), args.repeats, first)
            full = full or seconds
            iterations = settings.get("max_iter", 1000)
            print(f"  {label:<16}{seconds:7.2f} s  {1e3 * seconds / iterations:6.2f} ms an "
                  f"iteration  {seconds / full:5.0%} of the fit")
        if batched:
            print(f"  {'first fit':<16}{first[0]:7.2f} s  (the trace and XLA's compilation "
                  f"included)")
        if not batched:
            bare = bare_loop_seconds(params, X_fit, y_fit, args.repeats)
            print(f"  {'bare while loop':<16}{bare:7.2f} s  (the same steps without "
                  f"TrainingLoop: {bare / full:.0%} of the fit)")


if __name__ == "__main__":
    main()
