"""Plot builders for noise schedules and consistency scalings (pure functions -> Figure)."""

from __future__ import annotations

import plotly.graph_objects as go
import torch

from fastgen_book.toy2d.consistency import consistency_scalings, denoiser_scalings
from fastgen_book.viz.theme import COLORS, new_figure


def scalings_figure(
    sigma_data: float = 0.5,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    with_denoiser_variant: bool = False,
) -> go.Figure:
    """c_skip and c_out against sigma (log axis): the skip that pins f(x, sigma_min) = x."""
    sigma = torch.logspace(
        torch.log10(torch.tensor(sigma_min)), torch.log10(torch.tensor(sigma_max)), 400
    ).double()
    c_skip, c_out = consistency_scalings(sigma, sigma_data, sigma_min)
    fig = new_figure(
        title=f"Consistency scalings (sigma_data = {sigma_data:g}, sigma_min = {sigma_min:g})",
        xaxis=dict(title="noise level sigma", type="log"),
        yaxis=dict(title="weight"),
    )
    fig.add_scatter(x=sigma.tolist(), y=c_skip.tolist(), name="c_skip (weight on the input x)")
    fig.add_scatter(x=sigma.tolist(), y=c_out.tolist(), name="c_out (weight on the network)")
    if with_denoiser_variant:
        d_skip, d_out = denoiser_scalings(sigma, sigma_data, sigma_min)
        fig.add_scatter(
            x=sigma.tolist(),
            y=d_skip.tolist(),
            name="c_skip, student wrapping a denoiser",
            line=dict(dash="dash", color=COLORS[0]),
        )
        fig.add_scatter(
            x=sigma.tolist(),
            y=d_out.tolist(),
            name="c_out, student wrapping a denoiser",
            line=dict(dash="dash", color=COLORS[1]),
        )
    return fig
