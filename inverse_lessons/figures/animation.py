"""Scrubbable animations: a slider's effect shown without a Python kernel.

The rendered book has no kernel behind it, so an ipywidgets slider there would
be dead. :func:`scrubbable` draws one frame per parameter value and returns
self-contained HTML in the format of matplotlib's ``to_jshtml``: the frames are
embedded as PNG data, and a plain HTML range input and buttons step through them
in any browser. Each frame is drawn once (``FuncAnimation.to_jshtml`` draws
every frame three times), and the figures here redraw only what changes.

matplotlib's template loads an icon font from a CDN for its buttons; here the
buttons are labelled with ordinary characters instead (each keeps its title and
aria-label), so the animation makes no request to any other host and looks the
same in the book, in JupyterLab and offline. The frame image gets alt text.
"""

from __future__ import annotations

import html
import re
import tempfile
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML
from matplotlib.animation import HTMLWriter

from inverse_lessons._validation import check_positive
from inverse_lessons.figures.descent import DescentFigure
from inverse_lessons.figures.images import plot_inversion
from inverse_lessons.figures.style import fix_layout
from inverse_lessons.inversion.closed_form import closed_form_inversion
from inverse_lessons.inversion.solver import descent_path

__all__ = ["scrubbable", "offline_jshtml", "step_size_animation", "inversion_steps_animation"]

#: Text for each of to_jshtml's icon buttons, keyed by the button's title.
BUTTON_TEXT = {
    "Decrease speed": "\u2212",     # minus sign
    "First frame": "\u21e4",        # leftwards arrow to bar
    "Previous frame": "\u2039",     # single left-pointing angle quotation mark
    "Play backwards": "\u25c0",     # black left-pointing triangle
    "Pause": "\u275a\u275a",        # heavy vertical bars
    "Play": "\u25b6",               # black right-pointing triangle
    "Next frame": "\u203a",         # single right-pointing angle quotation mark
    "Last frame": "\u21e5",         # rightwards arrow to bar
    "Increase speed": "+",
}

_BUTTON = re.compile(r'(<button title="([^"]+)"[^>]*>)\s*<i class="fa [^"]*"></i>\s*(</button>)')
_STYLESHEET = re.compile(r'<link rel="stylesheet"\s+href="[^"]*"\s*/?>')


def offline_jshtml(jshtml, *, alt, slider_label="frame"):
    """Make matplotlib's ``to_jshtml`` output self-contained and accessible.

    Parameters
    ----------
    jshtml : str
        The HTML from ``Animation.to_jshtml()``.
    alt : str
        Alt text for the frame image (what the frames show, and the point).
    slider_label : str, default "frame"
        Accessible name of the frame slider.

    Returns
    -------
    str
        The HTML with no external stylesheet, text-labelled buttons, alt text
        on the frame image and an accessible name on the slider.

    Raises
    ------
    ValueError
        If ``jshtml`` is not the output of ``to_jshtml``.
    """
    if not isinstance(jshtml, str) or 'class="animation"' not in jshtml:
        raise ValueError("jshtml must be the HTML string returned by Animation.to_jshtml()")
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("alt must be a non-empty description of the animation's frames")
    out = _STYLESHEET.sub("", jshtml)

    def button(match):
        opening, title, closing = match.groups()
        if title not in BUTTON_TEXT:
            raise ValueError(f"unexpected to_jshtml button {title!r}: "
                             "matplotlib changed its template")
        return f"{opening}{BUTTON_TEXT[title]}{closing}"

    out = _BUTTON.sub(button, out)
    if "fa fa-" in out:
        raise ValueError("to_jshtml icon left over: matplotlib changed its template")
    out = re.sub(r'<img id="(_anim_img\w+)">',
                 lambda m: f'<img id="{m.group(1)}" alt="{html.escape(alt)}">', out)
    out = re.sub(r'(<input id="_anim_slider\w+" type="range")',
                 lambda m: f'{m.group(1)} aria-label="{html.escape(slider_label)}"', out)
    return out


