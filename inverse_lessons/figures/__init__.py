"""What the reader sees: the figure style and plots, the sliders, the animations, the diagrams.

- :mod:`~inverse_lessons.figures.style`: one figure style (palette, matplotlib defaults).
- :mod:`~inverse_lessons.figures.plotting`: losses and descent paths; re-exports the plots of
  the other modules, so that one import serves a page.
- :mod:`~inverse_lessons.figures.images`: the plots of 8x8 images, and the ``draw_*`` figures
  that first compute what they show.
- :mod:`~inverse_lessons.figures.descent`: the 1-d descent figure, redrawn in place by sliders
  and animations.
- :mod:`~inverse_lessons.figures.widgets`: ipywidgets sliders for the live notebooks.
- :mod:`~inverse_lessons.figures.animation`: scrubbable animations, the sliders' counterparts
  in the rendered book, which has no kernel.
- :mod:`~inverse_lessons.figures.diagrams`: the unrolled computation graph (chapter 2) and the
  bilevel loop (chapter 4).
"""
