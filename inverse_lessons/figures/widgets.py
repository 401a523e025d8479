"""Live controls for the notebooks: ipywidgets sliders, and nothing else.

Each explorer is a thin layer of sliders over a ``draw_*`` function of
:mod:`inverse_lessons.figures.images` (or a
:class:`~inverse_lessons.figures.descent.DescentFigure`), which the tests and the
static figures of the rendered book call too. The rendered site has no kernel, so the chapters show
the same effect as a static sweep next to each explorer, or as a scrubbable
animation that needs no kernel (:mod:`inverse_lessons.figures.animation`).

An explorer keeps one figure and redraws it on every move of a slider (the
step-size explorer changes only the artists that move), then shows it as a
PNG drawn at the figure's own size: no new figure per move and no second
layout pass, so the sliders update while they are dragged
(``continuous_update=True``).
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display
from sklearn.base import clone

from inverse_lessons.figures.descent import DescentFigure
from inverse_lessons.figures.images import (
    draw_class_inversions,
    draw_digit_inversion,
    draw_fill_in,
    draw_refinement,
)
from inverse_lessons.figures.style import fix_layout
from inverse_lessons.inversion.linear import generator_step_size_bound
from inverse_lessons.inversion.solver import descent_path

__all__ = [
    "damage_explorer",
    "digit_inversion_explorer",
    "missing_pixels_explorer",
    "refinement_explorer",
    "step_size_explorer",
]


def _one_figure():
    """Make the figure an explorer redraws on every move (closed: shown only as a PNG)."""
    fig = plt.figure()
    plt.close(fig)
    return fig


def _show(fig, title=None):
    """Show ``fig`` in the explorer's output as a PNG at its own size (no tight crop)."""
    if title is not None:
        fig.suptitle(title, fontweight="bold")
        fig.tight_layout()
    fix_layout(fig)
    png = io.BytesIO()
    fig.savefig(png, format="png")
    display(Image(data=png.getvalue(), format="png"))


def _log_slider(value, *, low, high, step, description, readout_format):
    """Make a base-10 log slider from 10**low to 10**high.

    It starts at ``value`` moved onto its grid of exponents (low + k step): the
    browser snaps an off-grid start to the grid at the first touch, which would
    redraw the old setting before the new one.
    """
    exponent = low + step * round((np.log10(value) - low) / step)
    return widgets.FloatLogSlider(value=10 ** min(max(exponent, low), high), base=10,
                                  min=low, max=high, step=step, description=description,
                                  readout_format=readout_format, continuous_update=True)


def _image_slider(images):
    """Make a slider over the rows of ``images``."""
    return widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="test image",
                             continuous_update=True)


def _missing_slider():
    """Make the slider of the fraction of missing pixels, 0 to 95% (chapters 6 and 8)."""
    return widgets.FloatSlider(value=0.5, min=0.0, max=0.95, step=0.05, description="missing",
                               readout_format=".0%", continuous_update=True)


def _pattern_slider():
    """Make the slider of the seed of the random pattern of missing pixels."""
    return widgets.IntSlider(value=0, min=0, max=20, description="pattern",
                             continuous_update=True)


def step_size_explorer(forward, observation, *, start=-3.0, step_size=0.05, n_steps=10,
                       grid=None):
    """Make sliders for the step size and the starting point of a 1-d inversion.

    Parameters
    ----------
    forward : callable
        A scalar, element-wise forward model.
    observation : float
        Its observation.
    start : float, default -3.0
        The slider's first starting point.
    step_size : float, default 0.05
        The slider's first step size.
    n_steps : int, default 10
        Steps of every descent.
    grid : array-like of shape (n,), optional
        The x range of the landscape; by default -4 to 8 in 241 points.

    Returns
    -------
    ipywidgets.interactive
        Display it in a notebook; its ``figure`` attribute is the one figure
        every move redraws.
    """
    grid = np.linspace(-4.0, 8.0, 241) if grid is None else np.asarray(grid, dtype=float)
    figure = DescentFigure(forward, observation, grid)
    plt.close(figure.fig)

    def show(step_size, start):
        run = descent_path(forward, observation, start, step_size=step_size, n_steps=n_steps)
        _show(figure.show(run, step_size))
        print(f"after {len(run.path) - 1} steps: x = {float(run.path[-1]):.6g}")
        if run.diverged:
            print(run.diverged)

    explorer = widgets.interactive(
        show,
        step_size=_log_slider(step_size, low=-3, high=-0.5, step=0.02,
                              description="step size", readout_format=".3f"),
        start=widgets.FloatSlider(value=start, min=float(grid[0]), max=float(grid[-1]),
                                  step=0.25, description="start x",
                                  continuous_update=True),
    )
    explorer.figure = figure.fig   # the one figure it redraws
    return explorer


