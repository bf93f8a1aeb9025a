"""Sample quality for 2D point clouds: the sliced Wasserstein-2 distance and its noise floor."""

from __future__ import annotations

import math

import torch

from fastgen_book._checks import check_steps


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, projections: int = 180) -> float:
    """SW_2 between equal-size 2D samples (Bonneel et al. 2015): the root mean over directions of
    the squared 1D Wasserstein-2 distance. Directions are evenly spaced on [0, pi), so the value
    is deterministic (a quadrature of the integral over the circle)."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != 2 or b.shape[1] != 2:
        raise ValueError(
            f"expected two [n, 2] point clouds, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"samples must have equal size, got {a.shape[0]} and {b.shape[0]}")
    check_steps(projections, "projections")
    angle = torch.arange(projections, dtype=torch.float64) * (math.pi / projections)
    dirs = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)  # [P, 2]
    pa = torch.sort(a.double() @ dirs.T, dim=0).values
    pb = torch.sort(b.double() @ dirs.T, dim=0).values
    return float(((pa - pb) ** 2).mean().sqrt())
