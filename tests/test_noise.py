"""What a verdict calls noise comes from the measurement: intervals of a difference over the
images, paired when two settings drew the same prompts and seeds, checked against their closed
forms; the threshold shrinks as the sample grows."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from fastgen_book.claims import compare_interval
from fastgen_book.sd.evaluate import Result, Setting
from fastgen_book.stats import Z95, difference_interval, mean_interval, wilson


def _result(hits: list[int], seeds=(0,), clip: list[float] | None = None) -> Result:
    """A tiny-tier result whose images are fully right where `hits` is 1 (or, with `clip`, a
    gpu-tier result with those CLIP scores)."""
    n = len(clip if clip is not None else hits)
    setting = Setting("lcm", 4, 1.0, {"lcm": 1.0})
    record = {"nfe_per_image": 4, "seeds": list(seeds), "ms_per_image": 1.0}
    images = torch.zeros(n, 3, 2, 2, dtype=torch.uint8)
    prompts = [f"p{i % 4}" for i in range(n)]
    if clip is not None:
        mean = statistics.fmean(clip)
        return Result(setting, images, prompts, record, {}, None, None, None, mean, {"clip": clip})
    per_image = {"all": hits, "colour": [1] * n}
    return Result(
        setting, images, prompts, record, {"colour": 1.0}, sum(hits) / n, 0.0, 0.0, None, per_image
    )


def test_the_paired_interval_is_the_mean_difference_and_its_standard_error():
    a, b = [3.0, 5.0, 4.0, 8.0, 6.0], [2.0, 5.0, 1.0, 7.0, 6.0]
    d = [x - y for x, y in zip(a, b, strict=True)]
    half = Z95 * statistics.stdev(d) / math.sqrt(len(d))
    assert difference_interval(a, b, paired=True) == pytest.approx(
        (statistics.fmean(d) - half, statistics.fmean(d) + half)
    )
    assert mean_interval(d) == pytest.approx(difference_interval(a, b, paired=True))
    with pytest.raises(ValueError, match="equal counts"):
        difference_interval(a, b[:3], paired=True)


def test_the_unpaired_interval_is_welchs():
    a, b = [3.0, 5.0, 4.0, 8.0], [2.0, 5.0, 1.0, 7.0, 6.0, 9.0]
    se = math.sqrt(statistics.variance(a) / 4 + statistics.variance(b) / 6)
    diff = statistics.fmean(a) - statistics.fmean(b)
    assert difference_interval(a, b, paired=False) == pytest.approx(
        (diff - Z95 * se, diff + Z95 * se)
    )


def test_pairing_removes_what_two_settings_share():
    """Each image is hard or easy for both settings alike: paired, a constant gain of 1 is
    certain; unpaired, the spread between images hides it."""
    base = [float(i) for i in range(20)]
    better = [x + 1 for x in base]
    assert compare_interval(*difference_interval(better, base, paired=True)) == "higher than"
    unpaired = difference_interval(better, base, paired=False)
    assert compare_interval(*unpaired) == "within the noise of"


def test_a_verdict_names_the_side_only_when_the_interval_excludes_zero():
    assert compare_interval(0.1, 2.0) == "higher than"
    assert compare_interval(-2.0, -0.1) == "lower than"
    assert compare_interval(-0.1, 2.0) == "within the noise of"
    with pytest.raises(ValueError):
        compare_interval(1.0, 0.0)


def test_results_pair_only_when_they_share_prompts_and_seeds():
    a, b = _result([1, 0] * 24), _result([1, 1] * 24)
    assert a.paired_with(b)
    assert not a.paired_with(_result([1, 1] * 24, seeds=(1,)))
    assert a.difference(b) == pytest.approx(
        difference_interval(a.samples(), b.samples(), paired=True)
    )


def test_the_noise_follows_the_sample_size():
    """The same 10-point gap (90% against 80% fully right) is noise over 20 images and a real
    difference over 2,000, for unpaired and paired results alike."""

    def pair(n, paired):
        good = _result([1] * (9 * n // 10) + [0] * (n // 10))
        # b misses a's images and one more in every ten
        worse = [1] * (8 * n // 10) + [0] * (2 * n // 10)
        return good, _result(worse, seeds=(0,) if paired else (1,))

    for paired in (True, False):
        small_a, small_b = pair(20, paired)
        large_a, large_b = pair(2000, paired)
        assert small_a.quality - small_b.quality == pytest.approx(10)
        assert small_a.versus(small_b) == "within the noise of"
        assert large_a.versus(large_b) == "higher than"


def test_a_result_states_its_own_interval():
    tiny = _result([1] * 45 + [0] * 3)
    assert tiny.interval() == pytest.approx(tuple(100 * x for x in wilson(45, 48)))
    scores = [30.0, 31.5, 29.0, 32.0]
    gpu = _result([], clip=scores)
    assert gpu.interval() == pytest.approx(mean_interval(scores))
    assert gpu.samples() == scores and tiny.samples("colour") == [100.0] * 48


def test_gpu_verdicts_use_the_clip_scores_spread():
    """No hand-picked CLIP threshold: two gpu results a point apart are within the noise when
    their images spread by several points, and apart when they do not."""
    spread_out = [25.0, 35.0, 28.0, 33.0, 30.0, 31.0, 26.0, 34.0]
    a = _result([], clip=spread_out)
    b_noisy = _result([], clip=[s + 1 + (-3 if i % 2 else 3) for i, s in enumerate(spread_out)])
    b_tight = _result([], clip=[s + 1 for s in spread_out])
    assert b_noisy.versus(a) == "within the noise of"
    assert b_tight.versus(a) == "higher than"
