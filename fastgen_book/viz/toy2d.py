"""Plot builders for the toy 2D lesson. Each returns a Plotly figure; none shows or saves it."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from fastgen_book.viz.theme import COLORS, new_figure

_AXIS = dict(range=[-3, 3], zeroline=False)


def _square(fig: go.Figure) -> go.Figure:
    fig.update_xaxes(**_AXIS)
    fig.update_yaxes(**_AXIS, scaleanchor="x", scaleratio=1)
    return fig


def _coords(values: torch.Tensor) -> list[float]:
    """Plot coordinates rounded to 1e-3 (far below a pixel): keeps the page's JSON small."""
    return [round(v, 3) for v in values.tolist()]


def _add_data(fig: go.Figure, data: torch.Tensor | None) -> None:
    """Held-out data as a faint grey background, if given."""
    if data is not None:
        fig.add_scattergl(
            x=_coords(data[:, 0]),
            y=_coords(data[:, 1]),
            mode="markers",
            name="data",
            marker=dict(size=3, color=COLORS[7], opacity=0.35),
            hoverinfo="skip",
        )


def trajectories_figure(demo, data: torch.Tensor | None = None) -> go.Figure:
    """ODE trajectories from noise to data, numbered (0 is highlighted), each with a start
    marker, and points a, b, c marked on trajectory 0 with the ODE restarted from each (dotted,
    on top of trajectory 0 when they agree). Drawn
    in the flow-matching coordinates x / (1 + sigma), in which the whole path from sigma = 20
    to 0 fits on the page; hovering a mark gives its coordinates on the ODE's own scale."""
    fig = new_figure(
        title="Probability-flow ODE trajectories of the trained teacher, x / (1 + sigma)",
        xaxis=dict(title="x1 / (1 + sigma)"),
        yaxis=dict(title="x2 / (1 + sigma)"),
        height=680,
        legend=dict(orientation="h", x=0, y=-0.12, yanchor="top"),
        margin=dict(b=140),
    )
    _add_data(fig, data)
    scale = (1 + demo.sigmas).reshape(-1, 1, 1).to(demo.paths.dtype)
    paths = demo.paths / scale
    for i in range(paths.shape[1] - 1, -1, -1):
        main = i == 0
        fig.add_scatter(
            x=_coords(paths[:, i, 0]),
            y=_coords(paths[:, i, 1]),
            mode="lines",
            line=dict(width=3 if main else 1, color=COLORS[0] if main else COLORS[5]),
            opacity=1.0 if main else 0.6,
            showlegend=main or i == 1,
            name="trajectory 0 (highlighted)" if main else f"trajectories 1-{paths.shape[1] - 1}",
            legendgroup="main" if main else "others",
            hovertemplate=f"trajectory {i}<extra></extra>",
        )
    starts, ends = paths[0], paths[-1]
    fig.add_scatter(
        x=_coords(starts[:, 0]),
        y=_coords(starts[:, 1]),
        mode="markers",
        name="starts (pure noise, sigma = 20)",
        marker=dict(size=7, symbol="circle-open", color=COLORS[5], line=dict(width=2)),
        customdata=list(range(paths.shape[1])),
        hovertemplate="trajectory %{customdata} starts here<extra></extra>",
    )
    fig.add_scatter(
        x=_coords(ends[:, 0]),
        y=_coords(ends[:, 1]),
        mode="text",
        text=[str(i) for i in range(paths.shape[1])],
        textposition="top center",
        textfont=dict(size=11),
        name="trajectory numbers",
        hoverinfo="skip",
    )
    for k, (levels, path) in enumerate(demo.restart_paths):
        q = path / (1 + levels).reshape(-1, 1).to(path.dtype)
        fig.add_scatter(
            x=_coords(q[:, 0]),
            y=_coords(q[:, 1]),
            mode="lines",
            line=dict(color=COLORS[1], width=2, dash="dot"),
            name="ODE solved again from a, b, c",
            legendgroup="restarts",
            showlegend=k == 0,
            hoverinfo="skip",
        )
    marks = zip(demo.marked_sigmas, demo.marked_points, demo.restarted_endpoints, strict=True)
    positions = ("middle right", "bottom left", "top left", "bottom right")
    for k, (s, p, e) in enumerate(marks):
        q = p / (1 + s)
        letter = "abcdefgh"[k]
        fig.add_scatter(
            x=[float(q[0])],
            y=[float(q[1])],
            mode="markers+text",
            text=[f"{letter}: sigma={s:.2g}"],
            textposition=positions[k % len(positions)],
            marker=dict(size=11, color=COLORS[1]),
            showlegend=False,
            hovertemplate=f"point {letter}, x at sigma={s:.3g}: ({float(p[0]):.3f}, "
            f"{float(p[1]):.3f})<br>ODE restarted here ends at ({float(e[0]):.3f}, "
            f"{float(e[1]):.3f})<extra></extra>",
        )
    end = demo.paths[-1, 0]
    fig.add_scatter(
        x=[float(end[0])],
        y=[float(end[1])],
        mode="markers",
        name="endpoint x_0 of trajectory 0",
        marker=dict(size=16, symbol="star", color=COLORS[3]),
        hovertemplate="endpoint (%{x:.3f}, %{y:.3f})<extra></extra>",
    )
    return _square(fig)