def digit_inversion_explorer(G, images, labels, *, n_steps=100, step_size=2e-3):
    """Make sliders for the test image, the number of steps and the step size.

    Parameters
    ----------
    G : array-like, shape (64, k)
        The generator.
    images : array-like, shape (n, 64)
        The test images.
    labels : array-like, shape (n,)
        Their labels.
    n_steps : int, default 100
        The first number of steps; the slider is logarithmic, 1 to 10 000.
    step_size : float, default 2e-3
        The first step size.

    Returns
    -------
    ipywidgets.interactive
        Display it in a notebook.
    """
    stable = float(generator_step_size_bound(np.asarray(G, float)))   # 1 / sigma_max^2
    fig = _one_figure()

    def show(index, log_steps, step_size):
        steps = int(round(10 ** log_steps))
        _, latents = draw_digit_inversion(G, images[index], n_steps=steps,
                                          step_size=step_size, fig=fig)
        _show(fig, f"test image {index} (a {labels[index]}): {steps} steps of size "
              f"{step_size:.2g}, predicted {int(np.argmax(latents))}")
        if step_size >= stable:
            print(f"step size above the stable bound {stable:.3g}: the inversion diverges")

    explorer = widgets.interactive(
        show,
        index=_image_slider(images),
        log_steps=widgets.FloatSlider(value=float(np.log10(n_steps)), min=0, max=4, step=0.25,
                                      description="log10 steps", continuous_update=True),
        step_size=_log_slider(step_size, low=-4, high=float(np.log10(stable)), step=0.1,
                              description="step size", readout_format=".2g"),
    )
    explorer.figure = fig   # the one figure it redraws
    return explorer


def missing_pixels_explorer(model, images, labels):
    """Make sliders for the test image, the fraction of missing pixels and the pattern.

    Parameters
    ----------
    model : InverseNet
        Fitted.
    images : array-like, shape (n, 64)
        The test images.
    labels : array-like, shape (n,)
        Their labels.

    Returns
    -------
    ipywidgets.interactive
        Over :func:`~inverse_lessons.figures.images.draw_fill_in`.
    """
    fig = _one_figure()

    def show(index, fraction, pattern):
        draw_fill_in(model, images[index], fraction=fraction, seed=pattern, fig=fig)
        _show(fig, f"test image {index}, a {labels[index]}")

    explorer = widgets.interactive(
        show,
        index=_image_slider(images),
        fraction=_missing_slider(),
        pattern=_pattern_slider(),
    )
    explorer.figure = fig   # the one figure it redraws
    return explorer


def refinement_explorer(model, images, labels):
    """Make sliders for the test image, the number of inversion steps and the start.

    Parameters
    ----------
    model : NonlinearInverseNet
        Fitted.
    images : array-like, shape (n, 64)
        The test images.
    labels : array-like, shape (n,)
        Their labels.

    Returns
    -------
    ipywidgets.interactive
        Over :func:`~inverse_lessons.figures.images.draw_refinement`.
    """
    fig = _one_figure()

    def show(index, steps, start):
        draw_refinement(model, images[index], steps=(0, steps), start=start, fig=fig)
        _show(fig, f"test image {index}, a {labels[index]}: start {start}")

    explorer = widgets.interactive(
        show,
        index=_image_slider(images),
        steps=widgets.IntSlider(value=20, min=0, max=200, step=5, description="steps",
                                continuous_update=True),
        start=widgets.ToggleButtons(options=["encoder", "zero"], description="start"),
    )
    explorer.figure = fig   # the one figure it redraws
    return explorer


def damage_explorer(model, X_train, y_train, images, labels):
    """Make sliders for the test image, the missing fraction, the noise level and the pattern.

    For each noise level the reader picks, a copy of ``model`` with ``noise_std``
    set to it is fitted on ``X_train, y_train`` and kept, so that the noise
    model always matches the noise shown.

    Parameters
    ----------
    model : AnalysisBySynthesis
        Its settings are used; it need not be fitted.
    X_train : array-like, shape (n_train, 64)
        Training images for the copies.
    y_train : array-like, shape (n_train,)
        Their labels.
    images : array-like, shape (n, 64)
        The test images.
    labels : array-like, shape (n,)
        Their labels.

    Returns
    -------
    ipywidgets.interactive
        Over :func:`~inverse_lessons.figures.images.draw_class_inversions`.
    """
    fitted = {}
    fig = _one_figure()

    def show(index, fraction, sigma, pattern):
        if sigma not in fitted:
            fitted[sigma] = clone(model).set_params(noise_std=sigma or None).fit(X_train, y_train)
        _, label = draw_class_inversions(fitted[sigma], images[index], fraction=fraction,
                                         sigma=sigma, seed=pattern, fig=fig)
        _show(fig, f"test image {index}, a {labels[index]}: predicted {label}")

    explorer = widgets.interactive(
        show,
        index=_image_slider(images),
        fraction=_missing_slider(),
        sigma=widgets.FloatSlider(value=0.0, min=0.0, max=0.6, step=0.1, description="noise σ",
                                  continuous_update=True),
        pattern=_pattern_slider(),
    )
    explorer.figure = fig   # the one figure it redraws
    return explorer
