"""Comparative words computed from the numbers they describe, so that a page's sentence can
never say more than its measurements: "higher", "lower" or "within the noise of"."""

from __future__ import annotations


def compare(
    a: float,
    b: float,
    noise: float,
    higher: str = "higher than",
    lower: str = "lower than",
    same: str = "within the noise of",
) -> str:
    """How `a` stands to `b`: `same` when they differ by less than `noise`."""
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    if abs(a - b) < noise:
        return same
    return higher if a > b else lower


def speed_ratio(ms_a: float, ms_b: float, tolerance: float = 0.1) -> str:
    """A's time against B's in words: '6.0 times faster', '1.4 times slower', or 'about as
    fast' when the two lie within `tolerance` (relative) of each other."""
    if ms_a <= 0 or ms_b <= 0:
        raise ValueError(f"times must be > 0, got {ms_a!r} and {ms_b!r}")
    ratio = ms_b / ms_a
    if abs(ratio - 1) <= tolerance:
        return "about as fast"
    return f"{ratio:.1f} times faster" if ratio > 1 else f"{1 / ratio:.1f} times slower"
