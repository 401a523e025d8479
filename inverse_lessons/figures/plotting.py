"""The plots the chapters share, and the figures that first compute what they show.

``plot_*`` functions draw data they are given; ``draw_*`` functions first run
the computation a figure shows (a descent, an inversion, a fill-in) and return
the figure with its result. The sliders of :mod:`inverse_lessons.figures.widgets` and
the animations of :mod:`inverse_lessons.figures.animation` call the ``draw_*``
functions, so a static figure, a slider and an animation show the same thing.

The style every figure shares lives in :mod:`inverse_lessons.figures.style`, the
1-d descent figure that sliders redraw in place in
:mod:`inverse_lessons.figures.descent`; both are re-exported here, so that
``from inverse_lessons.figures.plotting import PALETTE, use_book_style`` keeps working.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from inverse_lessons.damage import add_noise, drop_pixels
from inverse_lessons.data import IMAGE_SHAPE
from inverse_lessons.figures.descent import DescentFigure, draw_descent
from inverse_lessons.figures.style import PALETTE, fix_layout, use_book_style
from inverse_lessons.inversion.linear import closed_form_inversion

__all__ = [
    "PALETTE",
    "use_book_style",
    "fix_layout",
    "plot_loss_landscape",
    "plot_losses",
    "plot_step_size_sweep",
    "plot_parameter_path",
    "plot_digits",
    "plot_inversion",
    "plot_class_generators",
    "plot_class_reconstructions",
    "DescentFigure",
    "draw_descent",
    "draw_digit_inversion",
    "draw_fill_in",
    "draw_refinement",
    "draw_class_inversions",
]


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots()
    return ax


def plot_loss_landscape(loss, grid, path=None, *, ax=None, title="Loss landscape",
                        xlabel="x", ylabel="loss L(x)"):
    """The loss over a 1-d grid, with an optional descent path on it.

    loss : callable mapping a numpy array of shape (n,) to losses of shape (n,).
    grid : array of shape (n,), where to draw the loss.
    path : array of shape (n_steps + 1,), the iterates; drawn as numbered dots
        joined in order, start and end marked.
    Returns the axes.
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
    """The loss at each step of an iteration, on a log scale by default.

    losses : array of shape (n_steps + 1,), the loss before the first step and
        after each step. Returns the axes.
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
    """One panel per step size: the landscape with that step size's path.

    runs : list of (label, path) pairs, path an array of iterates. A path may
        be a diverging one (it is clipped to the panel, which says at which step
        it leaves).
    Returns the figure.
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
            ax.text(0.5, 0.97, f"leaves the axes at step {np.argmin(shown)}", fontsize=8,
                    transform=ax.transAxes, ha="center", va="top")
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
    """A path through a 2-d parameter plane, e.g. (a, b) during training.

    path : array of shape (n, 2). target : optional (2,) point to mark.
    Returns the axes.
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


def plot_digits(images, *, titles=None, ncols=10, suptitle=None, size=1.1, cmap="gray_r",
                symmetric=False, fig=None):
    """A grid of 8x8 images.

    images : array (n, 64) or (n, 8, 8). titles : n strings or None.
    symmetric : colour scale centred on zero (for generator columns or
    differences, which can be negative); then a diverging colour map is used.
    Missing pixels (NaN) are drawn in vermillion. fig : a figure to clear,
    resize and draw on (a live explorer's one figure); by default a new one.
    Returns the figure.
    """
    colormap = mpl.colormaps["PuOr" if symmetric else cmap].with_extremes(bad=PALETTE["vermillion"])
    images = np.asarray(images, dtype=float).reshape(len(images), *IMAGE_SHAPE)
    nrows = int(np.ceil(len(images) / ncols))
    # each row of titled images needs room for its titles above it
    figsize = (size * ncols, (size + (0.3 if titles is not None else 0.0)) * nrows + 0.4)
    fig = plt.figure() if fig is None else fig
    fig.clear()
    fig.set_size_inches(*figsize)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        image = images[i]
        if symmetric:
            limit = np.nanmax(np.abs(image)) or 1.0
            ax.imshow(image, cmap=colormap, vmin=-limit, vmax=limit)
        else:
            ax.imshow(image, cmap=colormap, vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9, fontweight="normal")
    if suptitle:
        fig.suptitle(suptitle, fontweight="bold")
    fig.tight_layout()
    return fig


def plot_inversion(observation, reconstruction, latents, *, labels=None, title=None, fig=None,
                   latent_range=None):
    """One inverted image: observation, reconstruction G z and difference above, latent bars below.

    observation, reconstruction : arrays (64,); latents : (k,).
    fig : a figure to clear and draw on (an animation's frames); by default a new one.
    latent_range : optional (low, high) limits of the latent axis, to keep frames comparable.
    The difference is drawn from -1 (orange: the reconstruction has more ink) to +1 (purple:
    the observation has more), with a colour bar. Returns the figure.
    """
    observation = np.asarray(observation, dtype=float)
    reconstruction = np.asarray(reconstruction, dtype=float)
    latents = np.asarray(latents, dtype=float)
    # 6.6 in wide: the book's text column shows it at full size, so text keeps its size
    fig = plt.figure() if fig is None else fig
    fig.clear()
    fig.set_size_inches(6.6, 4.6)
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 1.1])
    panels = [("observation x", observation, "gray_r", 0, 1),
              ("reconstruction G z", reconstruction, "gray_r", 0, 1),
              ("difference x - G z", observation - reconstruction, "PuOr", -1, 1)]
    for j, (name, image, cmap, lo, hi) in enumerate(panels):
        ax = fig.add_subplot(grid[0, j])
        shown = ax.imshow(image.reshape(IMAGE_SHAPE), cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    # which colour is which sign; an inset, so the figure keeps its four axes
    bar = fig.colorbar(shown, cax=ax.inset_axes([1.06, 0.0, 0.07, 1.0]), ticks=[lo, 0, hi])
    bar.ax.set_yticklabels([f"{lo:+g}", "0", f"{hi:+g}"], fontsize=8)
    ax = fig.add_subplot(grid[1, :])
    positions = np.arange(len(latents))
    colors = [PALETTE["vermillion"] if i == np.argmax(latents) else PALETTE["blue"]
              for i in positions]
    ax.bar(positions, latents, color=colors)
    ax.set_xticks(positions, labels if labels is not None else positions)
    ax.axhline(0, color=PALETTE["black"], linewidth=0.8)
    ax.set(title="latent z (largest in vermillion)", xlabel="latent (class)",
           ylabel="weight")
    if latent_range is not None:
        ax.set_ylim(*latent_range)
    if title:
        fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


def plot_class_generators(means, directions, *, classes=None, suptitle=None, size=0.9):
    """Each class's mean image and its leading generator directions (chapter 8).

    means : (C, 64) one mean image per class; directions : (C, m, 64) the first
    m columns of each class's generator, drawn on a colour scale centred on
    zero (purple and orange for the two signs). One column per class: the mean
    on top, the directions below. Returns the figure.
    """
    means = np.asarray(means, dtype=float)
    directions = np.asarray(directions, dtype=float)
    n_classes, m = directions.shape[0], directions.shape[1]
    classes = range(n_classes) if classes is None else classes
    fig, axes = plt.subplots(m + 1, n_classes, figsize=(size * n_classes, size * (m + 1) + 0.6),
                             squeeze=False)
    for c, label in enumerate(classes):
        axes[0, c].imshow(means[c].reshape(IMAGE_SHAPE), cmap="gray_r", vmin=0, vmax=1)
        axes[0, c].set_title(f"class {label}", fontsize=9, fontweight="normal")
        for j in range(m):
            image = directions[c, j].reshape(IMAGE_SHAPE)
            limit = np.abs(image).max() or 1.0
            axes[j + 1, c].imshow(image, cmap="PuOr", vmin=-limit, vmax=limit)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0, 0].set_ylabel("mean", fontsize=9)
    for j in range(m):
        axes[j + 1, 0].set_ylabel(f"direction {j + 1}", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontweight="bold")
    fig.tight_layout()
    return fig


def plot_class_reconstructions(image, reconstructions, log_likelihoods, *, classes=None,
                               suptitle=None, size=1.1, fig=None):
    """One observed image and every class's drawing of it, with its log-likelihood.

    image : (64,), NaN for missing pixels (drawn in vermillion);
    reconstructions : (C, 64) each class's drawing; log_likelihoods : (C,) in
    nats. The best-explaining class's title is drawn in vermillion. fig : a
    figure to redraw (see :func:`plot_digits`). Returns the figure.
    """
    log_likelihoods = np.asarray(log_likelihoods, dtype=float)
    classes = list(range(len(log_likelihoods))) if classes is None else list(classes)
    best = int(np.argmax(log_likelihoods))
    titles = ["observed"] + [f"{c}: {ll:.0f}"
                             for c, ll in zip(classes, log_likelihoods, strict=True)]
    images = np.concatenate([np.asarray(image, float)[None],
                             np.clip(np.asarray(reconstructions, float), 0, 1)])
    fig = plot_digits(images, ncols=len(images), titles=titles, suptitle=suptitle, size=size,
                      fig=fig)
    fig.axes[best + 1].title.set_color(PALETTE["vermillion"])
    fig.axes[best + 1].title.set_fontweight("bold")
    return fig


def draw_digit_inversion(G, observation, *, n_steps, step_size, title=None, fig=None):
    """Invert one image with a linear generator and draw it (plain function).

    G : (64, k); observation : (64,); fig : a figure to redraw (default: a new
    one). Returns (figure, latents (k,)).
    """
    latents = closed_form_inversion(np.asarray(G, float), np.asarray(observation, float)[None],
                                    n_steps=n_steps, step_size=step_size).numpy()[0]
    fig = plot_inversion(observation, np.asarray(G) @ latents, latents, title=title, fig=fig)
    return fig, latents


def draw_fill_in(model, image, *, fraction, seed=0, fig=None):
    """One image with a fraction of its pixels removed, and the model's filling-in.

    model : a fitted InverseNet; image : (64,). Returns (figure, predicted label).
    Panels: the image, the damaged image (missing pixels in vermillion), and
    the generator's drawing G z* from the observed pixels. fig : a figure to
    redraw (default: a new one).
    """
    damaged = drop_pixels(np.asarray(image, float)[None], fraction, seed=seed)
    filled = np.clip(model.reconstruct(damaged), 0, 1)
    label = model.predict(damaged)[0]
    fig = plot_digits(np.concatenate([np.asarray(image, float)[None], damaged, filled]),
                      ncols=3, size=2.0, fig=fig,
                      titles=["image", f"{fraction:.0%} missing", f"G z*: predicted {label}"])
    return fig, label


def draw_refinement(model, image, *, steps=(0, 5, 20, 100), start="encoder", fig=None):
    """A fitted NonlinearInverseNet's drawing g(z_k) of one image after k inversion steps.

    The steps are the model's own (its ``inner_step_size``), from ``start``:
    "encoder" (the amortised guess) or "zero". Returns (figure, predicted
    labels, one per entry of ``steps``). fig : a figure to redraw (default: a
    new one).
    """
    x = np.asarray(image, float)[None]
    pictures, predictions = [np.asarray(image, float)], []
    for k in steps:
        z = model.invert(x, n_steps=k, start=start)
        pictures.append(model.decode(z)[0])
        predictions.append(model.classify_codes(z)[0])
    titles = ["image"] + [f"{k} steps: {p}" for k, p in zip(steps, predictions, strict=True)]
    fig = plot_digits(np.stack(pictures), ncols=len(pictures), titles=titles, size=1.6,
                      fig=fig)
    return fig, predictions


def draw_class_inversions(model, image, *, fraction=0.0, sigma=0.0, seed=0, fig=None):
    """One image, damaged, and every class's drawing of it (chapter 8).

    model : a fitted ``AnalysisBySynthesis`` (fitted with ``noise_std=sigma``
    for a fair noise model); image : (64,). A ``fraction`` of the pixels goes
    missing and Gaussian noise of standard deviation ``sigma`` (clipped to
    [0, 1]) is added, both drawn with ``seed``. fig : a figure to redraw
    (default: a new one). Returns (figure, predicted label).
    """
    damaged = drop_pixels(add_noise(np.asarray(image, float)[None], sigma, seed=seed),
                          fraction, seed=seed)
    label = model.predict(damaged)[0]
    fig = plot_class_reconstructions(damaged[0], model.reconstruct(damaged)[0],
                                     model.log_likelihoods(damaged)[0], classes=model.classes_,
                                     fig=fig)
    return fig, label
