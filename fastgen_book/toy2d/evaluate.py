"""Sampling and scoring the toy models the same way everywhere (pages, bench, tests)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from fastgen_book._checks import check_steps
from fastgen_book.timing import interleaved
from fastgen_book.toy2d import data
from fastgen_book.toy2d.consistency import ConsistencyModel, sample_consistency
from fastgen_book.toy2d.metrics import sliced_wasserstein
from fastgen_book.toy2d.samplers import get_sampler, nfe
from fastgen_book.toy2d.schedules import SIGMA_MAX, SIGMA_MIN, append_zero, karras_sigmas


def noise(n: int, seed: int, sigma_max: float = SIGMA_MAX) -> torch.Tensor:
    """Starting points x_T = sigma_max * z, z ~ N(0, I), from a seeded generator."""
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)) * sigma_max


def teacher_sigmas(steps: int) -> torch.Tensor:
    """The teacher's schedule: `steps` Karras levels, then 0."""
    return append_zero(karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX)).float()


def consistency_sigmas(steps: int) -> torch.Tensor:
    """Levels for k-step consistency sampling: the top k of k+1 Karras levels (the last, sigma_min,
    would re-noise to almost nothing). For k = 2 the second level is ~0.82, close to the 0.821
    that Song et al. (2023) found for CIFAR-10 with sigma_max = 80."""
    check_steps(steps)
    return karras_sigmas(steps + 1, SIGMA_MIN, SIGMA_MAX)[:-1]


def sample_teacher(teacher, sampler: str, steps: int, n: int, seed: int) -> torch.Tensor:
    """n samples from the teacher's ODE with a named sampler and step count."""
    check_steps(steps)
    return get_sampler(sampler)(teacher, noise(n, seed), teacher_sigmas(steps))


def sample_student(model: ConsistencyModel, steps: int, n: int, seed: int) -> torch.Tensor:
    """n samples from a consistency model with k-step sampling (seeded noise and re-noising)."""
    return sample_consistency(
        model,
        noise(n, seed),
        consistency_sigmas(steps),
        model.sigma_min,
        generator=torch.Generator().manual_seed(seed + 1),
    )


def reference(dataset: str, n: int, seed: int = 100) -> torch.Tensor:
    """Held-out data to score against."""
    return data.sample(dataset, n, generator=torch.Generator().manual_seed(seed), split="heldout")


def noise_floor(dataset: str, n: int) -> float:
    """SW_2 between two independent held-out samples of size n: the best a model can score."""
    return sliced_wasserstein(reference(dataset, n, 100), reference(dataset, n, 200))


@dataclass(frozen=True)
class Score:
    """One measured row: method, sampler, network evaluations, distance, wall time."""

    method: str
    sampler: str
    nfe: int
    distance: float
    seconds: float


def _timed(fn, repeats: int) -> tuple[torch.Tensor, float]:
    """(fn's result, median seconds of `repeats` timed runs after it, `fastgen_book.timing`)."""
    out = fn()  # also the warm-up
    return out, statistics.median(interleaved({"run": fn}, repeats, warmup=0)["run"].seconds)


def score_teacher(teacher, sampler, steps, ref, seed=1, repeats=3) -> Score:
    """Distance to `ref` and median wall time of the teacher's ODE sampled with `sampler`."""
    x, secs = _timed(lambda: sample_teacher(teacher, sampler, steps, len(ref), seed), repeats)
    return Score("teacher", sampler, nfe(sampler, steps), sliced_wasserstein(x, ref), secs)


def score_student(model, method, steps, ref, seed=1, repeats=3) -> Score:
    """Distance to `ref` and median wall time of k-step consistency sampling."""
    x, secs = _timed(lambda: sample_student(model, steps, len(ref), seed), repeats)
    return Score(method, "consistency", steps, sliced_wasserstein(x, ref), secs)
