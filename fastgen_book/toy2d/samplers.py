"""ODE samplers over a denoiser D(x, sigma) on the VE scale, k-diffusion style:
`sample_*(model, x, sigmas)` with `sigmas` decreasing and ending at 0.

The probability-flow ODE is dx/dsigma = (x - D(x, sigma)) / sigma (Karras et al. 2022, eq. 3 with
sigma(t) = t). Every step function broadcasts a scalar or per-sample [batch, 1] sigma.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fastgen_book._checks import check_choice

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _col(sigma, x: torch.Tensor) -> torch.Tensor:
    """sigma as a [batch, 1] column of x's dtype."""
    return torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1).expand(x.shape[0], 1)


def _denoise(model: Denoiser, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return model(x, sigma.reshape(-1))


def euler_step(model: Denoiser, x, sigma, sigma_next) -> torch.Tensor:
    """One Euler step of the PF-ODE (Karras et al. 2022, algorithm 1 without the correction)."""
    s, s_next = _col(sigma, x), _col(sigma_next, x)
    d = (x - _denoise(model, x, s)) / s
    return x + (s_next - s) * d


def heun_step(model: Denoiser, x, sigma, sigma_next) -> torch.Tensor:
    """One Heun step (Karras et al. 2022, algorithm 1); plain Euler where sigma_next = 0."""
    s, s_next = _col(sigma, x), _col(sigma_next, x)
    d = (x - _denoise(model, x, s)) / s
    x_euler = x + (s_next - s) * d
    safe_next = torch.where(s_next > 0, s_next, torch.ones_like(s_next))
    d_next = (x_euler - _denoise(model, x_euler, safe_next)) / safe_next
    return torch.where(s_next > 0, x + (s_next - s) * 0.5 * (d + d_next), x_euler)


def ddim_step(model: Denoiser, x, sigma, sigma_next) -> torch.Tensor:
    """Deterministic DDIM (Song et al. 2021, eq. 12 on the VE scale): predict x_0, then leap to
    sigma_next keeping the same noise direction eps = (x - x_0) / sigma."""
    s, s_next = _col(sigma, x), _col(sigma_next, x)
    x0 = _denoise(model, x, s)
    eps = (x - x0) / s
    return x0 + s_next * eps


def _check_sigmas(sigmas: torch.Tensor) -> torch.Tensor:
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    if sigmas.numel() < 2:
        raise ValueError(f"sigmas needs at least 2 levels (start and end), got {sigmas.numel()}")
    if torch.any(sigmas[1:] >= sigmas[:-1]) or sigmas[-1] < 0:
        raise ValueError(f"sigmas must strictly decrease to a level >= 0, got {sigmas.tolist()}")
    return sigmas


def _run(step, model, x, sigmas, return_trajectory):
    sigmas = _check_sigmas(sigmas)
    trajectory = [x]
    for s, s_next in zip(sigmas[:-1].tolist(), sigmas[1:].tolist(), strict=True):
        x = step(model, x, s, s_next)
        trajectory.append(x)
    return (x, trajectory) if return_trajectory else x


@torch.no_grad()
def sample_euler(model: Denoiser, x, sigmas, *, return_trajectory: bool = False):
    """Euler's method on the PF-ODE: one network evaluation per step."""
    return _run(euler_step, model, x, sigmas, return_trajectory)


@torch.no_grad()
def sample_heun(model: Denoiser, x, sigmas, *, return_trajectory: bool = False):
    """Heun's second-order method: two evaluations per step, one for a final step to 0."""
    return _run(heun_step, model, x, sigmas, return_trajectory)


@torch.no_grad()
def sample_ddim(model: Denoiser, x, sigmas, *, return_trajectory: bool = False):
    """Deterministic DDIM: predict x_0 and leap. On this scale it equals Euler step for step."""
    return _run(ddim_step, model, x, sigmas, return_trajectory)


@torch.no_grad()
def sample_dpmpp_2m(model: Denoiser, x, sigmas, *, return_trajectory: bool = False):
    """DPM-Solver++(2M) (Lu et al. 2022, algorithm 2): second order from the previous step's
    denoised estimate, one evaluation per step."""
    sigmas = _check_sigmas(sigmas)
    trajectory = [x]
    old = None
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = _denoise(model, x, _col(float(s), x))
        if s_next == 0:
            x = denoised
        else:
            h = torch.log(s) - torch.log(s_next)
            if old is None:
                d = denoised
            else:
                r = (torch.log(sigmas[i - 1]) - torch.log(s)) / h
                d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old
            x = (s_next / s).to(x.dtype) * x - torch.expm1(-h).to(x.dtype) * d
        old = denoised
        trajectory.append(x)
    return (x, trajectory) if return_trajectory else x


SAMPLERS = {
    "euler": sample_euler,
    "heun": sample_heun,
    "ddim": sample_ddim,
    "dpmpp_2m": sample_dpmpp_2m,
}


def get_sampler(name: str):
    """A sampler by name: euler, heun, ddim or dpmpp_2m."""
    return SAMPLERS[check_choice(name, SAMPLERS, "sampler")]


def nfe(name: str, steps: int) -> int:
    """Network evaluations a sampler spends for `steps` steps ending at sigma = 0."""
    check_choice(name, SAMPLERS, "sampler")
    return 2 * steps - 1 if name == "heun" else steps
