"""What the reader sees: the figure style and plots, the sliders, the animations, the diagrams.

- :mod:`~inverse_lessons.figures.plotting`: one figure style and the plots the chapters share.
- :mod:`~inverse_lessons.figures.widgets`: ipywidgets sliders for the live notebooks.
- :mod:`~inverse_lessons.figures.animation`: scrubbable animations, the sliders' counterparts
  in the rendered book, which has no kernel.
- :mod:`~inverse_lessons.figures.diagrams`: the unrolled computation graph (chapter 2) and the
  bilevel loop (chapter 4).
"""
