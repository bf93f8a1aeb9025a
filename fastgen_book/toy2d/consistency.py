"""Consistency models (Song et al. 2023): f(x, sigma) = c_skip x + c_out F(x, sigma)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from fastgen_book._checks import check_positive
from fastgen_book.consistency_math import boundary_scalings

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def consistency_scalings(
    sigma: torch.Tensor, sigma_data: float, sigma_min: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """c_skip, c_out with c_skip(sigma_min) = 1 and c_out(sigma_min) = 0 (Song et al. 2023, eq. 9
    and appendix C), so the boundary condition f(x, sigma_min) = x holds by construction."""
    return boundary_scalings(sigma, sigma_data, sigma_min)


#: How fast a denoiser-wrapping student hands over from the skip path to the denoiser.
DENOISER_SCALE = 10.0


def denoiser_scalings(
    sigma: torch.Tensor, sigma_data: float, sigma_min: float, scale: float = DENOISER_SCALE
) -> tuple[torch.Tensor, torch.Tensor]:
    """c_skip, c_out = 1 - c_skip for a student that wraps a denoiser D(x, sigma) ~ x_0, so that
    it starts from the teacher's weights as latent consistency models do (Luo et al. 2023,
    eq. 9, with diffusers' timestep scaling of 10). f is a convex blend of x and D, almost D
    except just above sigma_min, and c_skip(sigma_min) = 1, c_out(sigma_min) = 0 exactly."""
    u = scale * (sigma - sigma_min)
    c_skip = sigma_data**2 / (u**2 + sigma_data**2)
    return c_skip, 1 - c_skip


class ConsistencyModel(nn.Module):
    """f_theta(x, sigma) = c_skip x + c_out F. `F` is either a raw network F(c_in x, c_noise)
    with EDM input scalings (`wraps_denoiser=False`), or a denoiser module D(x, sigma), such as a
    copy of the teacher (`wraps_denoiser=True`). `boundary=False` drops the scalings (c_skip = 0,
    c_out = 1), so f = F and nothing enforces f(x, sigma_min) = x: the ablation of Song et al.
    (2023, section 3)."""

    def __init__(
        self,
        net: nn.Module,
        sigma_data: float,
        sigma_min: float,
        sigma_max: float,
        *,
        wraps_denoiser: bool = False,
        boundary: bool = True,
    ):
        super().__init__()
        check_positive(sigma_min, "sigma_min")
        self.net = net
        self.sigma_data = float(sigma_data)
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        self.wraps_denoiser = wraps_denoiser
        self.boundary = boundary

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = _as_column(sigma, x)
        if torch.any(sigma < self.sigma_min * (1 - 1e-6)) or torch.any(
            sigma > self.sigma_max * (1 + 1e-6)
        ):
            raise ValueError(
                f"sigma must lie in [sigma_min, sigma_max] = [{self.sigma_min:g}, "
                f"{self.sigma_max:g}], got values in [{sigma.min().item():g}, "
                f"{sigma.max().item():g}]"
            )
        if self.wraps_denoiser:
            out = self.net(x, sigma.reshape(-1))
            scalings = denoiser_scalings
        else:
            c_in = torch.rsqrt(sigma**2 + self.sigma_data**2)
            out = self.net(c_in * x, 0.25 * torch.log(sigma))
            scalings = consistency_scalings
        if not self.boundary:
            return out
        c_skip, c_out = scalings(sigma, self.sigma_data, self.sigma_min)
        return c_skip * x + c_out * out


def _as_column(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """Broadcast a scalar or per-sample sigma to shape [batch, 1]."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim == 0:
        sigma = sigma.expand(x.shape[0])
    if sigma.shape != (x.shape[0],) and sigma.shape != (x.shape[0], 1):
        raise ValueError(
            f"sigma must be a scalar or have one value per sample ({x.shape[0]}), "
            f"got shape {tuple(sigma.shape)}"
        )
    return sigma.reshape(-1, 1)


@torch.no_grad()
def sample_consistency(
    model: Denoiser,
    x: torch.Tensor,
    sigmas: Sequence[float] | torch.Tensor,
    sigma_min: float,
    *,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
):
    """Multistep consistency sampling (Song et al. 2023, algorithm 1): jump to x_0 from
    sigmas[0], then for each later sigma re-noise x_0 to that level and jump again.

    `x` is the starting noise already scaled to sigmas[0]. Each step restarts from a fresh
    noisy point; it does not continue along an ODE trajectory.
    """
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    if sigmas.numel() < 1:
        raise ValueError("sigmas must hold at least one noise level")
    if torch.any(sigmas[1:] >= sigmas[:-1]):
        raise ValueError(f"sigmas must strictly decrease, got {sigmas.tolist()}")
    x0 = model(x, torch.full((x.shape[0],), float(sigmas[0]), dtype=x.dtype))
    trajectory = [x0]
    for sigma in sigmas[1:].tolist():
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = x0 + (sigma**2 - sigma_min**2) ** 0.5 * z
        x0 = model(x, torch.full((x.shape[0],), sigma, dtype=x.dtype))
        trajectory.append(x0)
    return (x0, trajectory) if return_trajectory else x0
