"""Live controls for the notebooks: ipywidgets sliders, and nothing else.

Each explorer is a thin layer of sliders over a ``draw_*`` function of
:mod:`inverse_lessons.plotting`, which the tests and the static figures of the
rendered book call too. The rendered site has no kernel, so the chapters show
the same effect as a static sweep next to each explorer, or as a scrubbable
animation that needs no kernel (:mod:`inverse_lessons.animation`).
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone

from .linear_inversion import generator_step_size_bound
from .plotting import (
    draw_class_inversions,
    draw_descent,
    draw_digit_inversion,
    draw_fill_in,
    draw_refinement,
)

__all__ = [
    "damage_explorer",
    "digit_inversion_explorer",
    "missing_pixels_explorer",
    "refinement_explorer",
    "step_size_explorer",
]


def _show_titled(fig, title):
    """Give an explorer's figure its title and show it."""
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    plt.show()


def _image_slider(images):
    """A slider over the rows of ``images``, updating when released."""
    return widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="test image",
                             continuous_update=False)


def _missing_slider():
    """The fraction of missing pixels, 0 to 95% (chapters 6 and 8)."""
    return widgets.FloatSlider(value=0.5, min=0.0, max=0.95, step=0.05, description="missing",
                               readout_format=".0%", continuous_update=False)


def _pattern_slider():
    """The seed of the random pattern of missing pixels."""
    return widgets.IntSlider(value=0, min=0, max=20, description="pattern",
                             continuous_update=False)


def step_size_explorer(forward, observation, *, start=-3.0, step_size=0.05, n_steps=10,
                       grid=None):
    """Sliders for the step size and the starting point of a 1-d inversion.

    grid : the x range of the landscape, array (n,); by default -4 to 8 in 241 points.
    Returns an ``ipywidgets.interactive``; display it in a notebook.
    """
    grid = np.linspace(-4.0, 8.0, 241) if grid is None else np.asarray(grid, dtype=float)

    def show(step_size, start):
        fig, run = draw_descent(forward, observation, step_size=step_size, start=start,
                                n_steps=n_steps, grid=grid)
        plt.show()
        print(f"after {len(run.path) - 1} steps: x = {float(run.path[-1]):.6g}")
        if run.diverged:
            print(run.diverged)

    return widgets.interactive(
        show,
        step_size=widgets.FloatLogSlider(value=step_size, base=10, min=-3, max=-0.5,
                                         step=0.02, description="step size",
                                         readout_format=".3f", continuous_update=False),
        start=widgets.FloatSlider(value=start, min=float(grid[0]), max=float(grid[-1]),
                                  step=0.25, description="start x",
                                  continuous_update=False),
    )


def digit_inversion_explorer(G, images, labels, *, n_steps=100, step_size=2e-3):
    """Sliders for the test image, the number of steps and the step size.

    G : (64, k) generator; images : (n, 64); labels : (n,). The steps slider is
    logarithmic (1 to 10 000). Returns an ``ipywidgets.interactive``.
    """
    stable = float(generator_step_size_bound(np.asarray(G, float)))   # 1 / sigma_max^2

    def show(index, log_steps, step_size):
        steps = int(round(10 ** log_steps))
        fig, latents = draw_digit_inversion(G, images[index], n_steps=steps,
                                            step_size=step_size)
        _show_titled(fig, f"test image {index} (a {labels[index]}): {steps} steps of size "
                     f"{step_size:.2g}, predicted {int(np.argmax(latents))}")
        if step_size >= stable:
            print(f"step size above the stable bound {stable:.3g}: the inversion diverges")

    return widgets.interactive(
        show,
        index=_image_slider(images),
        log_steps=widgets.FloatSlider(value=float(np.log10(n_steps)), min=0, max=4, step=0.25,
                                      description="log10 steps", continuous_update=False),
        step_size=widgets.FloatLogSlider(value=step_size, base=10, min=-4,
                                         max=float(np.log10(stable)), step=0.1,
                                         description="step size", readout_format=".2g",
                                         continuous_update=False),
    )


def missing_pixels_explorer(model, images, labels):
    """Sliders for the test image, the fraction of missing pixels and the random pattern.

    Returns an ``ipywidgets.interactive`` over :func:`draw_fill_in`.
    """

    def show(index, fraction, pattern):
        fig, label = draw_fill_in(model, images[index], fraction=fraction, seed=pattern)
        _show_titled(fig, f"test image {index}, a {labels[index]}")

    return widgets.interactive(
        show,
        index=_image_slider(images),
        fraction=_missing_slider(),
        pattern=_pattern_slider(),
    )


def refinement_explorer(model, images, labels):
    """Sliders for the test image, the number of inversion steps and the start.

    Returns an ``ipywidgets.interactive`` over :func:`draw_refinement`.
    """

    def show(index, steps, start):
        fig, _ = draw_refinement(model, images[index], steps=(0, steps), start=start)
        _show_titled(fig, f"test image {index}, a {labels[index]}: start {start}")

    return widgets.interactive(
        show,
        index=_image_slider(images),
        steps=widgets.IntSlider(value=20, min=0, max=200, step=5, description="steps",
                                continuous_update=False),
        start=widgets.ToggleButtons(options=["encoder", "zero"], description="start"),
    )


def damage_explorer(model, X_train, y_train, images, labels):
    """Sliders for the test image, the missing fraction, the noise level and the pattern.

    model : an ``AnalysisBySynthesis`` (its settings are used); for each noise
    level a copy with ``noise_std`` set to it is fitted on ``X_train, y_train``
    (well under a second) and kept. Returns an ``ipywidgets.interactive`` over
    :func:`draw_class_inversions`.
    """
    fitted = {}

    def show(index, fraction, sigma, pattern):
        if sigma not in fitted:
            fitted[sigma] = clone(model).set_params(noise_std=sigma or None).fit(X_train, y_train)
        fig, label = draw_class_inversions(fitted[sigma], images[index], fraction=fraction,
                                           sigma=sigma, seed=pattern)
        _show_titled(fig, f"test image {index}, a {labels[index]}: predicted {label}")

    return widgets.interactive(
        show,
        index=_image_slider(images),
        fraction=_missing_slider(),
        sigma=widgets.FloatSlider(value=0.0, min=0.0, max=0.6, step=0.1, description="noise σ",
                                  continuous_update=False),
        pattern=_pattern_slider(),
    )
