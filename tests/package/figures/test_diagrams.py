"""The book's diagrams draw what their captions say, on an opaque background."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from inverse_lessons.figures.diagrams import (  # noqa: E402
    BACKWARD,
    draw_bilevel_loop,
    draw_unrolled_graph,
)


def texts(ax):
    return [t.get_text() for t in ax.texts]


def dashed_arrows(ax, colour):
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch)
            and p.get_linestyle() != "-" and matplotlib.colors.same_color(p.get_edgecolor(),
                                                                          colour)]


@pytest.mark.parametrize("n_shown", [2, 3, 5])
def test_the_unrolled_graph_draws_each_step_and_runs_back_along_the_chain(n_shown):
    ax = draw_unrolled_graph(n_shown)
    labels = texts(ax)
    steps = [t for t in labels if t.startswith("step")]
    assert steps == [f"step {n}" for n in range(1, n_shown)] + ["step $N$"]
    assert "$y_N = h(x_i)$" in labels and r"$T = \Sigma_i\,(y_i - h(x_i))^2$" in labels
    # chapter 2's letters: k counts solver steps (no undefined n)
    assert any(r"$\partial T / \partial y_k$" in t for t in labels)
    # the chain: y_0, (step, y_n) pairs, "...", step N, y_N, T: one backward arrow per link
    links = 1 + 2 * (n_shown - 1) + 3
    assert len(dashed_arrows(ax, BACKWARD)) == links
    assert ax.figure.get_facecolor()[3] == 1.0 and ax.get_title()
    plt.close(ax.figure)


def test_the_bilevel_loop_names_both_levels_and_the_backward_path():
    ax = draw_bilevel_loop()
    joined = " ".join(texts(ax))
    for words in ("inner problem", "generator $G$", "cross-entropy", "backward",
                  r"$z \leftarrow z + 2\eta G^\top(x - Gz)$"):
        assert words in joined
    assert len(dashed_arrows(ax, BACKWARD)) == 3
    assert ax.figure.get_facecolor()[3] == 1.0 and ax.get_title()
    plt.close(ax.figure)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="n_shown"):
        draw_unrolled_graph(1)
    with pytest.raises(TypeError, match="n_shown"):
        draw_unrolled_graph(2.5)
