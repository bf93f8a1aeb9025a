"""Plot builders for generated images: labelled grids (Plotly image traces, crisp pixels)."""

from __future__ import annotations

import base64
import io

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from fastgen_book.sd.images import MAX_DISPLAY_PX, fit
from fastgen_book.viz.theme import SUBTITLE_PX, TITLE_TOP, title_layout

#: the pixels of an image in a grid cell (cells are drawn about 110 px wide)
GRID_PX = 128
#: row labels (the prompts) longer than this many characters go on two lines, in a left
#: margin this wide
ROW_LABEL_CHARS = 16
ROW_LABEL_PX = 110


def _two_lines(label: str) -> str:
    """A long label split at the space that makes its two lines most even ('a red circle' /
    'on the left'), joined with Plotly's <br>."""
    words = label.split()
    if len(label) <= ROW_LABEL_CHARS or len(words) < 2:
        return label
    splits = [(" ".join(words[:k]), " ".join(words[k:])) for k in range(1, len(words))]
    first, second = min(splits, key=lambda pair: max(len(pair[0]), len(pair[1])))
    return f"{first}<br>{second}"


def png_data_uri(image: torch.Tensor, pixels: int = 128) -> str:
    """One [3, H, W] image (float in [0, 1] or uint8) as a `data:image/png;base64,...` URI,
    sized for display by `fastgen_book.sd.images.fit` (at most MAX_DISPLAY_PX on its longest
    side)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(fit(image, min(pixels, MAX_DISPLAY_PX)).numpy()).save(
        buf, format="PNG", optimize=True
    )
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def image_grid_figure(
    columns: dict[str, torch.Tensor],
    row_labels: list[str] | None = None,
    title: str = "",
    cell: int = 110,
    subtitle: str = "",
) -> go.Figure:
    """One column per entry of `columns` (a title -> images [n, 3, H, W] in [0, 1]), the same
    n rows in each; each row's label (e.g. the prompt) is printed left of the row and shown on
    hover. Images travel as PNG data
    URIs of about GRID_PX pixels: a 32 px image grows with nearest-neighbour so pixels stay
    crisp, a 512 px one shrinks (a page of 18 such images stays well under a megabyte).
    `subtitle`: a second title line (e.g. which model ran)."""
    names = list(columns)
    n = len(next(iter(columns.values())))
    if any(len(v) != n for v in columns.values()):
        raise ValueError("every column needs the same number of images")
    fig = make_subplots(
        rows=n,
        cols=len(names),
        column_titles=[_two_lines(name) for name in names],
        horizontal_spacing=0.02,
        vertical_spacing=0.02 if n > 1 else 0.0,
    )
    for c, name in enumerate(names):
        for r, img in enumerate(columns[name]):
            label = row_labels[r] if row_labels else ""
            fig.add_trace(
                go.Image(
                    source=png_data_uri(img, GRID_PX),
                    hovertemplate=f"{name}<br>{label}<extra></extra>",
                ),
                row=r + 1,
                col=c + 1,
            )
    fig.update_annotations(font_size=12)  # the column titles, on two lines if long
    for r, label in enumerate(row_labels or []):  # printed beside the row, not only on hover
        low, high = fig.get_subplot(r + 1, 1).yaxis.domain
        fig.add_annotation(
            text=_two_lines(label),
            x=0,
            xref="paper",
            xanchor="right",
            xshift=-6,
            y=(low + high) / 2,
            yref="paper",
            showarrow=False,
            align="right",
            font=dict(size=11),
        )
    fig.update_layout(
        template="fastgen",
        **title_layout(title, subtitle, top=TITLE_TOP if title else 50),
        height=cell * n + (110 if title else 60) + (SUBTITLE_PX if subtitle else 0),
        width=None,
        margin=dict(l=ROW_LABEL_PX if row_labels else 10, r=10, b=10),
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
