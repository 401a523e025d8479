"""Interactive explorers for the live notebooks (ipywidgets).

Each explorer is a thin layer of sliders over a plain function that tests and
the static figures of the rendered book call too (here
:func:`inverse_lessons.solver.descent_path` and :func:`draw_descent`). The
rendered site has no kernel, so the chapters show the same effect as a static
sweep next to each explorer, or as a scrubbable animation that needs no kernel
(:func:`step_size_animation`, :func:`inversion_steps_animation`).
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .animation import scrubbable
from .damage import add_noise, drop_pixels
from ._tf import tf
from .linear_inversion import closed_form_inversion, spectral_step_size
from .nonlinear import invert_decoder
from .plotting import (plot_class_reconstructions, plot_digits, plot_inversion,
                       plot_loss_landscape, plot_losses)
from .solver import descent_path

__all__ = [
    "damage_explorer",
    "digit_inversion_explorer",
    "draw_class_inversions",
    "draw_descent",
    "draw_digit_inversion",
    "draw_fill_in",
    "draw_refinement",
    "inversion_steps_animation",
    "missing_pixels_explorer",
    "refinement_explorer",
    "step_size_animation",
    "step_size_explorer",
]


def _numpy_loss(forward, observation):
    """The inversion loss of a scalar, element-wise forward model at every point of an array."""
    def loss(z):
        prediction = forward(tf.constant(np.asarray(z, dtype=float))).numpy()
        return np.square(float(observation) - prediction)
    return loss


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


def draw_descent(forward, observation, *, step_size, start, n_steps, grid, axes=None):
    """Figure of one descent: landscape with path (left), loss per step (right).

    forward, observation : a scalar forward model and its observation.
    grid : array of shape (n,), the x range of the landscape.
    axes : optional pair of axes to clear and draw on (an animation's frames);
        by default a new figure.
    Returns (figure, DescentPath); a diverged run says so in the title.
    """
    run = descent_path(forward, observation, start, step_size=step_size, n_steps=n_steps)
    if axes is None:
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    else:
        left, right = axes
        fig = left.figure
        left.clear()
        right.clear()
    loss = _numpy_loss(forward, observation)
    plot_loss_landscape(loss, grid, run.path, ax=left,
                        title=f"Descent path, step size {step_size:.3g}")
    top = float(np.max(loss(np.asarray(grid))))
    left.set_ylim(-0.05 * top, 1.05 * top)
    left.set_xlim(grid[0], grid[-1])
    plot_losses(run.losses, ax=right,
                title="Loss per step" + (" (diverged)" if run.diverged else ""))
    fig.tight_layout()
    return fig, run


def step_size_explorer(forward, observation, *, start=-3.0, step_size=0.05, n_steps=10,
                       grid=np.linspace(-4.0, 8.0, 241)):
    """Sliders for the step size and the starting point of a 1-d inversion.

    Returns an ``ipywidgets.interactive``; display it in a notebook.
    """
    grid = np.asarray(grid, dtype=float)

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


def step_size_animation(forward, observation, step_sizes, *, start, n_steps, grid, alt):
    """The step-size slider's effect as a scrubbable animation, for the rendered book.

    One frame of :func:`draw_descent` per value of ``step_sizes`` (a sequence of
    at least two positive floats); ``alt`` describes the frames for someone who
    cannot see them. Returns an ``IPython.display.HTML`` (see
    :func:`inverse_lessons.animation.scrubbable`).
    """
    grid = np.asarray(grid, dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))

    def draw(step_size):
        draw_descent(forward, observation, step_size=step_size, start=start, n_steps=n_steps,
                     grid=grid, axes=axes)

    return scrubbable(fig, draw, step_sizes, alt=alt, slider_label="step size")


def draw_digit_inversion(G, observation, *, n_steps, step_size, title=None):
    """Invert one image with a linear generator and draw it (plain function).

    G : (64, k); observation : (64,). Returns (figure, latents (k,)).
    """
    latents = closed_form_inversion(np.asarray(G, float), np.asarray(observation, float)[None],
                                    n_steps=n_steps, step_size=step_size).numpy()[0]
    fig = plot_inversion(observation, np.asarray(G) @ latents, latents, title=title)
    return fig, latents


def inversion_steps_animation(G, observation, step_counts, *, step_size, alt):
    """The steps slider's effect as a scrubbable animation, for the rendered book.

    One frame per number of gradient steps in ``step_counts`` (at least two): the
    picture of :func:`draw_digit_inversion`, with the latent axis the same in every frame.
    G : (64, k); observation : (64,); ``alt`` describes the frames. Returns an
    ``IPython.display.HTML`` (see :func:`inverse_lessons.animation.scrubbable`).
    """
    G = np.asarray(G, dtype=float)
    observation = np.asarray(observation, dtype=float)
    latents = {n: closed_form_inversion(G, observation[None], n_steps=n,
                                        step_size=step_size).numpy()[0] for n in step_counts}
    every = np.concatenate(list(latents.values()))
    pad = 0.05 * (every.max() - every.min())
    latent_range = (min(0.0, every.min()) - pad, every.max() + pad)
    fig = plt.figure(figsize=(11, 2.9))

    def draw(n_steps):
        z = latents[n_steps]
        plot_inversion(observation, G @ z, z, fig=fig, latent_range=latent_range,
                       title=f"After {n_steps} steps: predicts {int(np.argmax(z))}")

    return scrubbable(fig, draw, step_counts, alt=alt, slider_label="number of steps")


def digit_inversion_explorer(G, images, labels, *, n_steps=100, step_size=2e-3):
    """Sliders for the test image, the number of steps and the step size.

    G : (64, k) generator; images : (n, 64); labels : (n,). The steps slider is
    logarithmic (1 to 10 000). Returns an ``ipywidgets.interactive``.
    """
    stable = float(spectral_step_size(np.asarray(G, float), scale=1.0))   # 1 / sigma_max^2

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


def draw_fill_in(model, image, *, fraction, seed=0):
    """One image with a fraction of its pixels removed, and the model's filling-in.

    model : a fitted InverseNet; image : (64,). Returns (figure, predicted label).
    Panels: the image, the damaged image (missing pixels in vermillion), and
    the generator's drawing G z* from the observed pixels.
    """
    damaged = drop_pixels(np.asarray(image, float)[None], fraction, seed=seed)
    filled = np.clip(model.reconstruct(damaged), 0, 1)
    label = model.predict(damaged)[0]
    fig = plot_digits(np.concatenate([np.asarray(image, float)[None], damaged, filled]),
                      ncols=3, size=2.0,
                      titles=["image", f"{fraction:.0%} missing", f"G z*: predicted {label}"])
    return fig, label


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


def draw_refinement(model, image, *, steps=(0, 5, 20, 100), start="encoder", step_size=0.05):
    """A fitted NonlinearInverseNet's drawing g(z_k) of one image after k inversion steps.

    start : "encoder" (the amortised guess) or "zero". Returns (figure,
    predicted labels, one per entry of ``steps``).
    """
    x = tf.constant(np.asarray(image, float)[None], tf.float32)
    z0 = model.encoder_(x) if start == "encoder" else tf.zeros((1, model.n_latent))
    pictures, predictions = [np.asarray(image, float)], []
    for k in steps:
        z = invert_decoder(model.decoder_, x, z0, n_steps=k, step_size=step_size)
        pictures.append(model.decoder_(z).numpy()[0])
        predictions.append(model.classes_[int(np.argmax(model.head_(z).numpy()[0]))])
    titles = ["image"] + [f"{k} steps: {p}" for k, p in zip(steps, predictions)]
    fig = plot_digits(np.stack(pictures), ncols=len(pictures), titles=titles, size=1.6)
    return fig, predictions


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


def draw_class_inversions(model, image, *, fraction=0.0, sigma=0.0, seed=0):
    """One image, damaged, and every class's drawing of it (chapter 8).

    model : a fitted ``AnalysisBySynthesis`` (fitted with ``noise_std=sigma``
    for a fair noise model); image : (64,). A ``fraction`` of the pixels goes
    missing and Gaussian noise of standard deviation ``sigma`` (clipped to
    [0, 1]) is added, both drawn with ``seed``. Returns (figure, predicted label).
    """
    damaged = drop_pixels(add_noise(np.asarray(image, float)[None], sigma, seed=seed),
                          fraction, seed=seed)
    label = model.predict(damaged)[0]
    fig = plot_class_reconstructions(damaged[0], model.reconstruct(damaged)[0],
                                     model.log_likelihoods(damaged)[0], classes=model.classes_)
    return fig, label


def damage_explorer(model, X_train, y_train, images, labels):
    """Sliders for the test image, the missing fraction, the noise level and the pattern.

    model : an ``AnalysisBySynthesis`` (its settings are used); for each noise
    level a copy with ``noise_std`` set to it is fitted on ``X_train, y_train``
    (well under a second) and kept. Returns an ``ipywidgets.interactive`` over
    :func:`draw_class_inversions`.
    """
    from sklearn.base import clone

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
