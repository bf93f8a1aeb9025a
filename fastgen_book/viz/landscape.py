"""Plot builders for lesson 3: the quality-speed curves with measured regions, the Pareto view,
and the composability grid."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fastgen_book.landscape import composability as comp
from fastgen_book.landscape.curve import DISTILLED, Point, Regions, pareto_frontier
from fastgen_book.viz.theme import COLORS, title_layout

REGION_COLOURS = {
    "free": "rgba(0,158,115,0.13)",
    "cheap": "rgba(230,159,0,0.13)",
    "expensive": "rgba(213,94,0,0.13)",
}


def _add_regions(fig, points: list[Point], region: Regions, col: int) -> None:
    """Shade the expensive / cheap / free spans and draw each boundary as a dotted line
    labelled with its NFE. Called after the traces: Plotly drops shapes added to a subplot that
    has no trace yet."""
    lo = min(p.cost for p in points) / 1.5
    hi = max(p.cost for p in points) * 1.5
    spans = [
        ("expensive", lo, region.cheap_from),
        ("cheap", region.cheap_from, region.free_from),
        ("free", region.free_from, hi),
    ]
    for name, x0, x1 in spans:
        if x1 > x0:
            fig.add_vrect(
                x0=x0,
                x1=x1,
                fillcolor=REGION_COLOURS[name],
                line_width=0,
                layer="below",
                exclude_empty_subplots=False,
                row=1,
                col=col,
            )
    bounds = [("free", region.free_from, 1.0)]
    if region.cheap_from < region.free_from:
        bounds.append(("cheap", region.cheap_from, 0.9))
    for name, x, height in bounds:
        fig.add_vline(
            x=x,
            line_dash="dot",
            line_width=1,
            line_color="grey",
            row=1,
            col=col,
            exclude_empty_subplots=False,
        )
        # shapes take data coordinates; annotations on a log axis take log10 of them
        fig.add_annotation(
            x=math.log10(x),
            y=height,
            yref="y domain",
            text=f"{name} from {x:g} NFE",
            showarrow=False,
            xanchor="left",
            yanchor="top",
            xshift=3,
            row=1,
            col=col,
        )


def _add_curve(
    fig, points: list[Point], region: Regions, col: int, y_title: str, colours: dict, shown: set
) -> None:
    """One panel: a line per method in its colour from `colours`, dashed for distilled
    students; a method already in the legend (`shown`) is not listed again."""
    methods = list(dict.fromkeys(p.method for p in points))
    for method in methods:
        mine = sorted((p for p in points if p.method == method), key=lambda p: p.cost)
        bars = None
        if all(p.interval for p in mine):
            bars = dict(
                type="data",
                symmetric=False,
                array=[p.interval[1] - p.loss for p in mine],
                arrayminus=[p.loss - p.interval[0] for p in mine],
                thickness=1,
            )
        fig.add_scatter(
            x=[p.cost for p in mine],
            y=[p.loss for p in mine],
            error_y=bars,
            mode="lines+markers",
            name=method,
            legendgroup=method,
            showlegend=method not in shown,
            line=dict(color=colours[method], dash="dash" if method in DISTILLED else "solid"),
            text=[p.label for p in mine],
            hovertemplate="%{text}: %{y:.3g}<extra></extra>",
            row=1,
            col=col,
        )
        shown.add(method)
    _add_regions(fig, points, region, col)
    fig.update_xaxes(type="log", title="network evaluations per sample (NFE)", row=1, col=col)
    fig.update_yaxes(title=y_title, row=1, col=col)


def curve_figure(
    toy: list[Point],
    toy_regions: Regions,
    sd: list[Point],
    sd_regions: Regions,
    sd_caption: str,
    sd_loss_label: str = "% of images with a wrong attribute",
) -> go.Figure:
    """Loss against NFE (log axis) for the toy 2D stack and the SD model that ran (its name:
    `sd_caption`; its loss: `sd_loss_label`), each with its free / cheap / expensive regions
    computed from the measured frontier, shaded, and their boundaries labelled in NFE. A method
    has one colour in both panels and one legend entry; distilled students are dashed."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=["toy 2D (two moons)", sd_caption[:60]],
        horizontal_spacing=0.1,
    )
    methods = list(dict.fromkeys(p.method for p in [*toy, *sd]))
    colours = {m: COLORS[k % len(COLORS)] for k, m in enumerate(methods)}
    shown: set[str] = set()
    _add_curve(fig, toy, toy_regions, 1, "distance to data (log, lower is better)", colours, shown)
    _add_curve(fig, sd, sd_regions, 2, sd_loss_label, colours, shown)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(
        template="fastgen",
        height=620,
        margin=dict(t=60, b=170),
        legend=dict(orientation="h", x=0, y=-0.2, yanchor="top"),
    )
    return fig


