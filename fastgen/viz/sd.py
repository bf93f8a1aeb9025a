"""Plot builders for the Stable Diffusion measurements (accuracy, distance, latency)."""

from __future__ import annotations

from plotly.subplots import make_subplots

from fastgen.viz.theme import COLORS, SUBTITLE_PX, title_layout


def sweep_figure(
    results: list,
    x: list[float],
    x_title: str,
    title: str,
    log_x: bool = False,
    subtitle: str = "",
):
    """The tier's quality score and (tiny tier) the Fréchet distance with its noise floor
    against a swept setting; hover adds the measured latency. `subtitle`: a second title line
    (e.g. which model ran), which Plotly would otherwise cut at the figure's width."""
    has_distance = results[0].distance is not None
    panels = [("quality", [r.quality for r in results], COLORS[0], ".1f")]
    if has_distance:
        panels.append(("distance", [r.distance for r in results], COLORS[3], ".3f"))
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        subplot_titles=[results[0].quality_label, "Fréchet distance (lower is better)"],
        horizontal_spacing=0.12,
    )
    ms = [[r.record["ms_per_image"]] for r in results]
    for col, (name, values, colour, fmt) in enumerate(panels, start=1):
        fig.add_scatter(
            x=x,
            y=values,
            mode="lines+markers",
            name=name,
            line=dict(color=colour),
            customdata=ms,
            hovertemplate=f"{x_title} %{{x}}: {name} %{{y:{fmt}}}, %{{customdata[0]:.1f}} "
            "ms/image<extra></extra>",
            row=1,
            col=col,
        )
    if has_distance:
        fig.update_yaxes(range=[0, 105], row=1, col=1)
        fig.add_scatter(
            x=x,
            y=[results[0].distance_floor] * len(x),
            mode="lines",
            name="noise floor (two real sets)",
            line=dict(color=COLORS[7], dash="dot"),
            hoverinfo="skip",
            row=1,
            col=2,
        )
    # the theme's legend sits above the plot area, where it would cover the subplot titles
    fig.update_layout(
        template="fastgen",
        **title_layout(title, subtitle),
        height=460 + (SUBTITLE_PX if subtitle else 0),
        margin_b=130,
        legend=dict(orientation="h", x=0, y=-0.3, yanchor="top"),
    )
    fig.update_xaxes(title=x_title, type="log" if log_x else "linear")
    return fig
