"""Spread of repeated measurements: the mean and standard deviation over seeds, and the Wilson
score interval for a proportion (Wilson 1927), so that pages report more than one number."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """Repeats of one measurement (one value per seed)."""

    values: tuple[float, ...]

    def __post_init__(self):
        if not self.values:
            raise ValueError("a spread needs at least one value")

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        """Sample standard deviation (0 for a single value)."""
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def format(self, digits: int = 4) -> str:
        """'mean ± sd (n seeds)'."""
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f} ({len(self.values)} seeds)"


def spread(values: Sequence[float]) -> Spread:
    """The values as a `Spread`."""
    return Spread(tuple(float(v) for v in values))


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a proportion successes / n (95% for z = 1.96)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes} of {n}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


#: the normal quantile of a two-sided 95% interval
Z95 = 1.96


def mean_interval(values: Sequence[float], z: float = Z95) -> tuple[float, float]:
    """The normal interval of a mean: mean +- z sd / sqrt(n) (95% for z = 1.96)."""
    s = spread(values)
    half = z * s.sd / math.sqrt(len(s.values))
    return s.mean - half, s.mean + half


def difference_interval(
    a: Sequence[float], b: Sequence[float], paired: bool, z: float = Z95
) -> tuple[float, float]:
    """A 95% interval of mean(a) - mean(b), from the observations themselves.

    `paired`: a[i] and b[i] were measured on the same unit (the same prompt and seed), so the
    interval is that of the mean of the differences a[i] - b[i], which cancels what the two
    share (a hard prompt is hard for both); else the unpaired (Welch) interval,
    mean(a) - mean(b) +- z sqrt(var_a / n_a + var_b / n_b). Normal approximations: with n of a
    few dozen they are what a reader's rule of thumb would be, and they widen as n shrinks."""
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired observations need equal counts, got {len(a)} and {len(b)}")
        return mean_interval([x - y for x, y in zip(a, b, strict=True)], z)
    sa, sb = spread(a), spread(b)
    diff = sa.mean - sb.mean
    half = z * math.sqrt(sa.sd**2 / len(sa.values) + sb.sd**2 / len(sb.values))
    return diff - half, diff + half