FRONTIER_COLOUR = COLORS[3]


def _family_and_steps(label: str) -> tuple[str, str]:
    """("LCM-LoRA", "4") from "LCM-LoRA 4"; a label without a trailing count is its own family."""
    family, _, steps = label.rpartition(" ")
    return (family, steps) if family and steps.isdigit() else (label, "")


def pareto_figure(
    points: list[tuple[str, float, float]], y_title: str, title: str, subtitle: str = ""
) -> go.Figure:
    """(label, ms per image, loss) points and their computed Pareto frontier; `subtitle`: a
    second title line (e.g. which model ran). Labels ending in a step count ("DDPM 50") are
    drawn one colour per sampler with only the count beside each point, so that neighbours
    at a similar quality do not print over each other; hover gives the whole label."""
    as_points = [Point(label, ms, loss, label) for label, ms, loss in points]
    front = pareto_frontier(as_points)
    fig = go.Figure()
    families: dict[str, list[tuple[Point, str]]] = {}
    for p in as_points:
        family, steps = _family_and_steps(p.label)
        families.setdefault(family, []).append((p, steps or p.label))
    # every colour but the frontier's
    palette = [c for c in COLORS if c != FRONTIER_COLOUR]
    for i, (family, members) in enumerate(families.items()):
        fig.add_scatter(
            x=[p.cost for p, _ in members],
            y=[p.loss for p, _ in members],
            mode="markers+text",
            text=[text for _, text in members],
            textposition="top center",
            customdata=[p.label for p, _ in members],
            name=family,
            marker=dict(color=palette[i % len(palette)], size=9),
            hovertemplate="%{customdata}: %{x:.2f} ms, %{y:.3g}<extra></extra>",
        )
    fig.add_scatter(
        x=[p.cost for p in front],
        y=[p.loss for p in front],
        mode="lines",
        name="Pareto frontier",
        line=dict(color=FRONTIER_COLOUR, dash="dash"),
        hoverinfo="skip",
    )
    fig.update_layout(
        template="fastgen",
        **title_layout(title, subtitle),
        height=520,
        xaxis=dict(title="milliseconds per image (log)", type="log"),
        yaxis=dict(title=y_title),
    )
    return fig


VERDICT_STYLE = {
    "compose": (0.0, "✓"),
    "partial": (0.5, "~"),
    "conflict": (1.0, "✗"),
    "same level": (0.25, "—"),
}


def grid_figure(evidence: dict[str, str]) -> go.Figure:
    """The 5x5 composability grid: colour and symbol per verdict; hover gives the reason and,
    where measured, the evidence from this build."""
    n = len(comp.SHORT)
    z, text, hover = [], [], []
    for a in comp.SHORT:
        z.append([]), text.append([]), hover.append([])
        for b in comp.SHORT:
            c = comp.cell(a, b)
            value, symbol = VERDICT_STYLE[c.verdict]
            z[-1].append(value)
            measured = evidence.get(c.evidence or "", "")
            text[-1].append(symbol + (" *" if measured else ""))
            why = "<br>".join(_wrap(c.reason))
            extra = "<br><b>measured:</b> " + "<br>".join(_wrap(measured)) if measured else ""
            hover[-1].append(f"<b>{c.verdict}</b><br>{why}{extra}")
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(comp.FAMILIES),
            y=list(comp.FAMILIES),
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=20),
            customdata=hover,
            hovertemplate="%{y} + %{x}<br>%{customdata}<extra></extra>",
            colorscale=[[0, "#009E73"], [0.25, "#999999"], [0.5, "#E69F00"], [1, "#D55E00"]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=3,
            ygap=3,
        )
    )
    fig.update_layout(
        template="fastgen",
        height=140 + 90 * n,
        margin=dict(l=230, t=40, b=150),
        yaxis=dict(autorange="reversed"),
        xaxis=dict(tickangle=-30),
    )
    return fig


def _wrap(text: str, width: int = 60) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])
