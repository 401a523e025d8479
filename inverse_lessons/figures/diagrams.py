"""Diagrams of the book's two central pictures, drawn with matplotlib.

- :func:`draw_unrolled_graph` (chapter 2): a prediction is ``N`` unrolled gradient
  steps; training runs the gradient back through every one of them.
- :func:`draw_bilevel_loop` (chapter 4): the inner inversion inside the outer
  training loop, with the gradient running back through the unrolled steps.

Both draw on an opaque white background in the book's colour-blind-safe palette, so
they read the same on a light or a dark page, and return the axes. Both fit the
book's text column (about 6.7 in at 100 dpi) at full size, so no text is shrunk below
the 9 pt it is drawn at.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from inverse_lessons._validation import check_int
from inverse_lessons.figures.style import PALETTE

__all__ = ["draw_unrolled_graph", "draw_bilevel_loop"]

FORWARD = PALETTE["blue"]
BACKWARD = PALETTE["vermillion"]
INPUT = PALETTE["green"]


def _canvas(ax, width, height, size):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    ax.figure.set_facecolor("white")
    ax.set_facecolor("white")
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _box(ax, x, y, text, *, width=1.5, height=0.8, colour=FORWARD, fontsize=10):
    """Draw a rounded box centred at (x, y) with ``text``; return its centre."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.05,rounding_size=0.15",
                                facecolor="white", edgecolor=colour, linewidth=1.6))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color="black")
    return x, y


def _arrow(ax, start, end, *, colour=FORWARD, dashed=False, rad=0.0, label=None,
           label_offset=(0.0, 0.22), fontsize=9):
    arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, linewidth=1.4,
                            color=colour, linestyle=(0, (4, 3)) if dashed else "-",
                            connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2)
    ax.add_patch(arrow)
    if label:
        ax.text((start[0] + end[0]) / 2 + label_offset[0],
                (start[1] + end[1]) / 2 + label_offset[1], label, ha="center",
                va="center", fontsize=fontsize, color=colour)
    return arrow


