"""Plot builders for the Stable Diffusion measurements (accuracy, distance, latency)."""

from __future__ import annotations

from plotly.subplots import make_subplots

from fastgen_book.viz.theme import COLORS, SUBTITLE_PX, new_figure, title_layout


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


def drift_figure(rows: list, adapter_names: dict[str, str], subtitle: str = ""):
    """Share of images fully correct (with 95% Wilson intervals) against each model's weight
    drift from the base (`fastgen_book.sd.drift.DriftRow`s): the model's own sampling, solid, and
    each adapter's 4 steps, dashed or dotted. Hover names the model."""
    fig = new_figure(
        **title_layout("tiny-sd: one LCM-LoRA on fine-tunes drifting from its base", subtitle)
    )
    x = [100 * r.drift for r in rows]
    lines = [("own sampling, DPM-Solver++ 20", [r.own for r in rows], "solid")]
    dashes = ("dash", "dot", "dashdot")
    lines += [
        (label, [r.adapters[n] for r in rows], dashes[i % 3])
        for i, (n, label) in enumerate(adapter_names.items())
    ]
    for i, (name, results, dash) in enumerate(lines):
        y = [r.quality for r in results]
        bounds = [r.interval() for r in results]  # in points, as `y`
        fig.add_scatter(
            x=x,
            y=y,
            mode="lines+markers",
            name=name,
            line=dict(color=COLORS[i], dash=dash),
            error_y=dict(
                type="data",
                symmetric=False,
                array=[hi - v for (_, hi), v in zip(bounds, y, strict=True)],
                arrayminus=[v - lo for (lo, _), v in zip(bounds, y, strict=True)],
            ),
            customdata=[[r.variant, r.finetune_steps] for r in rows],
            hovertemplate="%{customdata[0]} (%{customdata[1]} fine-tune steps, drift %{x:.1f}%): "
            f"{name} %{{y:.1f}}%<extra></extra>",
        )
    fig.update_layout(
        height=460 + (SUBTITLE_PX if subtitle else 0),
        margin_b=130,
        legend=dict(orientation="h", x=0, y=-0.25, yanchor="top"),
    )
    fig.update_xaxes(title="weight drift from the base model (% of its weights' norm)")
    fig.update_yaxes(title="images with every attribute right (%)", range=[0, 105])
    return fig
