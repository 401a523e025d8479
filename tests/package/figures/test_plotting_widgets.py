"""Figures have titles, labels and opaque backgrounds; explorers call plain functions."""

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest

from inverse_lessons import toy_forward
from inverse_lessons.figures.descent import LOSS_FLOOR, DescentFigure, draw_descent
from inverse_lessons.figures.images import plot_digits, plot_inversion
from inverse_lessons.figures.plotting import plot_step_size_sweep
from inverse_lessons.figures.style import fix_layout, use_book_style
from inverse_lessons.figures.widgets import step_size_explorer
from inverse_lessons.inversion.solver import descent_path


def png(fig):
    """The figure drawn to PNG at its own size: the bytes the reader sees."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def sliders(explorer):
    return [c for c in explorer.children if hasattr(c, "continuous_update")]


def test_book_style_saves_an_opaque_white_figure():
    # readable on a dark page: every pixel of the saved PNG, even off the axes, is opaque
    use_book_style()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    buffer.seek(0)
    pixels = plt.imread(buffer)
    assert pixels.shape[2] == 3 or np.all(pixels[..., 3] == 1.0)
    np.testing.assert_array_equal(pixels[0, 0, :3], [1.0, 1.0, 1.0])


def test_draw_descent_labels_every_axis():
    fig, run = draw_descent(toy_forward, 0.0, step_size=0.05, start=-3.0, n_steps=10,
                            grid=np.linspace(-4, 8, 50))
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert run.diverged is None
    assert float(run.path[-1]) == pytest.approx(2 - 5 * 0.6**10, rel=1e-12)
    plt.close(fig)


def test_draw_descent_on_given_axes_draws_there():
    fig, axes = plt.subplots(2, 1)
    drawn, _ = draw_descent(toy_forward, 0.0, step_size=0.05, start=-3.0, n_steps=10,
                            grid=np.linspace(-4, 8, 50), axes=axes)
    assert drawn is fig and len(fig.axes) == 2 and axes[1].get_yscale() == "log"
    plt.close(fig)


def test_draw_descent_reports_divergence_in_title():
    fig, run = draw_descent(toy_forward, 0.0, step_size=0.3, start=-3.0, n_steps=10,
                            grid=np.linspace(-4, 8, 50))
    assert run.diverged and "diverged" in fig.axes[1].get_title()
    plt.close(fig)


def test_descent_figure_updated_in_place_draws_what_a_fresh_one_draws():
    # a stale artist or limit left from the previous run would change the picture
    use_book_style()
    grid = np.linspace(-4, 8, 60)
    runs = {s: descent_path(toy_forward, 0.0, -3.0, step_size=s, n_steps=10)
            for s in (0.3, 0.05)}                       # a diverging run, then a good one
    reused = DescentFigure(toy_forward, 0.0, grid)
    reused.show(runs[0.3], 0.3)
    before = png(reused.fig)
    reused.show(runs[0.05], 0.05)
    fresh = DescentFigure(toy_forward, 0.0, grid)
    fresh.show(runs[0.05], 0.05)
    assert png(reused.fig) == png(fresh.fig) != before
    plt.close("all")


def test_plot_digits_redraws_a_given_figure_like_a_new_one():
    use_book_style()
    rng = np.random.default_rng(0)
    fig = plot_digits(rng.random((10, 64)), ncols=10, titles=list("abcdefghij"))
    again = plot_digits(rng.random((3, 64)), ncols=3, titles=list("xyz"), size=2.0, fig=fig)
    fresh = plot_digits(np.random.default_rng(0).random((13, 64))[10:], ncols=3,
                        titles=list("xyz"), size=2.0)
    assert again is fig and len(fig.axes) == 3
    assert png(fig) == png(fresh)
    plt.close("all")


def test_sweep_has_a_panel_per_run():
    loss = lambda x: (2 * np.asarray(x) - 4) ** 2  # noqa: E731
    runs = [("a", np.array([0.0, 1.0])), ("b", np.array([3.0, 2.0])), ("c", np.array([1.0]))]
    fig = plot_step_size_sweep(loss, np.linspace(-1, 5, 20), runs, ncols=2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["a", "b", "c"]
    plt.close(fig)


def test_sweep_says_where_a_diverging_path_leaves_its_panel():
    loss = lambda x: (2 * np.asarray(x) - 4) ** 2  # noqa: E731
    runs = [("calm", np.array([0.0, 1.0, 1.5])), ("wild", np.array([1.0, 3.0, -2.0, 9.0]))]
    fig = plot_step_size_sweep(loss, np.linspace(-1, 5, 20), runs, ncols=2)
    titles = [ax.get_title() for ax in fig.axes[:2]]
    assert titles[0] == "calm"                     # stays inside: no note
    # x = -2 is left of the grid; the note is in the title, off the panel's lines
    assert titles[1] == "wild\n(leaves the axes at step 2)"
    assert all(len(ax.texts) == 0 for ax in fig.axes[:2])
    plt.close(fig)


def test_descent_figure_draws_a_zero_loss_at_the_floor_and_says_so():
    grid = np.linspace(-4, 8, 60)
    figure = DescentFigure(toy_forward, 0.0, grid)
    landed = descent_path(toy_forward, 0.0, -3.0, step_size=0.125, n_steps=10)
    assert np.all(np.asarray(landed.losses)[1:] == 0.0)   # one step lands exactly
    figure.show(landed, 0.125)
    drawn = figure.loss_curve.get_ydata()
    assert np.all(drawn[1:] == LOSS_FLOOR) and drawn[0] == landed.losses[0]
    assert figure.right.get_ylim()[0] <= LOSS_FLOOR and "drawn at" in figure.floor_note.get_text()
    figure.show(descent_path(toy_forward, 0.0, -3.0, step_size=0.05, n_steps=10), 0.05)
    assert figure.floor_note.get_text() == ""
    low, high = figure.right.get_ylim()         # a power of ten is always in view
    assert np.floor(np.log10(high)) >= np.ceil(np.log10(low))
    plt.close(figure.fig)


def test_inversion_difference_has_a_colour_bar_with_signed_ends():
    rng = np.random.default_rng(0)
    fig = plot_inversion(rng.random(64), rng.random(64), rng.random(10))
    ticks = [label.get_text() for ax in fig.axes for child in ax.child_axes
             for label in child.get_yticklabels()]
    assert ticks == ["-1", "0", "+1"]
    plt.close(fig)


def test_explorer_has_two_live_sliders_and_redraws_one_figure():
    before = plt.get_fignums()
    w = step_size_explorer(toy_forward, 0.0)
    assert [c.description for c in sliders(w)] == ["step size", "start x"]
    assert all(c.continuous_update for c in sliders(w))     # updates while dragged
    # the log slider starts on its own grid (else the first touch redraws a snapped value)
    exponent = np.log10(sliders(w)[0].value)
    assert abs((exponent + 3) / 0.02 - round((exponent + 3) / 0.02)) < 1e-9
    assert sliders(w)[0].value == pytest.approx(0.05, rel=0.01)
    figure, lines = w.figure, list(w.figure.axes[0].lines)
    w.f(step_size=0.3, start=1.0)      # a diverging setting is drawn, not raised
    assert "diverged" in figure.axes[1].get_title()
    w.f(step_size=0.05, start=-3.0)
    assert w.figure is figure and list(figure.axes[0].lines) == lines   # same artists
    np.testing.assert_allclose(figure.axes[0].lines[1].get_xdata()[-1],
                               2 - 5 * 0.6**10, rtol=1e-12)
    assert plt.get_fignums() == before                       # no figure left open


def count_draws(fig):
    """A list that grows by one each time ``fig`` is drawn."""
    draws = []
    fig.canvas.mpl_connect("draw_event", lambda event: draws.append(1))
    return draws


def test_fix_layout_makes_a_tight_laid_out_figure_draw_once_per_save():
    fig, ax = plt.subplots(1, 2, figsize=(4, 2))
    ax[0].set(title="a title", xlabel="x", ylabel="y")
    fig.tight_layout()
    draws = count_draws(fig)
    png(fig)
    assert len(draws) == 2            # tight_layout's placeholder engine: one extra draw
    box = ax[0].get_position().bounds
    assert fix_layout(fig) is fig
    png(fig)
    assert len(draws) == 3 and ax[0].get_position().bounds == box   # once, same layout
    constrained = plt.figure(layout="constrained")
    fix_layout(constrained)           # a real layout engine is kept
    assert constrained.get_constrained_layout()
    plt.close(fig)
    plt.close(constrained)


def test_a_slider_move_draws_the_figure_once():
    w = step_size_explorer(toy_forward, 0.0)
    draws = count_draws(w.figure)
    w.f(step_size=0.1, start=1.0)
    w.f(step_size=0.2, start=1.0)
    assert len(draws) == 2


def test_digit_explorer_draws_and_predicts():
    from inverse_lessons import load_digits_split
    from inverse_lessons.figures.images import draw_digit_inversion
    from inverse_lessons.figures.widgets import digit_inversion_explorer

    X_train, y_train, X_test, y_test = load_digits_split()
    G = X_train[:10].T
    fig, latents = draw_digit_inversion(G, X_train[10], n_steps=100, step_size=2e-3)
    assert latents.shape == (10,) and int(np.argmax(latents)) == 0
    for ax in fig.axes:
        assert ax.get_title()
    plt.close(fig)
    before = plt.get_fignums()
    w = digit_inversion_explorer(G, X_test, y_test)
    assert [c.description for c in sliders(w)] == ["test image", "log10 steps", "step size"]
    assert all(c.continuous_update for c in sliders(w))
    # what a slider move runs (it raised before a fix: nbval caught it, the book did not)
    figure = w.figure
    w.f(index=3, log_steps=2.0, step_size=2e-3)
    assert w.figure is figure and figure.get_suptitle().startswith("test image 3")
    assert plt.get_fignums() == before


def test_missing_pixels_explorer_draws_the_fill_in():
    from inverse_lessons import InverseNet, load_digits_split
    from inverse_lessons.figures.images import draw_fill_in
    from inverse_lessons.figures.widgets import missing_pixels_explorer

    X_train, y_train, X_test, y_test = load_digits_split()
    model = InverseNet(max_iter=30, inner_steps=50, random_state=0).fit(
        X_train[:300], y_train[:300])
    fig, label = draw_fill_in(model, X_test[0], fraction=0.5, seed=1)
    assert label in model.classes_ and len([a for a in fig.axes if a.get_title()]) == 3
    plt.close(fig)
    before = plt.get_fignums()
    w = missing_pixels_explorer(model, X_test, y_test)
    assert [c.description for c in sliders(w)] == ["test image", "missing", "pattern"]
    figure = w.figure
    w.f(index=2, fraction=0.75, pattern=3)
    assert w.figure is figure and figure.get_suptitle().startswith("test image 2")
    assert plt.get_fignums() == before


def test_refinement_explorer_draws_each_step_count():
    from inverse_lessons import load_digits_split
    from inverse_lessons.figures.images import draw_refinement
    from inverse_lessons.figures.widgets import refinement_explorer
    from inverse_lessons.models.nonlinear import NonlinearInverseNet

    X_train, y_train, X_test, y_test = load_digits_split()
    model = NonlinearInverseNet(max_iter=20, random_state=0).fit(
        X_train[:200], y_train[:200])
    fig, predictions = draw_refinement(model, X_test[0], steps=(0, 3), start="zero")
    assert len(predictions) == 2 and len([a for a in fig.axes if a.get_title()]) == 3
    plt.close(fig)
    before = plt.get_fignums()
    w = refinement_explorer(model, X_test, y_test)
    figure = w.figure
    w.f(index=1, steps=10, start="encoder")
    assert w.figure is figure and figure.get_suptitle().startswith("test image 1")
    assert plt.get_fignums() == before
