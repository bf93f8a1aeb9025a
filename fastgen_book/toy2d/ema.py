"""Exponential moving average of a model's weights (the target theta^- of Song et al. 2023)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from fastgen_book._checks import check_range


class EMA:
    """theta^- <- mu theta^- + (1 - mu) theta after each step (Song et al. 2023, algorithm 2)."""

    def __init__(self, model: nn.Module, decay: float):
        check_range(decay, 0.0, 1.0, "decay")
        self.decay = decay
        self.model = copy.deepcopy(model).requires_grad_(False).eval()

    @torch.no_grad()
    def update(self, model: nn.Module, decay: float | None = None) -> None:
        """Move the average towards `model`; `decay` overrides the default for this step."""
        mu = self.decay if decay is None else check_range(decay, 0.0, 1.0, "decay")
        for avg, new in zip(self.model.parameters(), model.parameters(), strict=True):
            avg.lerp_(new.detach(), 1 - mu)
