"""The quality-speed curve's frontier and regions, on hand-checkable point sets."""

from __future__ import annotations

import pytest

from fastgen_book.landscape.curve import Point, pareto_frontier, regions


def pts(*pairs):
    return [Point(f"m{i}", c, q) for i, (c, q) in enumerate(pairs)]


def test_frontier_keeps_only_undominated_points():
    points = pts((1, 0.9), (2, 0.5), (3, 0.6), (4, 0.2), (8, 0.2), (16, 0.1))
    assert [(p.cost, p.loss) for p in pareto_frontier(points)] == [
        (1, 0.9),
        (2, 0.5),
        (4, 0.2),
        (16, 0.1),
    ]


def test_frontier_of_a_convex_curve_is_the_whole_curve():
    points = pts(*[(2**k, 1 / 2**k) for k in range(6)])
    assert pareto_frontier(points) == sorted(points, key=lambda p: p.cost)


def test_regions_read_the_thresholds_off_the_frontier():
    # loss 1/c + 0.01: reference 1/1000 + 0.01; within 0.01 of it from c = 100 (0.01 + 0.01
    # - 0.011 = 0.009 <= 0.01); within 0.1 from c = 10
    points = pts(*[(c, 1 / c + 0.01) for c in (1, 2, 5, 10, 20, 50, 100, 1000)])
    r = regions(points, free_tol=0.01, cheap_tol=0.1)
    assert r.reference == pytest.approx(0.011)
    assert r.free_from == 100 and r.cheap_from == 10 and r.free_speedup == 10


def test_regions_glue_their_boundaries_under_a_prefix():
    from fastgen_book.book import glue

    points = pts(*[(c, 1 / c + 0.01) for c in (1, 2, 5, 10, 20, 50, 100, 1000)])
    regions(points, free_tol=0.01, cheap_tol=0.1).glue("t_")
    assert {k: glue.GLUED[k] for k in ("t_free_from", "t_cheap_from", "t_free_x")} == {
        "t_free_from": 100,
        "t_cheap_from": 10,
        "t_free_x": 10,
    }
    assert glue.GLUED["t_cheap_text"] == "from 10 NFE"
    # a cheap region that starts with the free one is said to be none
    regions(points, free_tol=0.1, cheap_tol=0.1).glue("u_")
    assert glue.GLUED["u_cheap_text"].startswith("none:")


def test_regions_refuse_bad_thresholds():
    with pytest.raises(ValueError, match="free_tol <= cheap_tol"):
        regions(pts((1, 1.0)), free_tol=0.2, cheap_tol=0.1)


def test_the_grid_is_complete_symmetric_and_says_why():
    from fastgen_book.landscape import composability as comp

    for a in comp.SHORT:
        for b in comp.SHORT:
            cell = comp.cell(a, b)
            assert cell is comp.cell(b, a) and cell.verdict in comp.VERDICTS and cell.reason
    for a in comp.SHORT[:4]:  # the four levels: "across, not within"
        assert comp.cell(a, a).verdict == "same level"
    with pytest.raises(ValueError, match="unknown family 'quantisation'"):
        comp.cell("solver", "quantisation")


def test_each_measured_pair_is_listed_once():
    from fastgen_book.landscape.composability import measured_pairs

    keys = [cell.evidence for _, _, cell in measured_pairs()]
    assert len(keys) == len(set(keys)) == 8


def test_the_static_table_is_the_grid():
    from fastgen_book.landscape.composability import CELLS, SHORT, verdict_table

    rows = verdict_table().splitlines()[1 : 1 + len(SHORT)]
    for a, row in zip(SHORT, rows, strict=True):
        name, *cells = row.replace("same level", "same_level").split()
        assert name == a
        for b, text in zip(SHORT, cells, strict=True):
            cell = CELLS[(a, b)]
            assert text.replace("same_level", "same level") == cell.verdict + "*" * bool(
                cell.evidence
            )


def test_grid_evidence_has_one_line_for_every_measured_cell():
    from types import SimpleNamespace as NS

    from fastgen_book.landscape.composability import measured_pairs
    from fastgen_book.landscape.evidence import (
        TURBO_ONE,
        TURBO_OWN,
        TURBO_SOLVER,
        TURBO_STYLE,
        KitchenSink,
        SolverOnTeachers,
        grid_evidence,
    )

    result = NS(
        score_text=lambda: "99%",
        summary=lambda *a: "99%",
        record={"nfe_per_image": 8},
        versus=lambda other: "lower than",
        accuracy={"style": 0.9},
    )
    student = NS(report=NS(sharp=0.5), distance=0.1)
    evidence = grid_evidence(
        "tiny-sd",
        {"flow": NS(cd_one_step=0.1), "vp": NS(cd_one_step=0.2)},
        {"ADD hybrid": student, "consistency distillation": student},
        {"style LoRA, DPM-Solver++ 20": result, "LCM-LoRA + style LoRA, 4 steps": result},
        KitchenSink({4: 0.1}, {4: 0.2}, {4: 0.3}, result, result),
        SolverOnTeachers((3, 5), (0.1, 0.2), (0.3, 0.4)),
        {k: result for k in (TURBO_ONE, TURBO_OWN, TURBO_SOLVER, TURBO_STYLE)},
    )
    assert set(evidence) == {cell.evidence for _, _, cell in measured_pairs()}
    assert evidence["solver_on_teachers"] == (
        "DPM-Solver++ at 3 steps: flow 0.1000 vs VP 0.3000, 5 steps: flow 0.2000 vs VP 0.4000"
    )