def scrubbable(fig, draw_frame, values, *, alt, slider_label="frame", interval=600, dpi=100):
    """Animate a figure over parameter values that the reader scrubs with a slider.

    The figure is closed, so it is not shown a second time.

    Parameters
    ----------
    fig : matplotlib Figure
        The figure every frame is drawn on.
    draw_frame : callable
        ``draw_frame(value)`` redraws ``fig`` for one value (clear its axes
        first); each frame should say its value, in a title say.
    values : sequence
        The parameter values, one frame each (at least two).
    alt : str
        Alt text for the frames, written for someone who cannot see them.
    slider_label : str, default "frame"
        Accessible name of the slider, the parameter it moves.
    interval : int, default 600
        Milliseconds per frame when played.
    dpi : float, default 100
        Resolution of the frames (the book's figures are drawn at 100 dpi, so
        text keeps its point size).

    Returns
    -------
    IPython.display.HTML
        Needs no kernel and no network.
    """
    values = list(values)
    if len(values) < 2:
        raise ValueError(f"values must hold at least two parameter values, got {len(values)}")
    if not callable(draw_frame):
        raise TypeError("draw_frame must be callable as draw_frame(value)")
    check_positive("interval", interval)
    check_positive("dpi", dpi)
    writer = HTMLWriter(fps=1000.0 / interval, embed_frames=True, default_mode="once")
    try:
        with tempfile.TemporaryDirectory() as folder, mpl.rc_context({"savefig.bbox": None}):
            page = Path(folder) / "animation.html"
            with writer.saving(fig, page, dpi):
                for value in values:
                    draw_frame(value)
                    fix_layout(fig)
                    writer.grab_frame()          # one draw per frame (fix_layout)
            jshtml = page.read_text()
    finally:
        plt.close(fig)
    return HTML(offline_jshtml(jshtml, alt=alt, slider_label=slider_label))


def step_size_animation(forward, observation, step_sizes, *, start, n_steps, grid, alt):
    """Animate the step-size slider's effect, for the rendered book.

    One frame per step size, the picture of
    :func:`~inverse_lessons.figures.descent.draw_descent` drawn on one
    :class:`~inverse_lessons.figures.descent.DescentFigure` whose landscape is
    drawn once.

    Parameters
    ----------
    forward, observation, grid
        As for :class:`~inverse_lessons.figures.descent.DescentFigure`.
    step_sizes : sequence of float
        At least two, positive.
    start : float
        The first iterate.
    n_steps : int
        Steps of every descent.
    alt : str
        Describes the frames for someone who cannot see them.

    Returns
    -------
    IPython.display.HTML
        See :func:`scrubbable`.
    """
    figure = DescentFigure(forward, observation, grid)

    def draw(step_size):
        run = descent_path(forward, observation, start, step_size=step_size, n_steps=n_steps)
        figure.show(run, step_size)

    return scrubbable(figure.fig, draw, step_sizes, alt=alt, slider_label="step size")


def inversion_steps_animation(G, observation, step_counts, *, step_size, alt):
    """Animate the steps slider's effect, for the rendered book.

    One frame per number of gradient steps: the picture of
    :func:`~inverse_lessons.figures.images.draw_digit_inversion`, with the
    latent axis the same in every frame.

    Parameters
    ----------
    G : array-like, shape (64, k)
        The generator.
    observation : array-like, shape (64,)
        The image.
    step_counts : sequence of int
        At least two.
    step_size : float
        The step size.
    alt : str
        Describes the frames for someone who cannot see them.

    Returns
    -------
    IPython.display.HTML
        See :func:`scrubbable`.
    """
    G = np.asarray(G, dtype=float)
    observation = np.asarray(observation, dtype=float)
    latents = {n: closed_form_inversion(G, observation[None], n_steps=n,
                                        step_size=step_size).numpy()[0] for n in step_counts}
    every = np.concatenate(list(latents.values()))
    pad = 0.05 * (every.max() - every.min())
    latent_range = (min(0.0, every.min()) - pad, every.max() + pad)
    fig = plt.figure()          # plot_inversion sizes it (the text column's width)

    def draw(n_steps):
        z = latents[n_steps]
        plot_inversion(observation, G @ z, z, fig=fig, latent_range=latent_range,
                       title=f"After {n_steps} step{'s' * (n_steps != 1)}: "
                       f"predicts {int(np.argmax(z))}")

    return scrubbable(fig, draw, step_counts, alt=alt, slider_label="number of steps")
