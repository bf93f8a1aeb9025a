"""A procedural, captioned image data set: coloured shapes with position words.

"a red triangle on the left" -> a 32x32 RGB image. Everything is drawn in code from a seed, so the
data set is reproducible and needs no download. Styles: `filled` (the base model's data) and
`outlined` (the style LoRA's); backgrounds: `black` (base) and `paper` (the fine-tuned variant).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from fastgen_book._checks import check_choice, check_steps

COLOURS = {
    "red": (0.86, 0.16, 0.16),
    "green": (0.16, 0.70, 0.24),
    "blue": (0.20, 0.35, 0.90),
    "yellow": (0.92, 0.78, 0.16),
}
SHAPES = ("circle", "square", "triangle")
POSITIONS = {  # phrase, centre (x, y) in [0, 1] image coordinates (y down)
    "left": ("on the left", (0.27, 0.5)),
    "right": ("on the right", (0.73, 0.5)),
    "top": ("at the top", (0.5, 0.27)),
    "bottom": ("at the bottom", (0.5, 0.73)),
}
STYLES = ("filled", "outlined")
BACKGROUNDS = {"black": (0.0, 0.0, 0.0), "paper": (0.93, 0.90, 0.82)}
SIZE = 32
POSITION_JITTER = 0.10  # the centre moves up to +-0.05 of the image width
RADIUS = (0.15, 0.21)  # range of a shape's radius, in image widths
_SUPERSAMPLE = 4


@dataclass(frozen=True)
class Item:
    """One image's attributes; its caption names colour, shape and position."""

    colour: str
    shape: str
    position: str

    @property
    def caption(self) -> str:
        return f"a {self.colour} {self.shape} {POSITIONS[self.position][0]}"


def all_items() -> list[Item]:
    """Every attribute combination (4 colours x 3 shapes x 4 positions = 48 prompts)."""
    return [Item(c, s, p) for c in COLOURS for s in SHAPES for p in POSITIONS]


def parse_caption(caption: str) -> Item:
    """The attributes a caption asks for; ValueError for a caption outside the vocabulary."""
    for item in all_items():
        if item.caption == caption.strip().lower():
            return item
    raise ValueError(
        f"caption {caption!r} is not one this data set can draw; use 'a <colour> <shape> "
        f"<position>' with colours {list(COLOURS)}, shapes {list(SHAPES)} and positions "
        f"{[v[0] for v in POSITIONS.values()]}, e.g. 'a red triangle on the left'"
    )


def _masks(shape: str, dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Inside-test of a shape of radius r centred at the origin of (dx, dy)."""
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        return torch.maximum(dx.abs(), dy.abs()) <= 0.82 * r
    # upward triangle (y points down), 25% larger to match the others in area
    r = 1.25 * r
    return (dy <= 0.5 * r) & (1.732 * dx.abs() - dy <= r)  # sqrt(3) |dx| - dy <= r


def render(
    items: list[Item],
    *,
    generator: torch.Generator,
    style: str = "filled",
    background: str = "black",
) -> torch.Tensor:
    """Images [n, 3, 32, 32] in [0, 1] for `items`, with seeded jitter in place, size, angle and
    hue: enough variation that a blurred average of a prompt's images no longer shows its shape."""
    check_choice(style, STYLES, "style")
    check_choice(background, BACKGROUNDS, "background")
    n = len(items)
    check_steps(n, "number of items")
    s = SIZE * _SUPERSAMPLE
    coords = (torch.arange(s, dtype=torch.float32) + 0.5) / s
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    centre = torch.tensor([POSITIONS[i.position][1] for i in items])
    centre = centre + (torch.rand(n, 2, generator=generator) - 0.5) * POSITION_JITTER
    radius = RADIUS[0] + torch.rand(n, generator=generator) * (RADIUS[1] - RADIUS[0])
    angle = (torch.rand(n, generator=generator) * 2 * math.pi)[:, None, None]
    colour = torch.tensor([COLOURS[i.colour] for i in items])
    colour = (colour + (torch.rand(n, 3, generator=generator) - 0.5) * 0.12).clamp(0, 1)
    ox = xx[None] - centre[:, 0, None, None]
    oy = yy[None] - centre[:, 1, None, None]
    # rotate the frame by a random angle (a circle does not notice)
    dx = torch.cos(angle) * ox + torch.sin(angle) * oy
    dy = -torch.sin(angle) * ox + torch.cos(angle) * oy
    r = radius[:, None, None]
    inside = torch.zeros(n, s, s, dtype=torch.bool)
    for shape in SHAPES:
        sel = torch.tensor([i.shape == shape for i in items])
        if sel.any():
            mask = _masks(shape, dx[sel], dy[sel], r[sel])
            if style == "outlined":
                # a line ~1.8 px wide: a triangle's edges sit at r/2, so shrink it twice as much
                width = 0.11 if shape == "triangle" else 0.055
                mask = mask & ~_masks(shape, dx[sel], dy[sel], r[sel] - width)
            inside[sel] = mask
    bg = torch.tensor(BACKGROUNDS[background]).view(1, 3, 1, 1)
    img = torch.where(inside[:, None], colour[:, :, None, None], bg)
    return F.avg_pool2d(img, _SUPERSAMPLE)


def sample_items(n: int, *, generator: torch.Generator) -> list[Item]:
    """n attribute combinations drawn uniformly."""
    check_steps(n, "n")
    combos = all_items()
    idx = torch.randint(0, len(combos), (n,), generator=generator)
    return [combos[i] for i in idx.tolist()]
