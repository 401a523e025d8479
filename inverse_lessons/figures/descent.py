"""The figure of a 1-d descent, drawn once and then updated in place.

A slider (:mod:`inverse_lessons.figures.widgets`) and an animation
(:mod:`inverse_lessons.figures.animation`) redraw the same descent for many step
sizes; :class:`DescentFigure` keeps the figure, its axes and its layout, and
changes only the lines a new run changes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from inverse_lessons._tf import tf
from inverse_lessons.figures.style import PALETTE, fix_layout
from inverse_lessons.inversion.solver import descent_path

__all__ = ["DescentFigure", "draw_descent", "LOSS_FLOOR"]

#: The loss panel's log scale cannot show a loss of 0 (a step of one over the
#: curvature lands exactly): losses below this are drawn at it, and the panel says so.
LOSS_FLOOR = 1e-20


def _numpy_loss(forward, observation):
    """Return the inversion loss of a scalar, element-wise forward model as a numpy function."""
    def loss(z):
        prediction = forward(tf.constant(np.asarray(z, dtype=float))).numpy()
        return np.square(float(observation) - prediction)
    return loss


class DescentFigure:
    """Draw a 1-d descent once, then update it in place.

    Left: the loss landscape (drawn once) with the descent path on it; right:
    the loss per step on a log scale (losses below :data:`LOSS_FLOOR` drawn at
    it, with a note). :meth:`show` changes only what a new run
    changes (the path, its markers, the loss curve, the titles): no new figure,
    axes or layout per update, which is what keeps a slider and an animation's
    frames quick. The layout is fixed once, so every update has the same size.

    Parameters
    ----------
    forward : callable
        A scalar, element-wise forward model.
    observation : float
        Its observation; the loss is L(x) = (observation - forward(x))^2.
    grid : array-like, shape (n,)
        The x range of the landscape.
    figsize : (float, float), default (6.6, 3.0)
        Inches; 6.6 wide fits the book's text column at full size.
    xlabel : str, default "x"
        The latent's name on the axes.
    axes : pair of matplotlib Axes, optional
        Empty axes to draw on instead of a new figure (say, one above the
        other); ``figsize`` is then ignored.
    """

    def __init__(self, forward, observation, grid, *, figsize=(6.6, 3.0), xlabel="x",
                 axes=None):
        grid = np.asarray(grid, dtype=float)
        self.loss = loss = _numpy_loss(forward, observation)
        if axes is None:
            self.fig, (self.left, self.right) = plt.subplots(1, 2, figsize=figsize)
        else:
            self.left, self.right = axes
            self.fig = self.left.figure
        landscape = loss(grid)
        top = float(np.max(landscape))
        left = self.left
        left.plot(grid, landscape, color=PALETTE["blue"], label="loss")
        self.path_line, = left.plot([], [], "-o", color=PALETTE["vermillion"], markersize=4,
                                    linewidth=1, label="descent path")
        self.start_marker, = left.plot([], [], "s", color=PALETTE["black"], label="start")
        self.end_marker, = left.plot([], [], "*", color=PALETTE["green"], markersize=12,
                                     label="end")
        # head room above the landscape for the legend, so it never covers the path
        left.set(xlim=(grid[0], grid[-1]), ylim=(-0.05 * top, 1.5 * top),
                 xlabel=xlabel, ylabel=f"loss L({xlabel})", title="Descent path")
        # opaque, so a diverging path's zig-zag passes behind it, not through its text
        left.legend(loc="upper center", ncols=2, fontsize=9, handlelength=1.5,
                    columnspacing=1.0, frameon=True, framealpha=1.0,
                    edgecolor="none")
        self.loss_curve, = self.right.plot([], [], "-o", markersize=3)
        self.right.set(xlabel="step", ylabel="loss", yscale="log", title="Loss per step")
        # labels on the powers of ten only: a narrow range's labelled minor ticks
        # (2 x 10^2, ...) are wide enough to run into the axis label
        self.right.yaxis.set_minor_formatter(NullFormatter())
        self.floor_note = self.right.text(0.97, 0.97, "", transform=self.right.transAxes,
                                          ha="right", va="top", fontsize=8)
        self.fig.tight_layout()
        fix_layout(self.fig)

    def show(self, run, step_size):
        """Draw a run of the descent.

        Parameters
        ----------
        run : DescentPath
            From :func:`~inverse_lessons.inversion.solver.descent_path`.
        step_size : float
            Its step size, shown in the title.

        Returns
        -------
        matplotlib Figure
            The updated figure.
        """
        path = np.asarray(run.path, dtype=float)
        losses = np.asarray(run.losses, dtype=float)
        path_losses = self.loss(path)
        self.path_line.set_data(path, path_losses)
        self.start_marker.set_data(path[:1], path_losses[:1])
        self.end_marker.set_data(path[-1:], path_losses[-1:])
        shown = np.maximum(losses, LOSS_FLOOR)
        self.loss_curve.set_data(np.arange(len(losses)), shown)
        clipped = bool(np.any(losses < LOSS_FLOOR))
        self.floor_note.set_text(f"losses < {LOSS_FLOOR:.0e} drawn at {LOSS_FLOOR:.0e}" if clipped
                                 else "")
        low, high = shown.min() / 2, shown.max() * 2
        if np.floor(np.log10(high)) < np.ceil(np.log10(low)):   # no power of ten inside
            low = 10.0 ** np.floor(np.log10(low))
        self.right.set_xlim(-0.5, max(len(losses) - 0.5, 1.5))
        self.right.set_ylim(low, high)
        self.left.set_title(f"Descent path, step size {step_size:.3g}")
        self.right.set_title("Loss per step" + (" (diverged)" if run.diverged else ""))
        return self.fig


def draw_descent(forward, observation, *, step_size, start, n_steps, grid, axes=None):
    """Run one descent and draw it: landscape with path (left), loss per step (right).

    Sliders and animations that redraw it keep a :class:`DescentFigure` instead.

    Parameters
    ----------
    forward, observation, grid, axes
        As for :class:`DescentFigure`.
    step_size : float
        The step size.
    start : float
        The first iterate.
    n_steps : int
        The number of steps.

    Returns
    -------
    figure : matplotlib Figure
        The figure; a diverged run says so in the title.
    run : DescentPath
        The iterates and losses.
    """
    run = descent_path(forward, observation, start, step_size=step_size, n_steps=n_steps)
    figure = DescentFigure(forward, observation, grid, axes=axes)
    return figure.show(run, step_size), run
