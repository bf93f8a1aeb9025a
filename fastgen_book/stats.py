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


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction
    (Press et al., Numerical Recipes, 3rd ed., sec. 6.4, eq. 6.4.5)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side only
        return 1.0 - _betainc(b, a, 1.0 - x)
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 300):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f / a


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with `df` degrees of freedom (df may be fractional, as
    Welch's is), by bisection on its CDF, 1 - I_{df/(df+t^2)}(df/2, 1/2) / 2 for t > 0."""
    if not 0.5 <= p < 1 or df <= 0:
        raise ValueError(f"need 0.5 <= p < 1 and df > 0, got p={p}, df={df}")

    def cdf(t: float) -> float:
        return 1.0 - 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))

    low, high = 0.0, 1.0
    while cdf(high) < p:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return (low + high) / 2


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Student's t interval of a mean: mean +- t_{n-1} sd / sqrt(n) (Student 1908). Needs two
    values or more."""
    s = spread(values)
    n = len(s.values)
    if n < 2:
        raise ValueError("an interval of a mean needs at least two values")
    half = t_quantile(0.5 + level / 2, n - 1) * s.sd / math.sqrt(n)
    return s.mean - half, s.mean + half


def mean_difference_interval(
    a: Sequence[float], b: Sequence[float], paired: bool, level: float = 0.95
) -> tuple[float, float]:
    """An interval of mean(a) - mean(b) for measurements on a continuous scale (a CLIP score).

    `paired`: a[i] and b[i] were measured on the same unit (the same prompt and seed), so the
    interval is the t interval of the differences a[i] - b[i], which cancels what the two share
    (a hard prompt is hard for both); else Welch's, mean(a) - mean(b) +- t_nu sqrt(v_a / n_a +
    v_b / n_b) with Welch-Satterthwaite's nu (Welch 1947)."""
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired observations need equal counts, got {len(a)} and {len(b)}")
        return mean_interval([x - y for x, y in zip(a, b, strict=True)], level)
    sa, sb = spread(a), spread(b)
    na, nb = len(sa.values), len(sb.values)
    if min(na, nb) < 2:
        raise ValueError("an interval of a difference needs at least two values on each side")
    va, vb = sa.sd**2 / na, sb.sd**2 / nb
    diff = sa.mean - sb.mean
    if va + vb == 0:
        return diff, diff
    nu = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = t_quantile(0.5 + level / 2, nu) * math.sqrt(va + vb)
    return diff - half, diff + half


#: the normal quantile of a two-sided 95% interval
Z95 = statistics.NormalDist().inv_cdf(0.975)


def proportion_difference_interval(
    a: Sequence[int], b: Sequence[int], paired: bool, z: float = Z95
) -> tuple[float, float]:
    """A 95% interval of the difference of two proportions, a and b given as 0/1 per image.

    Newcombe's hybrid score intervals, built from the two Wilson intervals: method 10 of
    Newcombe (1998a) for independent samples, and for paired ones (`paired`: image i of both
    from one prompt and seed) its paired form, method 10 of Newcombe (1998b), which corrects
    for the correlation phi of the 2x2 table (phi continuity-corrected when positive:
    max(ad - bc - n/2, 0) / sqrt(efgh)). Unlike a normal interval of 0/1 differences they
    keep their coverage when few images differ (4 of 48, all one way, is not yet evidence)."""
    na, nb = len(a), len(b)
    sa, sb = sum(a), sum(b)
    p1, p2 = sa / na, sb / nb
    l1, u1 = wilson(sa, na, z)
    l2, u2 = wilson(sb, nb, z)
    phi = 0.0
    if paired:
        if na != nb:
            raise ValueError(f"paired observations need equal counts, got {na} and {nb}")
        both = sum(1 for x, y in zip(a, b, strict=True) if x and y)
        only_a, only_b = sa - both, sb - both
        neither = na - both - only_a - only_b
        margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
        agree = both * neither - only_a * only_b
        if agree > 0:  # Newcombe's continuity correction of phi, so that agreement alone
            agree = max(agree - na / 2, 0.0)  # cannot shrink the interval to nothing
        if margins > 0:
            phi = agree / math.sqrt(margins)
    theta = p1 - p2
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    eps = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return theta - delta, theta + eps
