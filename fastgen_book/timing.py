"""Wall-clock that a busy machine cannot turn into a wrong comparison.

Every setting is warmed up first; then the repeats are interleaved, one run of every setting
per round with the order rotated each round, so that a burst of load from another process
lands on all settings alike instead of on whichever ran during it. Each setting's time is the
median of its repeats, and a comparison in words (`faster`) is only made when one setting's
median beats every repeat of the other.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastgen_book._checks import check_steps


@dataclass(frozen=True)
class Timing:
    """The repeats of one setting, in seconds per `per` items (images, samples)."""

    name: str
    seconds: tuple[float, ...]
    per: int = 1

    @property
    def median_ms(self) -> float:
        """Median milliseconds per item."""
        return 1000 * statistics.median(self.seconds) / self.per

    @property
    def low_ms(self) -> float:
        return 1000 * min(self.seconds) / self.per

    @property
    def high_ms(self) -> float:
        return 1000 * max(self.seconds) / self.per

    def format(self) -> str:
        """'12.3 ms (11.9-13.0, 5 repeats)' per item."""
        return (
            f"{self.median_ms:.1f} ms ({self.low_ms:.1f}-{self.high_ms:.1f}, "
            f"{len(self.seconds)} repeats)"
        )


def interleaved(
    runs: dict[str, Callable[[], object]],
    repeats: int = 5,
    warmup: int = 1,
    per: int = 1,
    setup: dict[str, Callable[[], object]] | None = None,
    sync: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Timing]:
    """Time every callable of `runs` `repeats` times, interleaved round-robin after `warmup`
    untimed rounds. `setup[name]`, if given, runs untimed before each run of `name` (switching
    an adapter, a scheduler); `sync` (an accelerator's synchronise) runs before each clock
    reading. Returns {name: Timing}, per `per` items."""
    check_steps(repeats, "repeats")
    if not runs:
        raise ValueError("interleaved needs at least one setting to time")
    setup = setup or {}
    sync = sync or (lambda: None)
    names = list(runs)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            if name in setup:
                setup[name]()
            sync()
            start = clock()
            runs[name]()
            sync()
            if r >= warmup:
                times[name].append(clock() - start)
    return {n: Timing(n, tuple(times[n]), per) for n in names}


def faster(a: Timing, b: Timing) -> str:
    """A's speed against B's in words: 'N times faster' or 'N times slower' (median ratio) when
    one side's median beats even the fastest repeat of the other (more than half its runs beat
    all of the other's, so a burst that slows a few runs cannot decide it), else 'about as fast
    (the repeats overlap)'."""
    if a.median_ms < b.low_ms:
        return f"{b.median_ms / a.median_ms:.1f} times faster"
    if b.median_ms < a.low_ms:
        return f"{a.median_ms / b.median_ms:.1f} times slower"
    return "about as fast (the repeats overlap)"


def fits_a_line(
    steps: list[int], timings: list[Timing], fixed: float, per_step: float, tolerance=0.25
) -> bool:
    """Whether a fit of `fixed_and_per_step` describes the timings: both parts positive and
    every median within `tolerance` (relative) of the line. A busy machine's timings often
    are not, and then the split should not be stated."""
    if fixed < 0 or per_step <= 0:
        return False
    return all(
        abs(t.median_ms - (fixed + per_step * n)) <= tolerance * t.median_ms
        for n, t in zip(steps, timings, strict=True)
    )


def fixed_and_per_step(steps: list[int], timings: list[Timing]) -> tuple[float, float]:
    """Least-squares fit of median ms = fixed + per_step * steps: what a run costs whatever its
    step count (text encoder, decoder, Python overhead) and what each step adds."""
    if len(steps) != len(timings) or len(set(steps)) < 2:
        raise ValueError("need timings at two or more different step counts")
    per, fixed = statistics.linear_regression(steps, [t.median_ms for t in timings])
    return fixed, per
