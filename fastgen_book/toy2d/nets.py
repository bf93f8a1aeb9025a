"""The small network every toy model uses: an MLP on (x, time embedding)."""

from __future__ import annotations

import math

import torch
from torch import nn


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of a scalar per sample (Vaswani et al. 2017; Ho et al. 2020)."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=t.dtype) / half)
    args = t.reshape(-1, 1) * freqs * 100.0
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class MLP(nn.Module):
    """F(x, t) for 2D x: [x, emb(t)] -> SiLU MLP -> 2 outputs."""

    def __init__(self, hidden: int = 256, layers: int = 4, emb_dim: int = 32):
        super().__init__()
        self.emb_dim = emb_dim
        dims = [2 + emb_dim] + [hidden] * layers
        blocks = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            blocks += [nn.Linear(a, b), nn.SiLU()]
        self.body = nn.Sequential(*blocks, nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype).reshape(-1).expand(x.shape[0])
        return self.body(torch.cat([x, time_embedding(t, self.emb_dim)], dim=1))