def draw_unrolled_graph(n_shown=2, *, ax=None):
    """Draw chapter 2's graph: ``h(x)`` is ``N`` gradient steps on ``(x - f_θ(y))²``.

    Forward (solid, blue): from the start ``y_0`` each step uses the observation
    ``x_i`` and the parameters ``θ = (a, b)``; the last iterate ``y_N = h(x_i)``
    enters the training loss ``T``, a sum over the pairs ``(x_i, y_i)`` (the chain
    drawn is one pair's). Backward (dashed, vermillion): ``∂T/∂y_k`` runs back
    from step to step, and every step adds its share to ``∂T/∂θ``. The labels use
    chapter 2's letters: ``k`` counts solver steps, ``i`` training pairs.

    Parameters
    ----------
    n_shown : int, default 2
        How many steps to draw, >= 2 (the ones before the last are followed by
        "..." standing for the steps not drawn).
    ax : matplotlib Axes, optional
        Where to draw; by default new axes.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    n_shown = check_int("n_shown", n_shown, minimum=2)
    chain = [("$y_0$", 0.9, FORWARD, 10)]
    for n in range(1, n_shown):
        chain += [(f"step {n}", 1.15, FORWARD, 9), (f"$y_{{{n}}}$", 0.9, FORWARD, 10)]
    chain += [(None, 0.5, None, 14), ("step $N$", 1.15, FORWARD, 9),
              ("$y_N = h(x_i)$", 1.9, FORWARD, 10),
              (r"$T = \Sigma_i\,(y_i - h(x_i))^2$", 3.0, BACKWARD, 10)]
    gap, row = 0.45, 2.6
    width = sum(w for _, w, _, _ in chain) + gap * (len(chain) + 1)
    scale = min(0.68, 8.4 / width)   # inches per unit: cropped, at most the text column
    ax = _canvas(ax, width, 5.6, (scale * width, scale * 5.6))
    centres, x = [], gap
    for text, w, colour, size in chain:
        centre = x + w / 2
        if text is None:
            ax.text(centre, row, r"$\cdots$", ha="center", va="center", fontsize=size)
        else:
            _box(ax, centre, row, text, width=w, height=0.75, colour=colour, fontsize=size)
        centres.append((centre, w))
        x += w + gap
    for (xa, wa), (xb, wb) in zip(centres[:-1], centres[1:], strict=True):
        _arrow(ax, (xa + wa / 2, row), (xb - wb / 2, row))
        _arrow(ax, (xb, row - 0.95), (xa, row - 0.95), colour=BACKWARD, dashed=True)
    steps = [c for (c, _), (text, *_rest) in zip(centres, chain, strict=True)
             if text is not None and text.startswith("step")]
    observed = _box(ax, width * 0.22, 4.8, "observation $x_i$", width=2.3, colour=INPUT)
    theta = _box(ax, width * 0.62, 4.8, r"$\theta = (a, b)$", width=2.0, colour=INPUT)
    for centre in steps:
        _arrow(ax, (observed[0], observed[1] - 0.4), (centre - 0.2, row + 0.4), colour=INPUT)
        _arrow(ax, (theta[0], theta[1] - 0.4), (centre + 0.2, row + 0.4), colour=INPUT)
    ax.text(width / 2, row - 1.35, r"backward: $\partial T / \partial y_k$ runs back through "
            "every step $k$ (reverse mode, as GradientTape does);\n"
            r"each step adds a term to $\partial T / \partial \theta$", ha="center",
            va="top", fontsize=9, color=BACKWARD, linespacing=1.5)
    ax.set_ylim(0.4, 5.6)
    ax.set_title("A prediction is N unrolled steps;\ntraining runs back through them")
    return ax


def draw_bilevel_loop(*, ax=None):
    """Draw chapter 4's bilevel problem: inner inversion inside outer training.

    Inner (blue): each image ``x`` is inverted by ``N`` unrolled gradient steps on
    ``‖x - G z‖²``, giving ``z*``. Outer: the head ``W z* + c`` and the
    cross-entropy against the label ``y``. Backward (dashed, vermillion): the
    gradient of the cross-entropy runs back through the head and through every
    unrolled step to the generator ``G``; an optimiser step updates ``G``, ``W``,
    ``c``, and the loop repeats.

    Parameters
    ----------
    ax : matplotlib Axes, optional
        Where to draw; by default new axes.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    ax = _canvas(ax, 13.0, 7.0, (8.5, 4.6))    # cropped, about the text column's width
    ax.add_patch(FancyBboxPatch((2.1, 2.35), 5.75, 2.3, boxstyle="round,pad=0.1",
                                facecolor="#F2F7FB", edgecolor=FORWARD, linewidth=1.2,
                                linestyle=(0, (2, 2))))
    ax.text(3.7, 4.45, "inner problem: invert the generator", ha="left", fontsize=9,
            color=FORWARD)
    image = _box(ax, 1.0, 3.3, "image $x$", width=1.6, colour=INPUT)
    z0 = _box(ax, 2.9, 3.3, "$z_0 = 0$", width=1.3)
    steps = _box(ax, 5.2, 3.3, "$N$ steps\n" r"$z \leftarrow z + 2\eta G^\top(x - Gz)$",
                 width=2.9, height=1.0, fontsize=9)
    zstar = _box(ax, 7.2, 3.3, "$z^\\star$", width=0.7)
    head = _box(ax, 8.85, 3.3, "head\n$W z^\\star + c$", width=1.6, height=1.0)
    loss = _box(ax, 11.5, 3.3, "cross-entropy\nwith label $y$", width=2.4, height=1.0,
                colour=BACKWARD)
    generator = _box(ax, 5.2, 6.1, "generator $G$", width=2.0, colour=INPUT)
    _arrow(ax, (image[0] + 0.8, 3.3), (z0[0] - 0.65, 3.3))
    _arrow(ax, (z0[0] + 0.65, 3.3), (steps[0] - 1.45, 3.3))
    _arrow(ax, (steps[0] + 1.45, 3.3), (zstar[0] - 0.35, 3.3))
    _arrow(ax, (zstar[0] + 0.35, 3.3), (head[0] - 0.8, 3.3))
    _arrow(ax, (head[0] + 0.8, 3.3), (loss[0] - 1.2, 3.3))
    _arrow(ax, (generator[0], generator[1] - 0.4), (steps[0], steps[1] + 0.5), colour=INPUT)
    ax.text(5.3, 5.15, "used in every step", fontsize=9, color=INPUT, ha="left")
    # backward
    _arrow(ax, (loss[0], 2.75), (head[0] + 0.2, 2.75), colour=BACKWARD, dashed=True,
           rad=-0.35)
    _arrow(ax, (head[0] - 0.2, 2.75), (steps[0] + 0.5, 2.75), colour=BACKWARD, dashed=True,
           rad=-0.35)
    _arrow(ax, (steps[0] - 0.9, 2.8), (generator[0] - 1.2, generator[1] - 0.1),
           colour=BACKWARD, dashed=True, rad=-0.6)
    ax.text(7.1, 1.35, "backward: the gradient runs through the head and back through every\n"
            "unrolled step of the inversion to $G$ (outer problem: train $G$, $W$, $c$)",
            ha="center", va="center", fontsize=9, color=BACKWARD)
    _arrow(ax, (loss[0] + 0.2, loss[1] + 0.5), (generator[0] + 1.0, generator[1] + 0.1),
           colour=PALETTE["black"], rad=0.25)
    ax.text(10.6, 5.9, "optimiser step on $G$, $W$, $c$;\nthen the next batch", ha="center",
            fontsize=9, color=PALETTE["black"])
    ax.set_ylim(0.7, 7.0)
    ax.set_title("The bilevel problem: training through the inversion")
    return ax
