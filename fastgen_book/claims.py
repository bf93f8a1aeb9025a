"""Comparative words computed from the numbers they describe, so that a page's sentence can
never say more than its measurements ("higher", "lower", "within the noise of", the noise read
off the measurements' own spread: `compare_interval`, `compare_runs`), and `claim`, which fails
a build whose numbers contradict a sentence its page states in fixed words."""

from __future__ import annotations

from collections.abc import Sequence


def compare_interval(
    low: float,
    high: float,
    higher: str = "higher than",
    lower: str = "lower than",
    same: str = "within the noise of",
) -> str:
    """How A stands to B given an interval (`low`, `high`) of A - B: `higher` or `lower` only
    when the interval excludes zero (`fastgen_book.sd.evaluate.Result.difference`)."""
    if low > high:
        raise ValueError(f"an interval needs low <= high, got ({low!r}, {high!r})")
    if low > 0:
        return higher
    if high < 0:
        return lower
    return same


def compare_runs(
    a: Sequence[float],
    b: Sequence[float],
    higher: str = "higher than",
    lower: str = "lower than",
    same: str = "within the seed-to-seed spread of",
) -> str:
    """How repeats `a` stand to repeats `b` (one value per seed): `higher` or `lower` only when
    the ranges do not overlap (every seed of one side beyond every seed of the other)."""
    if not a or not b:
        raise ValueError("compare_runs needs at least one value on each side")
    if min(a) > max(b):
        return higher
    if max(a) < min(b):
        return lower
    return same


class ClaimError(AssertionError):
    """A sentence of a page that the numbers of its own build contradict."""


def claim(sentence: str, holds: bool, evidence: str) -> None:
    """Fail the build when `holds` is false, naming the page's `sentence` (quote it as the page
    has it) and the `evidence` that contradicts it. Cells call this next to the numbers a
    comparative sentence rests on."""
    if not holds:
        raise ClaimError(f"the page says {sentence!r}, but this build measured {evidence}")
