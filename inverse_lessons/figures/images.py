"""The plots of 8x8 digit images, and the figures that first compute the images they show.

``plot_*`` functions draw images they are given: a grid of digits, one
inversion with its latents, each class's generator and drawings. ``draw_*``
functions first run what the figure shows (an inversion, a fill-in, a
refinement, a class-by-class inversion) and return the figure with its result;
the sliders of :mod:`inverse_lessons.figures.widgets` and the animations of
:mod:`inverse_lessons.figures.animation` call them, so a static figure, a
slider and an animation show the same thing.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from inverse_lessons.damage import add_noise, drop_pixels
from inverse_lessons.data import IMAGE_SHAPE
from inverse_lessons.figures.style import PALETTE
from inverse_lessons.inversion.closed_form import closed_form_inversion

__all__ = [
    "plot_digits",
    "plot_inversion",
    "plot_class_generators",
    "plot_class_reconstructions",
    "draw_digit_inversion",
    "draw_fill_in",
    "draw_refinement",
    "draw_class_inversions",
]


def plot_digits(images, *, titles=None, ncols=10, suptitle=None, size=1.1, cmap="gray_r",
                symmetric=False, fig=None):
    """Plot a grid of 8x8 images; missing pixels (NaN) are drawn in vermillion.

    Parameters
    ----------
    images : array-like, shape (n, 64) or (n, 8, 8)
        The images.
    titles : sequence of n str, optional
        One title per image.
    ncols : int, default 10
        Images per row.
    suptitle : str, optional
        The figure's title.
    size : float, default 1.1
        Inches per image.
    cmap : str, default "gray_r"
        The colour map (unless ``symmetric``).
    symmetric : bool, default False
        A colour scale centred on zero, with a diverging colour map, for
        generator columns or differences, which can be negative.
    fig : matplotlib Figure, optional
        A figure to clear, resize and draw on (a live explorer's one figure);
        by default a new one.

    Returns
    -------
    matplotlib Figure
        The figure.
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
    """Plot one inversion: image, reconstruction G z and difference above, latents below.

    The difference is drawn from -1 (orange: the reconstruction has more ink) to +1 (purple:
    the observation has more), with a colour bar.

    Parameters
    ----------
    observation, reconstruction : array-like, shape (64,)
        The image and G z, pixels in [0, 1].
    latents : array-like, shape (k,)
        z, drawn as bars, the largest in vermillion.
    labels : sequence of k str, optional
        The bars' labels.
    title : str, optional
        The figure's title.
    fig : matplotlib Figure, optional
        A figure to clear and draw on (an animation's frames); by default a new one.
    latent_range : (float, float), optional
        Limits of the latent axis, to keep frames comparable.

    Returns
    -------
    matplotlib Figure
        The figure.
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
    """Plot each class's mean image and its leading generator directions (chapter 8).

    One column per class: the mean on top, the directions below.

    Parameters
    ----------
    means : array-like, shape (C, 64)
        One mean image per class.
    directions : array-like, shape (C, m, 64)
        The first m columns of each class's generator, drawn on a colour scale
        centred on zero (purple and orange for the two signs).
    classes : sequence of C labels, optional
        The columns' titles; by default 0, 1, ...
    suptitle : str, optional
        The figure's title.
    size : float, default 0.9
        Inches per image.

    Returns
    -------
    matplotlib Figure
        The figure.
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
    """Plot one observed image and every class's drawing of it, with its log-likelihood.

    The best-explaining class's title is drawn in vermillion.

    Parameters
    ----------
    image : array-like, shape (64,)
        NaN for a missing pixel (drawn in vermillion).
    reconstructions : array-like, shape (C, 64)
        Each class's drawing.
    log_likelihoods : array-like, shape (C,)
        In nats.
    classes : sequence of C labels, optional
        By default 0, 1, ...
    suptitle : str, optional
        The figure's title.
    size : float, default 1.1
        Inches per image.
    fig : matplotlib Figure, optional
        A figure to redraw (see :func:`plot_digits`).

    Returns
    -------
    matplotlib Figure
        The figure.
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
    """Invert one image with a linear generator and draw it (:func:`plot_inversion`).

    Parameters
    ----------
    G : array-like, shape (64, k)
        The generator.
    observation : array-like, shape (64,)
        The image.
    n_steps : int
        Gradient steps from z = 0, computed in closed form.
    step_size : float
        Their step size.
    title : str, optional
        The figure's title.
    fig : matplotlib Figure, optional
        A figure to redraw; by default a new one.

    Returns
    -------
    figure : matplotlib Figure
        The figure.
    latents : ndarray, shape (k,)
        z after ``n_steps``.
    """
    latents = closed_form_inversion(np.asarray(G, float), np.asarray(observation, float)[None],
                                    n_steps=n_steps, step_size=step_size).numpy()[0]
    fig = plot_inversion(observation, np.asarray(G) @ latents, latents, title=title, fig=fig)
    return fig, latents


def draw_fill_in(model, image, *, fraction, seed=0, fig=None):
    """Remove a fraction of one image's pixels and draw the model's filling-in.

    Panels: the image, the damaged image (missing pixels in vermillion), and
    the generator's drawing G z* from the observed pixels.

    Parameters
    ----------
    model : InverseNet
        Fitted.
    image : array-like, shape (64,)
        The clean image.
    fraction : float
        Fraction of pixels removed, in [0, 1].
    seed : int, default 0
        Seed of the missing pattern.
    fig : matplotlib Figure, optional
        A figure to redraw; by default a new one.

    Returns
    -------
    figure : matplotlib Figure
        The figure.
    label : int
        The model's label for the damaged image.
    """
    damaged = drop_pixels(np.asarray(image, float)[None], fraction, seed=seed)
    filled = np.clip(model.reconstruct(damaged), 0, 1)
    label = model.predict(damaged)[0]
    fig = plot_digits(np.concatenate([np.asarray(image, float)[None], damaged, filled]),
                      ncols=3, size=2.0, fig=fig,
                      titles=["image", f"{fraction:.0%} missing", f"G z*: predicted {label}"])
    return fig, label


def draw_refinement(model, image, *, steps=(0, 5, 20, 100), start="encoder", fig=None):
    """Draw a NonlinearInverseNet's picture g(z_k) of one image after k inversion steps.

    Parameters
    ----------
    model : NonlinearInverseNet
        Fitted; the steps are its own (its ``inner_step_size``).
    image : array-like, shape (64,)
        The image.
    steps : sequence of int, default (0, 5, 20, 100)
        The k to draw.
    start : {"encoder", "zero"}, default "encoder"
        The amortised guess, or zero.
    fig : matplotlib Figure, optional
        A figure to redraw; by default a new one.

    Returns
    -------
    figure : matplotlib Figure
        The figure.
    labels : list
        The predicted label after each entry of ``steps``.
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
    """Damage one image and draw every class's drawing of it (chapter 8).

    Parameters
    ----------
    model : AnalysisBySynthesis
        Fitted, with ``noise_std=sigma`` for a fair noise model.
    image : array-like, shape (64,)
        The clean image.
    fraction : float, default 0.0
        Fraction of pixels that go missing.
    sigma : float, default 0.0
        Standard deviation of the Gaussian noise added (clipped to [0, 1]), in
        pixel units.
    seed : int, default 0
        Seed of both the missing pattern and the noise.
    fig : matplotlib Figure, optional
        A figure to redraw; by default a new one.

    Returns
    -------
    figure : matplotlib Figure
        The figure.
    label : int
        The model's label for the damaged image.
    """
    damaged = drop_pixels(add_noise(np.asarray(image, float)[None], sigma, seed=seed),
                          fraction, seed=seed)
    label = model.predict(damaged)[0]
    fig = plot_class_reconstructions(damaged[0], model.reconstruct(damaged)[0],
                                     model.log_likelihoods(damaged)[0], classes=model.classes_,
                                     fig=fig)
    return fig, label
