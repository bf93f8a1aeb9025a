"""The consistency-model formulas the toy models and the SD distillation share: the boundary
scalings c_skip / c_out and the pseudo-Huber distance."""

from __future__ import annotations

import torch


def boundary_scalings(
    sigma: torch.Tensor, sigma_data: float, sigma_min: float = 0.0, out_scale: float | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """c_skip = sigma_data^2 / ((sigma - sigma_min)^2 + sigma_data^2) and
    c_out = out_scale (sigma - sigma_min) / sqrt(sigma_data^2 + sigma^2), so that
    c_skip(sigma_min) = 1 and c_out(sigma_min) = 0: f(x, sigma_min) = x by construction.
    `out_scale` defaults to sigma_data (Song et al. 2023, appendix C); latent consistency models
    use 1 on the scaled timestep (Luo et al. 2023, eq. 9, as diffusers' LCMScheduler does)."""
    scale = sigma_data if out_scale is None else out_scale
    c_skip = sigma_data**2 / ((sigma - sigma_min) ** 2 + sigma_data**2)
    c_out = scale * (sigma - sigma_min) / torch.sqrt(sigma_data**2 + sigma**2)
    return c_skip, c_out


def pseudo_huber(squared: torch.Tensor, c: float) -> torch.Tensor:
    """sqrt(d^2 + c^2) - c for squared distances d^2 (Song & Dhariwal 2024, eq. 5): about
    d^2 / 2c near 0 and d - c far out. The caller chooses d: a per-sample Euclidean norm (the
    toy models) or each element on its own (diffusers' LCM-LoRA script)."""
    return torch.sqrt(squared + c**2) - c
