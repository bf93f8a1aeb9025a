"""Turning image tensors into PNG files and labelled grids."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def to_uint8(image: torch.Tensor, scale: int = 1) -> torch.Tensor:
    """[3, H, W] in [0, 1] -> [H*scale, W*scale, 3] uint8 (nearest-neighbour upscaling)."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected one RGB image [3, H, W], got shape {tuple(image.shape)}")
    img = image.clamp(0, 1).repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return (img.permute(1, 2, 0) * 255).round().to(torch.uint8)


def save_png(image: torch.Tensor, path: Path, scale: int = 1) -> None:
    """Write one image as PNG atomically (no half-written file on failure)."""
    from PIL import Image

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(to_uint8(image, scale).numpy()).save(tmp, format="PNG")
    os.replace(tmp, path)
