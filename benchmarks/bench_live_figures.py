"""Chapter 1's slider and animation: time per move and per frame, against a reference.

Run::

    .venv/bin/python benchmarks/bench_live_figures.py

Measured in one process, median of several repeats (wall-clock and CPU):

- a move of the step-size slider: what ``step_size_explorer`` runs per move (one descent,
  the one ``DescentFigure`` updated in place, drawn to PNG), against the reference: a new
  two-panel figure per move (``plot_loss_landscape`` and
  ``plot_losses``, ``tight_layout``) shown through the inline backend's tight crop;
- a frame of the step-size animation: ``step_size_animation`` (one figure, each frame drawn
  once), against the reference, ``FuncAnimation.to_jshtml`` redrawing a new picture per frame
  on cleared axes.

Goals (issue 15): at most 0.15 s a frame, at most 150 ms a move (the live browser test adds
the round trip through JupyterLab). Prints the times and the ratio new / reference.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import statistics
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from inverse_lessons import toy_forward  # noqa: E402
from inverse_lessons.figures.animation import step_size_animation  # noqa: E402
from inverse_lessons.figures.plotting import plot_loss_landscape, plot_losses  # noqa: E402
from inverse_lessons.figures.style import use_book_style  # noqa: E402
from inverse_lessons.figures.widgets import step_size_explorer  # noqa: E402
from inverse_lessons.inversion.solver import descent_path  # noqa: E402

GRID = np.linspace(-4.0, 8.0, 241)
STEP_SIZES = [0.005, 0.01, 0.02, 0.05, 0.08, 0.11, 0.14, 0.18, 0.22, 0.25, 0.27, 0.3]
Y_OBS, START, N_STEPS = 2.0, -3.0, 10


def loss(x):
    return np.square(Y_OBS - toy_forward(np.asarray(x, dtype=float)).numpy())


def reference_picture(step_size, axes=None):
    """The reference: the descent drawn afresh on a new figure (or on the given axes)."""
    run = descent_path(toy_forward, Y_OBS, START, step_size=step_size, n_steps=N_STEPS)
    if axes is None:
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    else:
        left, right = axes
        fig = left.figure
        left.clear()
        right.clear()
    plot_loss_landscape(loss, GRID, run.path, ax=left, title=f"step size {step_size:.3g}")
    plot_losses(run.losses, ax=right)
    fig.tight_layout()
    return fig


def reference_move(step_size):
    fig = reference_picture(step_size)
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")   # the inline backend
    plt.close(fig)


def reference_animation():
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    animation = FuncAnimation(fig, lambda i: reference_picture(STEP_SIZES[i], axes),
                              frames=len(STEP_SIZES), interval=600, repeat=False)
    animation.to_jshtml(default_mode="once")
    plt.close(fig)


def timed(function, repeats):
    """Median wall-clock and CPU seconds of ``function()`` over ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main():
    use_book_style()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, matplotlib {matplotlib.__version__}")
    explorer = step_size_explorer(toy_forward, Y_OBS, start=START, n_steps=N_STEPS)
    moves = iter(STEP_SIZES * 10)

    def move():
        with contextlib.redirect_stdout(io.StringIO()):    # what the explorer prints
            explorer.f(step_size=next(moves), start=START)

    reference_move(0.05)                     # warm-up: imports, fonts, traced functions
    move()
    rows = [("slider move", timed(move, 12),
             timed(lambda: reference_move(next(moves)), 12), 1),
            ("animation frame", timed(lambda: step_size_animation(
                toy_forward, Y_OBS, STEP_SIZES, start=START, n_steps=N_STEPS, grid=GRID,
                alt="benchmark frames, one per step size"), 3),
             timed(reference_animation, 3), len(STEP_SIZES))]
    print(f"\n{'':<16}{'new wall':>10}{'new CPU':>10}{'ref wall':>10}{'ref CPU':>10}"
          f"{'ratio':>8}")
    for name, (new_wall, new_cpu), (ref_wall, ref_cpu), per in rows:
        print(f"{name:<16}{new_wall / per * 1e3:8.0f}ms{new_cpu / per * 1e3:8.0f}ms"
              f"{ref_wall / per * 1e3:8.0f}ms{ref_cpu / per * 1e3:8.0f}ms"
              f"{new_wall / ref_wall:8.2f}")
    print("\n(animation: per frame, the whole animation of "
          f"{len(STEP_SIZES)} frames divided by {len(STEP_SIZES)}; goals: a frame <= 150 ms, "
          "a move <= 150 ms)")


if __name__ == "__main__":
    main()
