"""The plots the chapters share: losses and descent paths here, and every other by name.

This module draws losses over a grid, losses per step, one descent per step
size and paths through a parameter plane (chapters 1-2). It also re-exports
the rest of :mod:`inverse_lessons.figures` that a chapter draws with, so that
one import serves a page:

- :mod:`~inverse_lessons.figures.style`: ``PALETTE``, ``use_book_style``, ``fix_layout``;
- :mod:`~inverse_lessons.figures.images`: the plots of 8x8 images and the ``draw_*``
  figures that first compute what they show;
- :mod:`~inverse_lessons.figures.descent`: the 1-d descent figure that sliders redraw
  in place.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from inverse_lessons.figures.style import PALETTE

__all__ = [
    "plot_loss_landscape",
    "plot_losses",
    "plot_step_size_sweep",
    "plot_parameter_path",
]


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots()
    return ax


def plot_loss_landscape(loss, grid, path=None, *, ax=None, title="Loss landscape",
                        xlabel="x", ylabel="loss L(x)"):
    """Plot the loss over a 1-d grid, with an optional descent path on it.

    Parameters
    ----------
    loss : callable
        Maps a numpy array of shape (n,) to losses of shape (n,).
    grid : array-like, shape (n,)
        Where to draw the loss.
    path : array-like of shape (n_steps + 1,), optional
        The iterates, drawn as dots joined in order, start and end marked.
    ax : matplotlib Axes, optional
        Where to draw; by default new axes.
    title, xlabel, ylabel : str
        The axes' labels.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    ax = _axes(ax)
    grid = np.asarray(grid, dtype=float)
    ax.plot(grid, loss(grid), color=PALETTE["blue"], label="loss")
    if path is not None:
        path = np.asarray(path, dtype=float)
        ax.plot(path, loss(path), "-o", color=PALETTE["vermillion"], markersize=4,
                linewidth=1, label="descent path")
        ax.plot(path[:1], loss(path[:1]), "s", color=PALETTE["black"], label="start")
        ax.plot(path[-1:], loss(path[-1:]), "*", color=PALETTE["green"], markersize=12,
                label="end")
        ax.legend()
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def plot_losses(losses, *, ax=None, title="Loss per step", label=None, log=True,
                xlabel="step", ylabel="loss"):
    """Plot the loss at each step of an iteration, on a log scale by default.

    Parameters
    ----------
    losses : array-like, shape (n_steps + 1,)
        The loss before the first step and after each step.
    ax : matplotlib Axes, optional
        Where to draw; by default new axes.
    title, label, xlabel, ylabel : str
        The axes' labels and the curve's legend label.
    log : bool, default True
        A log scale for the loss.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    ax = _axes(ax)
    losses = np.asarray(losses, dtype=float)
    ax.plot(np.arange(len(losses)), losses, "-o", markersize=3, label=label)
    if log and np.all(losses > 0):
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if label is not None:
        ax.legend()
    return ax


def plot_step_size_sweep(loss, grid, runs, *, ncols=None, suptitle=None, xlabel="x"):
    """Plot one panel per step size: the landscape with that step size's path.

    Parameters
    ----------
    loss, grid
        As for :func:`plot_loss_landscape`.
    runs : list of (str, array-like)
        (label, path) pairs, path the iterates. A path may diverge: it is
        clipped to the panel, whose title says at which step it leaves (a title
        covers no line of the panel).
    ncols : int, optional
        Panels per row; by default all in one row.
    suptitle, xlabel : str, optional
        The figure's title and the x label.

    Returns
    -------
    matplotlib Figure
        The figure.
    """
    ncols = ncols or len(runs)
    nrows = int(np.ceil(len(runs) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows),
                             sharey=True, squeeze=False)
    grid = np.asarray(grid, dtype=float)
    top = float(np.max(loss(grid)))
    for ax, (label, path) in zip(axes.flat, runs, strict=False):   # spare panels hidden below
        plot_loss_landscape(loss, grid, path, ax=ax, title=label, xlabel=xlabel,
                            ylabel="loss" if ax in axes[:, 0] else "")
        ax.set_xlim(grid[0], grid[-1])
        ax.set_ylim(-0.05 * top, 1.05 * top)
        path = np.asarray(path, dtype=float)
        with np.errstate(all="ignore"):
            shown = ((path >= grid[0]) & (path <= grid[-1])
                     & (np.asarray(loss(path), dtype=float) <= 1.05 * top))
        if not shown.all():     # a diverging path leaves the panel: say at which step
            ax.set_title(f"{label}\n(leaves the axes at step {np.argmin(shown)})")
        if ax is not axes.flat[0]:
            ax.get_legend().remove()
    for ax in axes.flat[len(runs):]:
        ax.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle, fontweight="bold")
    fig.tight_layout()
    return fig


def plot_parameter_path(path, *, ax=None, target=None, title="Training path",
                        xlabel="a", ylabel="b", label=None):
    """Plot a path through a 2-d parameter plane, (a, b) during training say.

    Parameters
    ----------
    path : array-like, shape (n, 2)
        The points in order; start and end are marked.
    ax : matplotlib Axes, optional
        Where to draw; by default new axes.
    target : array-like of shape (2,), optional
        A point to mark.
    title, xlabel, ylabel, label : str
        The axes' labels and the path's legend label.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    ax = _axes(ax)
    path = np.asarray(path, dtype=float)
    ax.plot(path[:, 0], path[:, 1], "-", label=label)
    ax.plot(path[0, 0], path[0, 1], "s", color=PALETTE["black"])
    ax.plot(path[-1, 0], path[-1, 1], "*", markersize=12, color=PALETTE["green"])
    if target is not None:
        ax.plot(*target, "x", markersize=10, mew=2, color=PALETTE["vermillion"],
                label="true (a, b)")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return ax
