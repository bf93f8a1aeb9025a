"""Plot builders for generated images: labelled grids (Plotly image traces, crisp pixels)."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots


def image_grid_figure(
    columns: dict[str, torch.Tensor],
    row_labels: list[str] | None = None,
    title: str = "",
    cell: int = 110,
) -> go.Figure:
    """One column per entry of `columns` (a title -> images [n, 3, H, W] in [0, 1]), the same
    n rows in each; hover shows the row label (e.g. the prompt)."""
    names = list(columns)
    n = len(next(iter(columns.values())))
    if any(len(v) != n for v in columns.values()):
        raise ValueError("every column needs the same number of images")
    fig = make_subplots(
        rows=n,
        cols=len(names),
        column_titles=names,
        horizontal_spacing=0.02,
        vertical_spacing=0.02 if n > 1 else 0.0,
    )
    for c, name in enumerate(names):
        for r, img in enumerate(columns[name]):
            label = row_labels[r] if row_labels else ""
            pixels = (img.clamp(0, 1).permute(1, 2, 0) * 255).round().to(torch.uint8).tolist()
            fig.add_trace(
                go.Image(z=pixels, hovertemplate=f"{name}<br>{label}<extra></extra>"),
                row=r + 1,
                col=c + 1,
            )
    fig.update_layout(
        template="fastgen",
        title=title or None,
        height=cell * n + (110 if title else 60),
        width=None,
        margin=dict(l=10, r=10, t=90 if title else 50, b=10),
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
