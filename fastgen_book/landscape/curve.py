"""The quality-speed curve as data: Pareto frontiers and the free / cheap / expensive regions,
computed from measured points (never drawn by hand)."""

from __future__ import annotations

from dataclasses import dataclass

#: Methods that need a trained student (distillation); the rest sample the original model.
DISTILLED = frozenset(
    {"consistency distillation", "consistency training", "LCM-LoRA", "tiny-turbo"}
)


@dataclass(frozen=True)
class Point:
    """One measured way to sample: its cost (NFE or ms) and its loss (lower is better)."""

    method: str
    cost: float
    loss: float
    label: str = ""
    #: a 95% interval of the loss, when the measurement has one (Wilson, for accuracies)
    interval: tuple[float, float] | None = None


def pareto_frontier(points: list[Point]) -> list[Point]:
    """The points no other point beats on both cost and loss, by increasing cost."""
    best: list[Point] = []
    for p in sorted(points, key=lambda p: (p.cost, p.loss)):
        if not best or p.loss < best[-1].loss:
            best.append(p)
    return best


@dataclass(frozen=True)
class Regions:
    """Cost boundaries: from `free_from` up quality is within `free_tol` of the reference (the
    best loss at any cost); from `cheap_from` up within `cheap_tol`; below it, expensive."""

    reference: float
    free_tol: float
    cheap_tol: float
    free_from: float
    cheap_from: float
    max_cost: float

    @property
    def free_speedup(self) -> float:
        """How much cheaper than the most expensive measured point the free region reaches."""
        return self.max_cost / self.free_from

    @property
    def cheap_text(self) -> str:
        """Where the cheap region starts, in words ('none' when it starts with the free one)."""
        if self.cheap_from < self.free_from:
            return f"from {self.cheap_from:g} NFE"
        return "none: below the free region every removed step costs visible quality"

    def summary(self) -> str:
        return (
            f"reference loss {self.reference:.4g}; free from {self.free_from:g} NFE "
            f"({self.free_speedup:.0f}x below the most expensive point), cheap from "
            f"{self.cheap_from:g} NFE"
        )

    def glue(self, prefix: str) -> None:
        """`prefix`free_from, cheap_from, free_x (the free region's speed-up), cheap_text."""
        from fastgen_book.book.glue import glue_values

        values = {"free_from": self.free_from, "cheap_from": self.cheap_from}
        values |= {"free_x": self.free_speedup, "cheap_text": self.cheap_text}
        glue_values(values, prefix)


def regions(points: list[Point], free_tol: float, cheap_tol: float) -> Regions:
    """Where the frontier's loss stays within `free_tol` (absolute) of the reference, and where
    within `cheap_tol`: the smallest measured costs that achieve each."""
    if not 0 <= free_tol <= cheap_tol:
        raise ValueError(f"need 0 <= free_tol <= cheap_tol, got {free_tol}, {cheap_tol}")
    if not points:
        raise ValueError("regions needs at least one measured point")
    frontier = pareto_frontier(points)
    reference = frontier[-1].loss
    free_from = next(p.cost for p in frontier if p.loss <= reference + free_tol)
    cheap_from = next(p.cost for p in frontier if p.loss <= reference + cheap_tol)
    return Regions(
        reference, free_tol, cheap_tol, free_from, cheap_from, max(p.cost for p in points)
    )
