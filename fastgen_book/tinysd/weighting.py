"""Per-timestep weights of the denoising loss: the plain epsilon loss, min-SNR and truncated SNR."""

from __future__ import annotations

import torch

from fastgen_book._checks import check_choice

WEIGHTINGS = ("epsilon", "min-snr", "truncated-snr")


def loss_weights(
    alphas_cumprod: torch.Tensor,
    t: torch.Tensor,
    weighting: str,
    gamma: float = 5.0,
    floor: float = 1.0,
) -> torch.Tensor:
    """Per-sample weights on the epsilon loss, SNR = a / (1 - a). Since |eps error|^2 =
    SNR |x0 error|^2, the plain loss ("epsilon") weights the image error by SNR and barely trains
    the high-noise steps where the layout is decided. "min-snr": min(SNR, gamma) / SNR (Hang et
    al. 2023); "truncated-snr": max(SNR, floor) / SNR, the image error weighted by
    max(SNR, floor) (Salimans & Ho 2022, sec. 4, with floor 1)."""
    check_choice(weighting, WEIGHTINGS, "weighting")
    a = alphas_cumprod[t]
    snr = a / (1 - a)
    if weighting == "min-snr":
        return snr.clamp(max=gamma) / snr
    if weighting == "truncated-snr":
        return snr.clamp(min=floor) / snr
    return torch.ones_like(snr)
