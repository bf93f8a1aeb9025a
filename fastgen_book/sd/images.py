"""Turning image tensors into PNG files and labelled grids."""

from __future__ import annotations

import os
from pathlib import Path

import torch

#: the longest side of an image a page or a PNG shows (a 512 px image is shrunk to it)
MAX_DISPLAY_PX = 256


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] -> uint8 (0-255), same shape: how results keep their images."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def fit(image: torch.Tensor, pixels: int = 128) -> torch.Tensor:
    """One [3, H, W] image (float in [0, 1] or uint8) as [h, w, 3] uint8 whose longest side is
    about `pixels`: small images grow by a whole factor with nearest-neighbour, so their pixels
    stay crisp; large ones shrink with antialiasing."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected one RGB image [3, H, W], got shape {tuple(image.shape)}")
    img = quantize(image) if image.dtype != torch.uint8 else image
    longest = max(img.shape[1:])
    if longest <= pixels:
        k = max(1, pixels // longest)
        img = img.repeat_interleave(k, 1).repeat_interleave(k, 2)
    else:
        scale = pixels / longest
        size = [max(1, round(d * scale)) for d in img.shape[1:]]
        small = torch.nn.functional.interpolate(
            img[None].float(), size=size, mode="bilinear", antialias=True, align_corners=False
        )[0]
        img = small.round().clamp(0, 255).to(torch.uint8)
    return img.permute(1, 2, 0).contiguous()


def save_png(image: torch.Tensor, path: Path, pixels: int | None = None) -> None:
    """Write one image as PNG atomically (no half-written file on failure), its longest side
    `pixels` (`fit`); by default its own size, a tiny model's 32 px grown to MAX_DISPLAY_PX."""
    pixels = pixels or max(MAX_DISPLAY_PX, *image.shape[1:])
    from PIL import Image

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(fit(image, pixels).numpy()).save(tmp, format="PNG")
    os.replace(tmp, path)
