"""The book's Plotly theme: transparent backgrounds and a colour-blind-safe palette.

Text and grid colours follow the page's light/dark theme in the browser
(`fastgen_book/book/static/fastgen-plotly.js` restyles each chart when the reader switches).
"""

from __future__ import annotations

import sys

import plotly.graph_objects as go
import plotly.io as pio

#: Okabe & Ito's colour-blind-safe palette; every hue reads on white and on near-black.
COLORS = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # green
    "#D55E00",  # vermillion
    "#CC79A7",  # purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#999999",  # grey
)

#: top margin (px) the theme leaves for a one-line title; a subtitle needs `SUBTITLE_PX` more
TITLE_TOP = 90
SUBTITLE_PX = 20

TEMPLATE = go.layout.Template(
    layout=dict(
        colorway=list(COLORS),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=13),
        margin=dict(l=60, r=20, t=TITLE_TOP, b=50),
        hovermode="closest",
        title=dict(x=0, xanchor="left", y=0.98, yanchor="top"),
        legend=dict(
            bgcolor="rgba(0,0,0,0)", orientation="h", x=0, xanchor="left", y=1.0, yanchor="bottom"
        ),
    )
)
pio.templates["fastgen"] = TEMPLATE


def title_layout(title: str, subtitle: str = "", top: int = TITLE_TOP) -> dict:
    """Layout entries for a title (none if empty) with an optional second line (Plotly cuts a
    long title at the figure's width instead of wrapping it) and a top margin `top` with room
    for it."""
    return {
        "title": dict(text=title, subtitle=dict(text=subtitle)) if title else None,
        "margin_t": top + (SUBTITLE_PX if subtitle else 0),
    }


def new_figure(**layout) -> go.Figure:
    """An empty figure in the book's theme; keyword arguments update its layout."""
    fig = go.Figure()
    fig.update_layout(template="fastgen", **layout)
    return fig


# In a plain Jupyter kernel (the book's executor) a figure is emitted as the Plotly JSON mime
# type only: small, never an inlined copy of plotly.js. Colab picks its own renderer.
if "google.colab" not in sys.modules:
    pio.renderers.default = "plotly_mimetype"
