"""Plot builders for the toy 2D lesson. Each returns a Plotly figure; none shows or saves it."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from fastgen.viz.theme import COLORS, new_figure

_AXIS = dict(range=[-3, 3], zeroline=False)


def _square(fig: go.Figure) -> go.Figure:
    fig.update_xaxes(**_AXIS)
    fig.update_yaxes(**_AXIS, scaleanchor="x", scaleratio=1)
    return fig


def _coords(values: torch.Tensor) -> list[float]:
    """Plot coordinates rounded to 1e-3 (far below a pixel): keeps the page's JSON small."""
    return [round(v, 3) for v in values.tolist()]


def _noise_floor_line(fig: go.Figure, floor: float) -> None:
    """A dotted line at the noise floor on a log y axis, labelled at its right end."""
    fig.add_hline(y=floor, line=dict(dash="dot", color=COLORS[7]))
    # an annotation's y on a log axis is log10 of the value (the line's is the value itself)
    fig.add_annotation(
        x=1,
        xref="x domain",
        y=math.log10(floor),
        yref="y",
        text="noise floor",
        showarrow=False,
        xanchor="right",
        yanchor="top",
    )


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
    from fastgen.toy2d.metrics import sliced_wasserstein

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


def quality_vs_nfe_figure(result: dict) -> go.Figure:
    """Distance to held-out data against network evaluations (log axis), one line per method.
    The y axis stops a little above the teacher's 1-NFE value, so that a solver's blow-up
    (Heun at 3 NFE) is labelled at the top instead of squashing the band that matters; the
    headline, one-step CD against the cheapest teacher setting that matches it, is written on
    the chart in NFE and milliseconds."""
    from fastgen.toy2d.bench import SAMPLER_NAMES, matching_teacher

    lowest = min(r["distance"] for r in result["rows"])
    floor = result["noise_floor"]
    top = 1.3 * max(r["distance"] for r in result["rows"] if r["nfe"] == 1)
    fig = new_figure(
        title="Sample quality against network evaluations",
        xaxis=dict(title="network evaluations (NFE)", type="log"),
        yaxis=dict(
            title="sliced Wasserstein-2 to held-out data (lower is better)",
            type="log",
            range=[math.log10(0.8 * min(floor, lowest)), math.log10(top)],
        ),
        height=520,
    )
    for r in result["rows"]:
        if r["distance"] > top:
            fig.add_annotation(
                x=math.log10(r["nfe"]),
                y=math.log10(top),
                text=f"{r['sampler']}, {r['nfe']} NFE: {r['distance']:.2f} (off scale)",
                showarrow=True,
                arrowhead=2,
                ay=30,
                yanchor="bottom",
            )
    cd = next((r for r in result["rows"] if r["method"] == "cd" and r["nfe"] == 1), None)
    match = matching_teacher(result) if cd else None
    if match is not None:
        fig.add_annotation(
            x=0.02,
            xref="x domain",
            y=0.04,
            yref="y domain",
            xanchor="left",
            showarrow=False,
            align="left",
            text=f"one CD call ({cd['seconds'] * 1000:.1f} ms) is as close to the data as the "
            f"teacher's {SAMPLER_NAMES[match['sampler']]} at {match['nfe']} NFE "
            f"({match['seconds'] * 1000:.1f} ms)",
        )
    groups: dict[str, list[dict]] = {}
    for r in result["rows"]:
        label = (
            f"teacher, {r['sampler']}"
            if r["method"] == "teacher"
            else f"{r['method'].upper()} (consistency sampling)"
        )
        groups.setdefault(label, []).append(r)
    for k, (label, rows) in enumerate(groups.items()):
        fig.add_scatter(
            x=[r["nfe"] for r in rows],
            y=[r["distance"] for r in rows],
            mode="lines+markers",
            name=label,
            line=dict(
                color=COLORS[k % len(COLORS)],
                dash="solid" if label.startswith("teacher") else "dash",
            ),
            customdata=[[r["seconds"] * 1000] for r in rows],
            hovertemplate="NFE %{x}: distance %{y:.4f}, %{customdata[0]:.1f} ms<extra>"
            + label
            + "</extra>",
        )
    _noise_floor_line(fig, floor)
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


def restarts_figure(spreads: dict, floor: float | None = None) -> go.Figure:
    """Distance to held-out data against the number of consistency-sampling steps, one line per
    model, with error bars spanning the sampling seeds (min to max) around the mean.
    `spreads` maps a model's name to {steps: Spread}."""
    fig = new_figure(
        title="What restarts buy: distance to the data against consistency-sampling steps",
        xaxis=dict(title="consistency-sampling steps (= network evaluations)", type="log"),
        yaxis=dict(title="sliced Wasserstein-2 to held-out data (lower is better)", type="log"),
        height=480,
    )
    for k, (name, by_steps) in enumerate(spreads.items()):
        steps = sorted(by_steps)
        means = [by_steps[s].mean for s in steps]
        fig.add_scatter(
            x=steps,
            y=means,
            mode="lines+markers",
            name=name,
            line=dict(color=COLORS[k % len(COLORS)]),
            error_y=dict(
                type="data",
                symmetric=False,
                array=[by_steps[s].high - m for s, m in zip(steps, means, strict=True)],
                arrayminus=[m - by_steps[s].low for s, m in zip(steps, means, strict=True)],
            ),
            hovertemplate="%{x} steps: mean %{y:.4f}<extra>" + name + "</extra>",
        )
    fig.update_xaxes(tickvals=sorted({s for v in spreads.values() for s in v}))
    if floor is not None:
        _noise_floor_line(fig, floor)
    return fig
