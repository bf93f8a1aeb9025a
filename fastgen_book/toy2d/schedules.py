"""Noise levels. Everything in fastgen_book.toy2d works on the variance-exploding scale of
Karras et al. 2022 (EDM): x_sigma = x_0 + sigma * eps, with sigma in [sigma_min, sigma_max]."""

from __future__ import annotations

import math

import torch

from fastgen_book._checks import check_positive, check_steps

#: The noise range of every toy model (data normalised to unit variance): the one place to set it.
SIGMA_MIN, SIGMA_MAX = 0.002, 20.0


def karras_sigmas(
    n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = 7.0
) -> torch.Tensor:
    """n noise levels from sigma_max down to sigma_min (Karras et al. 2022, eq. 5), float64."""
    check_steps(n, "n")
    check_positive(sigma_min, "sigma_min")
    if not sigma_max > sigma_min:
        raise ValueError(f"sigma_max must be > sigma_min, got {sigma_max!r} <= {sigma_min!r}")
    if n == 1:
        return torch.tensor([sigma_max], dtype=torch.float64)
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def distillation_levels(
    n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX
) -> torch.Tensor:
    """The N discretisation levels of consistency distillation and training, ascending
    sigma_1 = sigma_min < ... < sigma_N = sigma_max (Song et al. 2023, sec. 4), float32."""
    return karras_sigmas(n, sigma_min, sigma_max).flip(0).float()


def append_zero(sigmas: torch.Tensor) -> torch.Tensor:
    """Sampler schedules end at sigma = 0 (the clean endpoint)."""
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def flow_t_from_sigma(sigma: torch.Tensor) -> torch.Tensor:
    """Rectified-flow time t with x_t = (1-t) x_0 + t eps equals sigma / (1 + sigma) on the VE
    scale (x_t = x_sigma / (1 + sigma)); Lipman et al. 2023, Karras et al. 2022 eq. 4."""
    return sigma / (1 + sigma)


def vp_t_from_sigma(sigma: torch.Tensor) -> torch.Tensor:
    """Cosine VP schedule alpha_t = cos(pi t / 2), sigma_t = sin(pi t / 2) (Nichol & Dhariwal
    2021): sigma = tan(pi t / 2), so t = 2 atan(sigma) / pi."""
    return 2 * torch.atan(sigma) / math.pi


def vp_alpha(sigma: torch.Tensor) -> torch.Tensor:
    """alpha_t = 1 / sqrt(1 + sigma^2): x_t(VP) = alpha_t * x_sigma (Karras et al. 2022, eq. 4)."""
    return torch.rsqrt(1 + sigma**2)
