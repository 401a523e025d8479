"""Scrubbable animations: self-contained, accessible, one frame per value, clear errors."""

import base64
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from inverse_lessons import toy_forward
from inverse_lessons.figures.animation import (
    BUTTON_TEXT,
    inversion_steps_animation,
    offline_jshtml,
    scrubbable,
    step_size_animation,
)
from inverse_lessons.figures.images import plot_inversion

ALT = "A marker moving along a line, one frame per slope value."


def line_animation(slopes):
    fig, ax = plt.subplots(figsize=(3, 2))

    def draw(slope):
        ax.clear()
        ax.plot([0, 1], [0, slope])
        ax.set(title=f"slope {slope}", xlabel="x", ylabel="y", ylim=(-1, 3))

    return scrubbable(fig, draw, slopes, alt=ALT, slider_label="slope").data


def frames(page):
    """The distinct PNG frames embedded in an animation's HTML."""
    return re.findall(r'frames\[\d+\] = "data:image/png;base64,([^"]+)"', page)


def test_one_distinct_frame_per_value():
    page = line_animation([0.0, 1.0, 2.0])
    pngs = frames(page)
    assert len(pngs) == 3 and len(set(pngs)) == 3
    assert all(base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n" for png in pngs)


def test_self_contained_and_accessible():
    page = line_animation([0.0, 1.0])
    assert "http" not in page and "<link" not in page and "fa fa-" not in page
    assert re.search(r'<img id="_anim_img\w+" alt="A marker moving along a line, one frame', page)
    assert re.search(r'type="range" aria-label="slope"', page)
    for title, text in BUTTON_TEXT.items():
        assert re.search(rf'<button title="{title}"[^>]*>{re.escape(text)}</button>', page)


def test_figure_is_closed():
    before = plt.get_fignums()
    line_animation([0.0, 1.0])
    assert plt.get_fignums() == before


def test_each_frame_is_drawn_once_in_order():
    # FuncAnimation.to_jshtml drew every frame three times (and frame 0 once more)
    fig, ax = plt.subplots(figsize=(3, 2))
    calls, draws = [], []
    fig.canvas.mpl_connect("draw_event", lambda event: draws.append(calls[-1]))

    def draw(value):
        calls.append(value)
        ax.set_title(f"value {value}")

    scrubbable(fig, draw, [3, 1, 2], alt=ALT)
    assert calls == [3, 1, 2] and draws == [3, 1, 2]


def test_frames_laid_out_by_tight_layout_are_drawn_once_each():
    # tight_layout leaves a layout engine that makes every save draw the figure twice
    fig, ax = plt.subplots(figsize=(3, 2))
    draws = []
    fig.canvas.mpl_connect("draw_event", lambda event: draws.append(1))

    def draw(value):
        ax.set_title(f"value {value}")
        fig.tight_layout()

    scrubbable(fig, draw, [3, 1, 2], alt=ALT)
    assert len(draws) == 3


def test_a_step_size_frame_is_the_figure_a_fresh_drawing_gives():
    # the frames redraw one figure in place; each must look as if drawn afresh
    import io

    from inverse_lessons.figures.descent import DescentFigure
    from inverse_lessons.inversion.solver import descent_path

    grid = np.linspace(-4, 8, 41)
    page = step_size_animation(toy_forward, 0.0, [0.27, 0.05], start=-3.0, n_steps=10,
                               grid=grid, alt=ALT).data
    fresh = DescentFigure(toy_forward, 0.0, grid)
    fresh.show(descent_path(toy_forward, 0.0, -3.0, step_size=0.05, n_steps=10), 0.05)
    buffer = io.BytesIO()
    fresh.fig.savefig(buffer, format="png", dpi=100)
    plt.close(fresh.fig)
    assert base64.b64decode(frames(page)[1]) == buffer.getvalue()


def test_step_size_animation_titles_each_frame_with_its_step_size():
    grid = np.linspace(-4, 8, 41)
    page = step_size_animation(toy_forward, 0.0, [0.05, 0.27], start=-3.0, n_steps=10,
                               grid=grid, alt=ALT).data
    assert len(set(frames(page))) == 2 and 'aria-label="step size"' in page


def test_bad_input():
    fig = plt.figure()
    with pytest.raises(ValueError, match="values must hold at least two"):
        scrubbable(fig, lambda v: None, [1.0], alt=ALT)
    with pytest.raises(TypeError, match="draw_frame must be callable"):
        scrubbable(fig, "draw", [1.0, 2.0], alt=ALT)
    with pytest.raises(ValueError, match="interval must be positive"):
        scrubbable(fig, lambda v: None, [1.0, 2.0], alt=ALT, interval=0)
    with pytest.raises(ValueError, match="alt must be a non-empty"):
        offline_jshtml('<div class="animation"></div>', alt="  ")
    with pytest.raises(ValueError, match="jshtml must be the HTML string"):
        offline_jshtml("<p>not an animation</p>", alt=ALT)
    plt.close(fig)


def test_unknown_template_is_reported_not_left_broken():
    page = ('<div class="animation"><button title="Rewind" onclick="x()">'
            '<i class="fa fa-x"></i></button>')
    with pytest.raises(ValueError, match="matplotlib changed its template"):
        offline_jshtml(page, alt=ALT)


def test_inversion_steps_animation_has_a_frame_per_step_count():
    rng = np.random.default_rng(0)
    G, x = rng.uniform(size=(64, 10)), rng.uniform(size=64)
    page = inversion_steps_animation(G, x, [1, 10, 100], step_size=1e-3, alt=ALT).data
    assert len(set(frames(page))) == 3 and 'aria-label="number of steps"' in page


def test_frames_redraw_one_figure_with_a_fixed_latent_axis():
    rng = np.random.default_rng(0)
    x, z = rng.uniform(size=64), rng.normal(size=10)
    fig = plot_inversion(x, x, z)
    again = plot_inversion(x, 0 * x, 2 * z, fig=fig, latent_range=(-5.0, 5.0))
    assert again is fig and len(fig.axes) == 4          # cleared, not drawn twice
    assert fig.axes[-1].get_ylim() == (-5.0, 5.0)
    plt.close(fig)
