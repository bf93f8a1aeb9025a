"""Argument checks that raise a ValueError saying what was wrong and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable


def check_steps(steps: int, name: str = "steps") -> int:
    """`steps` must be an integer >= 1."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {steps!r}")
    return steps


def check_choice(value: str, allowed: Iterable[str], name: str) -> str:
    """`value` must be one of `allowed`."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(allowed)}")
    return value


def check_range(value: float, low: float, high: float, name: str) -> float:
    """`low <= value <= high`."""
    if not (low <= value <= high):
        raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got {value!r}")
    return value


def check_positive(value: float, name: str) -> float:
    """`value > 0`."""
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value
