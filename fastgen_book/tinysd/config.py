"""A training stage's configuration and its learning-rate schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastgen_book._checks import check_choice, check_positive, check_steps
from fastgen_book.sd import shapes
from fastgen_book.tinysd.weighting import WEIGHTINGS


@dataclass(frozen=True)
class TrainConfig:
    """One training stage: what to train, for how long, on which slice of the data."""

    steps: int = 3000
    batch: int = 64
    lr: float = 1e-3
    schedule: str = "constant"  # or "cosine": decay to 0 over `steps`
    decay_steps: int = 0  # constant schedule: cosine-decay to 0 over the last `decay_steps`
    styles: tuple[str, ...] = ("filled",)  # each batch draws one style and one background
    backgrounds: tuple[str, ...] = ("dark",)
    cfg_dropout: float = 0.1
    # per-timestep loss weights, see `loss_weights`
    weighting: str = "epsilon"
    min_snr_gamma: float = 5.0
    snr_floor: float = 1.0  # "truncated-snr": the image error is weighted by max(SNR, floor)
    # > 0: `weighting` for the first `weighting_until` steps only, then the plain epsilon loss
    weighting_until: int = 0
    # > 0: the denoising stages draw from this many images encoded once (`LatentPool`, the
    # shipped UNet recipe); 0: fresh images every step, encoded every step
    pool: int = 0
    # autoencoder: added to the encoder's initial log-variance bias (see `offset_logvar`);
    # 0: diffusers' initialisation, a posterior std near 1
    logvar_offset: float = 0.0
    # autoencoder: weight of a squared-error term beside the L1 reconstruction loss (L1's
    # gradient ignores an error's size, so the few pixels of a wrong colour count no more than
    # the many of a slightly-off background); 0: L1 alone. The shipped autoencoder uses 10
    # (`vae_recipe`)
    mse_weight: float = 0.0
    save_every: int = 500
    seed: int = 0

    def __post_init__(self):
        check_steps(self.steps, "steps")
        check_steps(self.batch, "batch")
        check_choice(self.schedule, ("constant", "cosine"), "schedule")
        if self.pool < 0:
            raise ValueError(f"pool must be >= 0 (0: fresh images every step), got {self.pool}")
        check_choice(self.weighting, WEIGHTINGS, "weighting")
        check_positive(self.min_snr_gamma, "min_snr_gamma")
        check_positive(self.snr_floor, "snr_floor")
        if not math.isfinite(self.logvar_offset):
            raise ValueError(f"logvar_offset must be a finite number, got {self.logvar_offset}")
        if not (math.isfinite(self.mse_weight) and self.mse_weight >= 0):
            raise ValueError(f"mse_weight must be a finite number >= 0, got {self.mse_weight}")
        if self.weighting_until < 0:
            raise ValueError(
                f"weighting_until must be >= 0 (0: the whole run), got {self.weighting_until}"
            )
        for style in self.styles:
            check_choice(style, shapes.STYLES, "style")
        for background in self.backgrounds:
            check_choice(background, shapes.BACKGROUNDS, "background")


def learning_rate(config, step: int) -> float:
    """The schedule: cosine from `lr` to 0 over all steps, or constant with a cosine decay over
    the last `decay_steps` (annealing; Loshchilov & Hutter 2017). `config` is any config with
    `lr`, `steps`, `schedule` and `decay_steps`."""
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * step / config.steps))
    start = config.steps - config.decay_steps
    if step < start:
        return config.lr
    return config.lr * 0.5 * (1 + math.cos(math.pi * (step - start) / config.decay_steps))
