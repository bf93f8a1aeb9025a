"""A myst-nb mime renderer for Plotly figures (entry point `myst_nb.mime_renderers`).

In an executed notebook Plotly emits only `application/vnd.plotly.v1+json`, which myst-nb skips
with an "unknown mime type" warning: the chart silently vanishes from the page. This renders
that JSON as a div drawn by the `plotly.min.js` the book serves once from `_static` (see
`fastgen_book.book.sphinx_ext`). The notebook itself keeps the JSON, which Jupyter renders natively.
"""

from __future__ import annotations

from typing import ClassVar

import plotly.io as pio
from docutils import nodes

PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: Called once the plot is drawn; gives it the page's light/dark text and grid colours.
POST_SCRIPT = "if (window.fastgenPlotlyTheme) { window.fastgenPlotlyTheme('{plot_id}'); }"
HTML_BUILDERS = ("html", "dirhtml", "singlehtml")


def figure_html(figure_json: dict) -> str:
    """The HTML for one figure: a div plus the call that draws it (no plotly.js inlined)."""
    fig = pio.from_json(pio.to_json(figure_json), skip_invalid=False)
    return fig.to_html(
        include_plotlyjs=False,
        full_html=False,
        default_height=fig.layout.height or 460,
        default_width="100%",
        config={"displaylogo": False, "responsive": True},
        post_script=POST_SCRIPT,
    )


class PlotlyMimeRenderer:
    """Renders Plotly's JSON output for HTML builders; other builders fall back as usual."""

    # Prefer the JSON over any text/html alternative in the same bundle (e.g. an inlined copy
    # of plotly.js from Plotly's "notebook" renderer).
    mime_priority_overrides: ClassVar = [(b, PLOTLY_MIME, 5) for b in HTML_BUILDERS]

    @staticmethod
    def handle_mime(renderer, data, inline) -> list[nodes.Element] | None:
        if data.mime_type != PLOTLY_MIME:
            return None
        html = figure_html(data.content)
        return [nodes.raw(text=html, format="html", classes=["output", "text_html", "plotly"])]
