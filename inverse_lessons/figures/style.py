"""The book's figure style: one palette, one set of matplotlib defaults, fixed layouts.

Every figure has an opaque white background (it stays readable on a dark
theme), a title, labelled axes, and colours from the Okabe-Ito palette, which
stays distinguishable under the common forms of colour blindness.
"""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.layout_engine import PlaceHolderLayoutEngine

__all__ = ["PALETTE", "use_book_style", "fix_layout"]

#: Okabe & Ito's colour-blind-safe palette (black last).
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}


def use_book_style():
    """Set matplotlib's defaults to the book's style (call once per notebook)."""
    mpl.rcParams.update({
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "savefig.transparent": False,
        "figure.dpi": 100,
        "figure.figsize": (6.4, 4.0),
        "axes.prop_cycle": mpl.cycler(color=list(PALETTE.values())),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "image.cmap": "cividis",
    })


def fix_layout(fig):
    """Keep ``fig``'s layout as it is, so that saving it draws it once, not twice.

    ``tight_layout`` places the axes once but leaves a placeholder layout engine
    behind, and with any engine set ``savefig`` draws the whole figure an extra
    time to lay it out again. Figures redrawn many times (a slider's, an
    animation's frames) call this after laying themselves out. A figure with a
    real layout engine (constrained layout) is left alone.

    Parameters
    ----------
    fig : matplotlib Figure
        Already laid out.

    Returns
    -------
    matplotlib Figure
        ``fig`` itself.
    """
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        # None removes the engine ("none" would leave another placeholder) unless the
        # rcParams ask for one
        with mpl.rc_context({"figure.autolayout": False,
                             "figure.constrained_layout.use": False}):
            fig.set_layout_engine(None)
    return fig