def one_step_figure(cmp, show: int = 12) -> go.Figure:
    """Single network calls from the same noise against the true ODE endpoints."""
    fig = new_figure(title="One call from pure noise (sigma = 20)", height=520)
    for i in range(show):
        t, c = cmp.truth[i], cmp.consistency[i]
        fig.add_scatter(
            x=[float(t[0]), float(c[0])],
            y=[float(t[1]), float(c[1])],
            mode="lines",
            line=dict(color=COLORS[7], width=1),
            showlegend=False,
            hoverinfo="skip",
        )
    series = [
        ("truth", "true ODE endpoint (fine Heun solve)", COLORS[0], "circle"),
        ("consistency", "consistency model, 1 evaluation", COLORS[2], "diamond"),
        ("euler", "one Euler step = DDIM's x_0 guess", COLORS[3], "x"),
    ]
    for attr, name, color, symbol in series:
        pts = getattr(cmp, attr)[:show]
        fig.add_scatter(
            x=_coords(pts[:, 0]),
            y=_coords(pts[:, 1]),
            mode="markers",
            name=name,
            marker=dict(size=10, color=color, symbol=symbol),
            hovertemplate="(%{x:.3f}, %{y:.3f})<extra>" + name + "</extra>",
        )
    return _square(fig)


def samples_figure(
    panels: dict[str, torch.Tensor], columns: int = 3, data: torch.Tensor | None = None
) -> go.Figure:
    """Scatter plots of 2D samples side by side, one panel per entry. With `data` (held-out
    points), each panel draws it in grey beneath the samples and titles itself with its
    sliced Wasserstein-2 distance to it."""
    from fastgen_book.toy2d.metrics import sliced_wasserstein

    titles = list(panels)
    if data is not None:
        titles = [f"{t}: SW2 {sliced_wasserstein(p, data):.3f}" for t, p in panels.items()]
    rows = -(-len(panels) // columns)
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=titles,
        horizontal_spacing=0.04,
        vertical_spacing=0.08,
    )
    for k, pts in enumerate(panels.values()):
        where = dict(row=k // columns + 1, col=k % columns + 1)
        if data is not None:
            fig.add_scattergl(
                x=_coords(data[:, 0]),
                y=_coords(data[:, 1]),
                mode="markers",
                name="held-out data",
                showlegend=k == 0,
                marker=dict(size=2, color=COLORS[7], opacity=0.3),
                hoverinfo="skip",
                **where,
            )
        fig.add_scattergl(
            x=_coords(pts[:, 0]),
            y=_coords(pts[:, 1]),
            mode="markers",
            name="samples",
            showlegend=data is not None and k == 0,
            marker=dict(size=2, color=COLORS[0], opacity=0.5),
            hoverinfo="skip",
            **where,
        )
    fig.update_layout(template="fastgen", height=300 * rows + 60, margin=dict(t=60))
    fig.update_xaxes(range=[-3, 3], showticklabels=False)
    fig.update_yaxes(range=[-3, 3], showticklabels=False)
    return fig


def distillation_pair_figure(pair, data: torch.Tensor | None = None) -> go.Figure:
    """One consistency-distillation pair: the teacher's step between adjacent levels, and the
    student's two outputs, which the loss pulls together."""
    fig = new_figure(
        title=f"A distillation pair: sigma {pair.sigma_hi:.3g} -> {pair.sigma_lo:.3g}",
        height=520,
    )
    _add_data(fig, data)
    points = [
        (pair.x_hi, f"x at sigma {pair.sigma_hi:.3g}", COLORS[0], "circle"),
        (pair.x_lo, f"teacher's one step to sigma {pair.sigma_lo:.3g}", COLORS[5], "circle"),
        (pair.f_hi, "f_theta(x_hi)", COLORS[3], "x"),
        (pair.f_lo, "f_theta-(x_lo) (target)", COLORS[2], "diamond-open"),
    ]
    fig.add_annotation(
        x=float(pair.x_lo[0]),
        y=float(pair.x_lo[1]),
        ax=float(pair.x_hi[0]),
        ay=float(pair.x_hi[1]),
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        showarrow=True,
        arrowhead=2,
        arrowcolor=COLORS[5],
    )
    for p, name, color, symbol in points:
        fig.add_scatter(
            x=[float(p[0])],
            y=[float(p[1])],
            mode="markers",
            name=name,
            marker=dict(size=13, color=color, symbol=symbol, line=dict(width=2, color=color)),
            hovertemplate="(%{x:.3f}, %{y:.3f})<extra>" + name + "</extra>",
        )
    fig.add_scatter(  # where the student sends the higher point
        x=[float(pair.x_hi[0]), float(pair.f_hi[0])],
        y=[float(pair.x_hi[1]), float(pair.f_hi[1])],
        mode="lines",
        line=dict(dash="dot", width=1, color=COLORS[7]),
        showlegend=False,
        hoverinfo="skip",
    )
    fig.update_xaxes(zeroline=False)
    fig.update_yaxes(zeroline=False, scaleanchor="x", scaleratio=1)
    return fig
