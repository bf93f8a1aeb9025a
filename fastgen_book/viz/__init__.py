"""Figures on the page: one Plotly theme for every chart, and plot builders that return figures.

Plot builders return a `plotly.graph_objects.Figure` and never show or save it. A page shows a
figure by making it the last expression of a cell; `fastgen_book.book.plotly_mime` renders that
output in the book (myst-nb alone would drop it).
"""

from fastgen_book.viz.theme import COLORS, new_figure

__all__ = ["COLORS", "new_figure"]
