"""The shipped model's targets (`fastgen_book.tinysd.targets`) read card rows as they should."""

from __future__ import annotations

import pytest

from fastgen_book.stats import Z95, proportion_difference_interval, wilson
from fastgen_book.tinysd import targets


def _row(label: str, hits: list[int], distance: float = 10.0, style: list[int] | None = None):
    return {
        "label": label,
        "distance": distance,
        "per_image": {"all": hits, "style": style if style is not None else hits},
    }


def _card(**shares: float) -> dict:
    """Rows of 200 images whose first share% are right, labelled by `targets`' names."""
    labels = {
        "teacher": targets.TEACHER,
        "solver2": targets.SOLVER.format(2),
        "solver4": targets.SOLVER.format(4),
        "lcm1": targets.LCM.format(1),
        "lcm4": targets.LCM.format(4),
        "plain": targets.PLAIN_LCM,
        "styled": targets.STYLED,
        "paper": targets.PAPER,
        "paper_lcm": targets.PAPER_LCM,
    }
    n = 200
    rows = []
    for key, label in labels.items():
        k = round(shares[key] * n / 100)
        rows.append(_row(label, [1] * k + [0] * (n - k), distance=100 - shares[key]))
    return {"rows": rows}


GOOD = dict(
    teacher=94,
    solver2=30,
    solver4=70,
    lcm1=60,
    lcm4=92,
    plain=50,
    styled=95,
    paper=90,
    paper_lcm=60,
)


def test_a_card_that_shows_the_phenomenon_meets_every_target():
    assert all(met for _, met, _ in targets.check(_card(**GOOD)))


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"teacher": 89, "lcm4": 88}, "at least 90%"),
        ({"solver4": 86}, "DPM-Solver++ 4"),
        ({"lcm4": 88}, "within 5 points"),
        ({"plain": 80}, "forced to 4 LCM steps"),
        ({"paper_lcm": 90}, "paper fine-tune"),
    ],
)
def test_each_target_fails_on_its_own(change, failing):
    results = targets.check(_card(**{**GOOD, **change}))
    failed = [t.text for t, met, _ in results if not met]
    assert failed and all(failing in text for text in failed), failed


def test_the_statistics_are_the_libraries():
    rows = targets.Rows({r["label"]: r for r in _card(**GOOD)["rows"]})
    a, b = targets.SOLVER.format(4), targets.TEACHER
    low, high = proportion_difference_interval(
        rows.by_label[a]["per_image"]["all"], rows.by_label[b]["per_image"]["all"], True
    )
    assert rows.difference(a, b) == pytest.approx((100 * low, 100 * high))
    assert rows.interval(b) == pytest.approx(tuple(100 * v for v in wilson(188, 200, Z95)))


def test_a_missing_row_says_what_to_run():
    card = _card(**GOOD)
    card["rows"] = [r for r in card["rows"] if r["label"] != targets.TEACHER]
    with pytest.raises(KeyError, match="bench sd --card"):
        targets.check(card)
