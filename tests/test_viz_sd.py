"""Plot builders for lessons 2 and 3 return figures with the data they were given."""

from __future__ import annotations

import pytest
import torch

from fastgen_book.landscape import composability as comp
from fastgen_book.landscape.curve import Point, regions
from fastgen_book.viz.images import image_grid_figure
from fastgen_book.viz.landscape import curve_figure, grid_figure, pareto_figure


def test_image_grid_prints_each_rows_prompt_beside_it():
    images = torch.rand(2, 3, 8, 8)
    fig = image_grid_figure({"a": images, "b": images}, ["a red circle on the left", "p2"])
    rows = [a for a in fig.layout.annotations if a.xref == "paper" and a.xanchor == "right"]
    assert [a.text for a in rows] == ["a red circle<br>on the left", "p2"]
    assert rows[0].y > rows[1].y  # first prompt beside the top row


def test_image_grid_has_one_trace_per_image_and_checks_columns():
    images = torch.rand(3, 3, 8, 8)
    fig = image_grid_figure({"a": images, "b": images}, ["p1", "p2", "p3"])
    assert len(fig.data) == 6 and fig.data[0].type == "image"
    assert fig.data[0].source.startswith("data:image/png;base64,")
    with pytest.raises(ValueError, match="same number of images"):
        image_grid_figure({"a": images, "b": images[:2]})


def test_png_data_uris_round_trip_the_pixels():
    import base64
    import io

    import numpy as np
    from PIL import Image

    from fastgen_book.viz.images import png_data_uri

    def decode(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))

    img = torch.rand(3, 4, 5)
    decoded = decode(png_data_uri(img, pixels=10))
    assert decoded.shape == (8, 10, 3)  # a whole factor (2) up to the 10 px asked for
    expected = (img.permute(1, 2, 0) * 255).round().numpy()
    assert (decoded[::2, ::2] == expected).all()
    # a 512 px image is shown at most 256 px wide, whatever the cell asks
    big = torch.zeros(3, 512, 512, dtype=torch.uint8)
    assert decode(png_data_uri(big, pixels=1000)).shape == (256, 256, 3)
    assert decode(png_data_uri(big, pixels=110)).shape == (110, 110, 3)


def test_grid_figure_shows_every_pair_and_marks_measured_cells():
    evidence = {"lcm_with_style": "measured here"}
    heat = grid_figure(evidence).data[0]
    assert len(heat.z) == len(heat.z[0]) == len(comp.FAMILIES)
    i, j = comp.SHORT.index("consistency"), comp.SHORT.index("add-on")
    assert heat.text[i][j].endswith("*") and "measured here" in heat.customdata[i][j]
    assert not heat.text[0][0].endswith("*")


def test_curve_and_pareto_figures_plot_the_points():
    pts = [Point("a", c, 1 / c) for c in (1, 2, 4, 8)]
    r = regions(pts, 0.1, 0.5)
    fig = curve_figure(pts, r, pts, r, "tiny-sd", "100 - CLIP score")
    assert sum(len(t.x) for t in fig.data) == 8
    # the regions are drawn on both panels (shapes added before a trace would be dropped)
    shaded = [s for s in fig.layout.shapes if s.type == "rect"]
    assert {s.xref for s in shaded} == {"x", "x2"} and len(shaded) >= 4
    labels = [a.text for a in fig.layout.annotations]
    assert f"free from {r.free_from:g} NFE" in labels and "tiny-sd" in labels
    assert fig.layout.yaxis2.title.text == "100 - CLIP score"
    fig = pareto_figure([("x", 1.0, 0.5), ("y", 2.0, 0.7), ("z", 3.0, 0.1)], "loss", "t")
    frontier = fig.data[-1]
    assert list(frontier.x) == [1.0, 3.0]


def test_a_subtitle_is_a_second_title_line_with_room_for_it():
    # a long "which model ran" caption would be cut at the figure's width inside the title
    images = torch.rand(1, 3, 8, 8)
    plain = image_grid_figure({"a": images}, title="t")
    fig = image_grid_figure({"a": images}, title="t", subtitle="tiny tier: tiny-sd on cpu")
    assert fig.layout.title.text == "t"
    assert fig.layout.title.subtitle.text == "tiny tier: tiny-sd on cpu"
    assert fig.layout.margin.t > plain.layout.margin.t
    fig = pareto_figure([("x", 1.0, 0.5)], "loss", "t", subtitle="gpu tier")
    assert fig.layout.title.subtitle.text == "gpu tier"


def test_pareto_points_are_drawn_per_sampler_with_their_step_counts():
    points = [("DDPM 50", 80.0, 4.0), ("LCM-LoRA 4", 6.0, 4.0), ("DDPM 100", 160.0, 10.0)]
    fig = pareto_figure(points + [("teacher", 90.0, 3.0)], "loss", "t")
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["DDPM"].text) == ["50", "100"]
    assert list(by_name["DDPM"].customdata) == ["DDPM 50", "DDPM 100"]
    assert list(by_name["teacher"].text) == ["teacher"]  # no step count: the label itself
    assert by_name["DDPM"].marker.color != by_name["Pareto frontier"].line.color


def test_the_noise_floor_label_sits_on_its_line_on_the_log_axis():
    import math

    from fastgen_book.viz.toy_scores import quality_vs_nfe_figure

    rows = [
        {"method": "teacher", "sampler": "euler", "nfe": n, "distance": 1 / n, "seconds": 0.01}
        for n in (1, 2, 4)
    ]
    fig = quality_vs_nfe_figure({"noise_floor": 0.025, "rows": rows})
    (label,) = [a for a in fig.layout.annotations if a.text == "noise floor"]
    assert label.y == pytest.approx(math.log10(0.025))  # Plotly reads log10 here
    (line,) = [s for s in fig.layout.shapes if s.type == "line"]
    assert line.y0 == line.y1 == 0.025  # and the value itself for the line


def test_curve_methods_keep_one_colour_across_panels_and_distilled_ones_are_dashed():
    toy = [Point("DPM-Solver++", c, 1 / c) for c in (1, 2, 4)]
    toy += [Point("consistency distillation", 1, 0.4)]
    sd = [Point("DDPM", 50, 0.1), Point("DPM-Solver++", 20, 0.1), Point("LCM-LoRA", 4, 0.2)]
    fig = curve_figure(toy, regions(toy, 0.1, 0.5), sd, regions(sd, 0.1, 0.5), "tiny-sd")
    by = {}
    for t in fig.data:
        by.setdefault(t.name, []).append(t)
    assert len({t.line.color for t in by["DPM-Solver++"]}) == 1  # same colour in both panels
    assert [t.showlegend for t in by["DPM-Solver++"]] == [True, False]  # listed once
    assert by["LCM-LoRA"][0].line.dash == by["consistency distillation"][0].line.dash == "dash"
    assert by["DDPM"][0].line.dash == "solid"


def test_curve_points_with_an_interval_get_error_bars():
    pts = [Point("DDPM", c, 10 / c, interval=(5 / c, 20 / c)) for c in (1, 2, 4)]
    fig = curve_figure(pts, regions(pts, 0.1, 0.5), pts, regions(pts, 0.1, 0.5), "tiny-sd")
    trace = fig.data[0]
    assert list(trace.error_y.array) == [20 / c - 10 / c for c in (1, 2, 4)]
    assert list(trace.error_y.arrayminus) == [10 / c - 5 / c for c in (1, 2, 4)]
