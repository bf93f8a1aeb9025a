"""Lesson 1's figures carry what the page says they show: the headline and an off-scale point
labelled on the quality chart, error bars spanning the seeds, distances in panel titles,
numbered trajectories."""

from __future__ import annotations

import math

import torch

from fastgen_book.stats import spread
from fastgen_book.toy2d.bench import matching_teacher


def _bench():
    rows = [
        {"method": "teacher", "sampler": "euler", "nfe": n, "distance": 1 / n, "seconds": n / 1e3}
        for n in (1, 2, 4, 8, 16)
    ]
    rows.append({"method": "teacher", "sampler": "heun", "nfe": 3, "distance": 9.0, "seconds": 0})
    rows.append(
        {"method": "cd", "sampler": "consistency", "nfe": 1, "distance": 0.2, "seconds": 1e-3}
    )
    return {"noise_floor": 0.025, "rows": rows}


def test_matching_teacher_is_the_cheapest_teacher_setting_at_least_as_good():
    match = matching_teacher(_bench())
    assert (match["sampler"], match["nfe"]) == ("euler", 8)  # 1/8 <= 0.2 < 1/4
    bench = _bench()
    bench["rows"][-1]["distance"] = 0.01
    assert matching_teacher(bench) is None


def test_quality_chart_labels_the_off_scale_point_and_states_the_headline():
    from fastgen_book.viz.toy_scores import quality_vs_nfe_figure

    fig = quality_vs_nfe_figure(_bench())
    texts = [a.text for a in fig.layout.annotations]
    assert any(t.startswith("heun, 3 NFE: 9.00 (off scale)") for t in texts)
    assert any("one CD call (1.0 ms)" in t and "Euler at 8 NFE (8.0 ms)" in t for t in texts)
    low, high = fig.layout.yaxis.range
    assert high == math.log10(1.3) and 10**low <= 0.025  # the band from floor to 1 NFE


def test_restart_error_bars_span_the_seeds():
    from fastgen_book.viz.toy_scores import restarts_figure

    fig = restarts_figure({"m": {1: spread([1.0, 2.0, 3.0]), 2: spread([0.5, 0.6])}}, floor=0.1)
    (trace,) = fig.data
    assert list(trace.y) == [2.0, 0.55]
    assert list(trace.error_y.array) == [1.0, 0.6 - 0.55]
    assert list(trace.error_y.arrayminus) == [1.0, 0.55 - 0.5]


def test_sample_panels_show_the_data_and_their_distance():
    from fastgen_book.toy2d.metrics import sliced_wasserstein
    from fastgen_book.viz.toy2d import samples_figure

    g = torch.Generator().manual_seed(0)
    data, pts = torch.randn(500, 2, generator=g), torch.randn(500, 2, generator=g) + 1
    fig = samples_figure({"a": pts}, data=data)
    title = fig.layout.annotations[0].text
    assert title == f"a: SW2 {sliced_wasserstein(pts, data):.3f}"
    assert [t.name for t in fig.data] == ["held-out data", "samples"]


def test_trajectories_are_numbered_and_start_marked():
    from fastgen_book.toy2d.experiments import SelfConsistency
    from fastgen_book.viz.toy2d import trajectories_figure

    sigmas = torch.tensor([20.0, 1.0, 0.0])
    paths = torch.randn(3, 4, 2, generator=torch.Generator().manual_seed(1))
    restart = (torch.tensor([1.0, 0.0]), paths[1:, 0])
    demo = SelfConsistency(sigmas, paths, (1.0,), paths[1, :1], paths[2, :1], (restart,))
    fig = trajectories_figure(demo)
    (numbers,) = [t for t in fig.data if t.name == "trajectory numbers"]
    assert list(numbers.text) == ["0", "1", "2", "3"]
    (starts,) = [t for t in fig.data if (t.name or "").startswith("starts")]
    assert len(starts.x) == 4
    assert fig.layout.xaxis.title.text == "x1 / (1 + sigma)"
    (again,) = [t for t in fig.data if t.name == "ODE solved again from a, b, c"]
    assert list(again.x) == [round(float(paths[1, 0, 0]) / 2, 3), round(float(paths[2, 0, 0]), 3)]
    assert any(
        t.text and t.text[0].startswith("a: sigma=1") for t in fig.data if t.mode == "markers+text"
    )


def test_modes_chart_has_one_bar_per_student_in_each_panel():
    from types import SimpleNamespace

    from fastgen_book.viz.toy_scores import modes_figure

    students = [
        SimpleNamespace(name=n, distance=d, report=SimpleNamespace(sharp=s, modes_covered=m))
        for n, d, s, m in (("cd", 0.2, 0.5, 8), ("gan", 0.9, 0.9, 3))
    ]
    fig = modes_figure(students)
    assert [list(t.y) for t in fig.data] == [[0.2, 0.9], [50.0, 90.0], [8, 3]]
    assert all(list(t.x) == ["cd", "gan"] for t in fig.data)
