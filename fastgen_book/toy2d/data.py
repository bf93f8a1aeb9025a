"""2D data sets for the toy experiments: two moons and eight Gaussians, normalised, seeded."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import torch

from fastgen_book._checks import check_choice, check_steps

DATASETS = ("two_moons", "eight_gaussians")
#: Train and held-out samples come from disjoint generator streams.
_SPLIT_OFFSET = {"train": 0, "heldout": 1_000_003}


def _two_moons(n: int, generator: torch.Generator) -> torch.Tensor:
    """Two interleaved half circles with Gaussian jitter (std 0.1)."""
    upper = torch.rand(n, generator=generator) < 0.5
    angle = torch.rand(n, generator=generator) * math.pi
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    pts = torch.stack([x, y], dim=1)
    return pts + 0.1 * torch.randn(n, 2, generator=generator)


def _eight_gaussians(n: int, generator: torch.Generator) -> torch.Tensor:
    """Eight Gaussians (std 0.1) on a circle of radius 2: a multi-modal test of mode coverage."""
    k = torch.randint(0, 8, (n,), generator=generator)
    angle = k.double() * (2 * math.pi / 8)
    centres = 2.0 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return centres.float() + 0.1 * torch.randn(n, 2, generator=generator)


_RAW = {"two_moons": _two_moons, "eight_gaussians": _eight_gaussians}


@dataclass(frozen=True)
class Normalisation:
    """Fixed affine map to zero mean, unit standard deviation per axis (from 200k samples)."""

    mean: tuple[float, float]
    std: tuple[float, float]


@cache
def normalisation(name: str) -> Normalisation:
    """The data set's fixed normalisation, estimated once from a large seeded sample."""
    check_choice(name, DATASETS, "dataset")
    g = torch.Generator().manual_seed(12345)
    raw = _RAW[name](200_000, g).double()
    mean, std = raw.mean(0), raw.std(0)
    return Normalisation(tuple(mean.tolist()), tuple(std.tolist()))


def sample(name: str, n: int, *, generator: torch.Generator, split: str = "train") -> torch.Tensor:
    """n normalised points [n, 2] from `name`; `split` picks the train or held-out stream."""
    check_choice(name, DATASETS, "dataset")
    check_steps(n, "n")
    check_choice(split, _SPLIT_OFFSET, "split")
    if split != "train":
        seed = generator.initial_seed() + _SPLIT_OFFSET[split]
        generator = torch.Generator().manual_seed(seed)
    norm = normalisation(name)
    raw = _RAW[name](n, generator)
    return (raw - torch.tensor(norm.mean)) / torch.tensor(norm.std)
