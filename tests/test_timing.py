"""Interleaved timing: warm-up runs are not counted, rounds rotate the order, setup is not
timed, and a burst of load cannot flip which setting is faster."""

from __future__ import annotations

import pytest

from fastgen_book.timing import Timing, faster, interleaved


class FakeClock:
    """A clock that advances only when a run says how long it took (plus any load)."""

    def __init__(self):
        self.now = 0.0
        self.calls = 0
        self.burst = set()  # run indices slowed down by another process

    def __call__(self):
        return self.now

    def work(self, seconds):
        def run():
            self.now += seconds + (5.0 if self.calls in self.burst else 0.0)
            self.calls += 1

        return run


def test_warmup_is_untimed_and_rounds_rotate():
    clock, order = FakeClock(), []
    runs = {n: (lambda n=n: order.append(n)) for n in "abc"}
    out = interleaved(runs, repeats=3, warmup=1, clock=clock)
    assert order == list("abcbcacababc")
    assert all(len(t.seconds) == 3 for t in out.values())


def test_setup_is_not_timed():
    clock = FakeClock()
    slow_setup = clock.work(100.0)
    out = interleaved(
        {"a": clock.work(1.0)}, repeats=2, warmup=0, setup={"a": slow_setup}, clock=clock
    )
    assert out["a"].seconds == (1.0, 1.0)


def test_a_burst_of_load_cannot_flip_the_comparison():
    clock = FakeClock()
    clock.burst = {2, 3, 4}  # three consecutive runs, whatever they are, take 5 s longer
    out = interleaved(
        {"fast": clock.work(1.0), "slow": clock.work(2.0)}, repeats=5, warmup=0, clock=clock
    )
    assert out["fast"].median_ms < out["slow"].median_ms


def test_speed_in_words_needs_the_repeats_apart():
    a = Timing("a", (0.010, 0.011, 0.012))
    b = Timing("b", (0.030, 0.031, 0.040))
    assert faster(a, b) == f"{b.median_ms / a.median_ms:.1f} times faster"
    assert faster(b, a) == f"{b.median_ms / a.median_ms:.1f} times slower"
    c = Timing("c", (0.011, 0.050, 0.012))
    assert faster(a, c) == "about as fast (the repeats overlap)"
    assert Timing("x", (0.02, 0.04), per=2).median_ms == pytest.approx(15.0)
    assert a.format() == "11.0 ms (10.0-12.0, 3 repeats)"


def test_fixed_and_per_step_recovers_a_line():
    from fastgen_book.timing import fixed_and_per_step

    steps = [1, 2, 4, 8]
    timings = [Timing(str(n), (0.001 * (3 + 2 * n),)) for n in steps]
    fixed, per = fixed_and_per_step(steps, timings)
    assert fixed == pytest.approx(3.0) and per == pytest.approx(2.0)
    with pytest.raises(ValueError):
        fixed_and_per_step([4, 4], timings[:2])


def test_a_split_is_stated_only_when_the_line_fits():
    from fastgen_book.timing import fits_a_line, fixed_and_per_step

    steps = [1, 2, 4, 8]
    clean = [Timing(str(n), (0.001 * (3 + 2 * n),)) for n in steps]
    assert fits_a_line(steps, clean, *fixed_and_per_step(steps, clean))
    busy = [Timing(str(n), (0.001 * v,)) for n, v in zip(steps, (9, 3, 12, 14), strict=True)]
    fixed, per = fixed_and_per_step(steps, busy)
    assert not fits_a_line(steps, busy, fixed, per)
    assert not fits_a_line(steps, clean, -1.0, 2.0)
