"""What the shipped tiny model must measure for lessons 2 and 3 to teach with it: the targets
of the issue that asked for the harder world, checked on the rows of `bench sd --card`
(card.json). A few-step solver must visibly fail where the distilled adapter does not, as on
SD v1.5.

Shares are of images judged fully right; every row draws the same prompts and seeds, so a
difference's 95% interval is paired image by image (Newcombe's, `fastgen_book.stats`), and a
row's own interval is Wilson's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastgen_book.stats import Z95, proportion_difference_interval, wilson

TEACHER = "base, DPM-Solver++ 20"
LCM = "LCM-LoRA, {} step(s)"
SOLVER = "base, DPM-Solver++ {}"
PLAIN_LCM = "base, LCMScheduler 4, no adapter"
STYLED = "LCM-LoRA + style, 4 step(s)"
PAPER = "paper fine-tune, DPM-Solver++ 20"
PAPER_LCM = "paper fine-tune + LCM-LoRA, 4 steps"


@dataclass(frozen=True)
class Rows:
    """card.json's rows by label, with the statistics a target reads."""

    by_label: dict[str, dict]

    def share(self, label: str, attribute: str = "all") -> float:
        """% of the row's images right in `attribute` ("all": fully right)."""
        hits = self._hits(label, attribute)
        return 100 * sum(hits) / len(hits)

    def interval(self, label: str) -> tuple[float, float]:
        """Wilson's 95% interval of the row's share fully right, in %."""
        hits = self._hits(label, "all")
        low, high = wilson(sum(hits), len(hits), Z95)
        return 100 * low, 100 * high

    def difference(self, a: str, b: str) -> tuple[float, float]:
        """95% interval of a's share fully right minus b's, in points, paired by image."""
        low, high = proportion_difference_interval(
            self._hits(a, "all"), self._hits(b, "all"), paired=True
        )
        return 100 * low, 100 * high

    def distance(self, label: str) -> float:
        return self.by_label[label]["distance"]

    def _hits(self, label: str, attribute: str) -> list[int]:
        if label not in self.by_label:
            raise KeyError(f"card.json has no row {label!r}: run `bench sd --card` again")
        return self.by_label[label]["per_image"][attribute]


@dataclass(frozen=True)
class Target:
    """One requirement: its wording and a check returning (met, what was measured)."""

    text: str
    check: Callable[[Rows], tuple[bool, str]]


def _gap(rows: Rows, a: str, b: str) -> str:
    low, high = rows.difference(a, b)
    return (
        f"{rows.share(a):.1f}% against {rows.share(b):.1f}% "
        f"(difference {rows.share(a) - rows.share(b):+.1f}, 95% interval {low:+.1f} to "
        f"{high:+.1f})"
    )


def _teacher(rows: Rows):
    return rows.share(TEACHER) >= 90, f"{rows.share(TEACHER):.1f}%"


def _solver_4(rows: Rows):
    four, teacher = SOLVER.format(4), TEACHER
    apart = rows.interval(four)[1] < rows.interval(teacher)[0]
    ok = rows.share(teacher) - rows.share(four) >= 10 and apart
    return ok, _gap(rows, four, teacher) + ("; intervals apart" if apart else "; intervals meet")


def _solver_2(rows: Rows):
    two = SOLVER.format(2)
    return rows.share(TEACHER) - rows.share(two) >= 30, _gap(rows, two, TEACHER)


def _lcm_4(rows: Rows):
    return rows.share(LCM.format(4)) >= rows.share(TEACHER) - 5, _gap(rows, LCM.format(4), TEACHER)


def _lcm_vs_solver(rows: Rows):
    # equal UNet calls: 4 LCM steps (no guidance) against 2 solver steps with guidance
    lcm, solver = LCM.format(4), SOLVER.format(2)
    return rows.share(lcm) - rows.share(solver) >= 15, _gap(rows, lcm, solver)


def _lcm_1(rows: Rows):
    one, four = LCM.format(1), LCM.format(4)
    ok = rows.difference(one, four)[1] < 0 and rows.distance(one) > rows.distance(four)
    return ok, (
        f"{_gap(rows, one, four)}; distance {rows.distance(one):.0f} against "
        f"{rows.distance(four):.0f}"
    )


def _plain(rows: Rows):
    return rows.share(LCM.format(4)) - rows.share(PLAIN_LCM) >= 20, _gap(
        rows, PLAIN_LCM, LCM.format(4)
    )


def _style(rows: Rows):
    return rows.share(STYLED, "style") >= 90, f"style right in {rows.share(STYLED, 'style'):.1f}%"


def _drift(rows: Rows):
    return rows.difference(PAPER_LCM, PAPER)[1] < 0, _gap(rows, PAPER_LCM, PAPER)


TARGETS = (
    Target("the teacher (DPM-Solver++ 20) scores at least 90% fully correct", _teacher),
    Target(
        "DPM-Solver++ 4 (8 UNet calls) at least 10 points below the teacher, intervals apart",
        _solver_4,
    ),
    Target("DPM-Solver++ 2 at least 30 points below the teacher", _solver_2),
    Target("LCM-LoRA 4 within 5 points of the teacher", _lcm_4),
    Target("LCM-LoRA 4 at least 15 points above DPM-Solver++ at 4 UNet calls", _lcm_vs_solver),
    Target("LCM-LoRA 1 step clearly below 4 steps, and farther from real images", _lcm_1),
    Target("the base model forced to 4 LCM steps at least 20 points below the adapter", _plain),
    Target("LCM-LoRA + style LoRA keeps the style right in at least 90%", _style),
    Target("on the paper fine-tune the LCM-LoRA scores clearly below its teacher", _drift),
)


def check(card: dict) -> list[tuple[Target, bool, str]]:
    """Every target checked on `card` (card.json's contents): (target, met, measured)."""
    rows = Rows({row["label"]: row for row in card["rows"]})
    return [(t, *t.check(rows)) for t in TARGETS]


def card_lines(card: dict) -> list[str]:
    """The model card's section on the targets: one line per target, met or not."""
    lines = ["Targets (`fastgen_book.tinysd.targets`), checked on the rows above:", ""]
    for target, met, measured in check(card):
        lines.append(f"- {'met' if met else '**not met**'}: {target.text}: {measured}.")
    return [*lines, ""]
