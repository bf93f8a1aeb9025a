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
from fastgen_book.stats import (
    Z95,
    mean_difference_interval,
    mean_interval,
    proportion_difference_interval,
    t_quantile,
    wilson,
)


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


#: Student's t 0.975 quantiles (Fisher and Yates' table)
T975 = {1: 12.7062, 3: 3.1824, 7: 2.3646, 30: 2.0423}


def test_t_quantiles_match_the_table_and_approach_the_normal():
    for df, want in T975.items():
        assert t_quantile(0.975, df) == pytest.approx(want, abs=1e-4)
    assert t_quantile(0.975, 1e6) == pytest.approx(Z95, abs=1e-4)
    assert t_quantile(0.5, 5) == pytest.approx(0.0, abs=1e-9)


def test_the_paired_interval_is_students_t_of_the_differences():
    a, b = [3.0, 5.0, 4.0, 8.0, 6.0], [2.0, 5.0, 1.0, 7.0, 6.0]
    d = [x - y for x, y in zip(a, b, strict=True)]
    half = t_quantile(0.975, 4) * statistics.stdev(d) / math.sqrt(len(d))
    assert mean_difference_interval(a, b, paired=True) == pytest.approx(
        (statistics.fmean(d) - half, statistics.fmean(d) + half)
    )
    with pytest.raises(ValueError, match="equal counts"):
        mean_difference_interval(a, b[:3], paired=True)
    with pytest.raises(ValueError, match="two values"):
        mean_interval([5.0])


def test_the_unpaired_interval_is_welchs():
    a, b = [3.0, 5.0, 4.0, 8.0], [2.0, 5.0, 1.0, 7.0, 6.0, 9.0]
    va, vb = statistics.variance(a) / 4, statistics.variance(b) / 6
    nu = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 5)  # Welch-Satterthwaite
    diff = statistics.fmean(a) - statistics.fmean(b)
    half = t_quantile(0.975, nu) * math.sqrt(va + vb)
    assert mean_difference_interval(a, b, paired=False) == pytest.approx((diff - half, diff + half))


def test_newcombes_interval_is_built_from_the_two_wilson_intervals():
    """Newcombe (1998a) method 10: theta - sqrt((p1-l1)^2 + (u2-p2)^2), theta +
    sqrt((u1-p1)^2 + (p2-l2)^2); statsmodels' confint_proportions_2indep(method='newcomb')
    gives (-0.0063103, 0.1955330) for 48/48 against 44/48."""
    a, b = [1] * 48, [1] * 44 + [0] * 4
    (l1, u1), (l2, u2) = wilson(48, 48, Z95), wilson(44, 48, Z95)
    p1, p2 = 1.0, 44 / 48
    want = (
        p1 - p2 - math.hypot(p1 - l1, u2 - p2),
        p1 - p2 + math.hypot(u1 - p1, p2 - l2),
    )
    assert proportion_difference_interval(a, b, paired=False) == pytest.approx(want)
    assert want == pytest.approx((-0.0063103, 0.1955330), abs=1e-6)
    # four images better, none worse, out of 48: not yet evidence (exact McNemar p = 0.125),
    # where a normal interval of the 0/1 differences would already say "higher"
    assert proportion_difference_interval(a, b, paired=True)[0] < 0


def test_pairing_narrows_the_interval_when_the_settings_agree_image_by_image():
    """Paired, positive correlation between the two settings' hits shrinks the interval
    (Newcombe 1998b, method 10's phi); with no correlation it is the unpaired one."""
    a = [1] * 30 + [0] * 18
    b = [1] * 22 + [0] * 8 + [0] * 18  # b's hits are a subset of a's: strongly correlated
    paired = proportion_difference_interval(a, b, paired=True)
    unpaired = proportion_difference_interval(a, b, paired=False)
    assert paired[1] - paired[0] < unpaired[1] - unpaired[0]
    assert paired[0] > 0 > unpaired[0]


def test_pairing_removes_what_two_settings_share():
    """Each image is hard or easy for both settings alike: paired, a constant gain of 1 is
    certain; unpaired, the spread between images hides it."""
    base = [float(i) for i in range(20)]
    better = [x + 1 for x in base]
    assert compare_interval(*mean_difference_interval(better, base, paired=True)) == ("higher than")
    unpaired = mean_difference_interval(better, base, paired=False)
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
    low, high = proportion_difference_interval(a.samples(), b.samples(), paired=True)
    assert a.difference(b) == pytest.approx((100 * low, 100 * high))


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
    assert tiny.interval() == pytest.approx(tuple(100 * x for x in wilson(45, 48, Z95)))
    scores = [30.0, 31.5, 29.0, 32.0]
    gpu = _result([], clip=scores)
    assert gpu.interval() == pytest.approx(mean_interval(scores))
    assert gpu.samples() == scores and tiny.samples("colour") == [1] * 48


def test_at_least_is_an_equivalence_test_a_small_sample_cannot_pass_by_noise():
    same_small = _result([1, 0] * 5), _result([1, 0] * 5)
    same_large = _result([1, 0] * 500), _result([1, 0] * 500)
    assert same_small[0].versus(same_small[1]) == "within the noise of"
    assert not same_small[0].at_least(same_small[1], margin=6)  # too few images to show it
    assert same_large[0].at_least(same_large[1], margin=6)


def test_a_result_without_per_image_scores_says_to_measure_again():
    old = _result([1] * 4)
    old.per_image.clear()
    with pytest.raises(ValueError, match="measure it again"):
        old.samples()


def test_gpu_verdicts_use_the_clip_scores_spread():
    """No hand-picked CLIP threshold: two gpu results a point apart are within the noise when
    their images spread by several points, and apart when they do not."""
    spread_out = [25.0, 35.0, 28.0, 33.0, 30.0, 31.0, 26.0, 34.0]
    a = _result([], clip=spread_out)
    b_noisy = _result([], clip=[s + 1 + (-3 if i % 2 else 3) for i, s in enumerate(spread_out)])
    b_tight = _result([], clip=[s + 1 for s in spread_out])
    assert b_noisy.versus(a) == "within the noise of"
    assert b_tight.versus(a) == "higher than"
