"""Charts of the toy students' scores: distance to data against NFE, against restarts, and the
one-step students' sharpness and mode coverage. Each returns a Plotly figure; none shows or
saves it."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fastgen_book.viz.theme import COLORS, new_figure


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


def quality_vs_nfe_figure(result: dict) -> go.Figure:
    """Distance to held-out data against network evaluations (log axis), one line per method.
    The y axis stops a little above the teacher's 1-NFE value, so that a solver's blow-up
    (Heun at 3 NFE) is labelled at the top instead of squashing the band that matters; the
    headline, one-step CD against the cheapest teacher setting that matches it, is written on
    the chart in NFE and milliseconds."""
    from fastgen_book.toy2d.bench import SAMPLER_NAMES, matching_teacher

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


def modes_figure(students: list) -> go.Figure:
    """Bars per one-step student: distance to data, share of sharp samples, modes covered."""
    names = [s.name for s in students]
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=[
            "distance to data (lower is better)",
            "sharp samples (%)",
            "modes covered (of 8)",
        ],
        horizontal_spacing=0.08,
    )
    values = [
        [s.distance for s in students],
        [100 * s.report.sharp for s in students],
        [s.report.modes_covered for s in students],
    ]
    for c, vals in enumerate(values):
        fig.add_bar(
            x=names,
            y=vals,
            marker_color=[COLORS[k % len(COLORS)] for k in range(len(names))],
            showlegend=False,
            hovertemplate="%{x}: %{y:.3g}<extra></extra>",
            row=1,
            col=c + 1,
        )
    fig.update_layout(template="fastgen", height=420, margin=dict(b=120))
    return fig
