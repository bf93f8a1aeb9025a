"""A procedural, captioned image data set: two coloured shapes in a spatial relation.

"a red circle left of a blue square" -> a 64x64 RGB image on a graded, textured background.
Each caption has many plausible images: where the pair sits, how far apart, each object's size,
tilt, shade and border, and the background's colours, direction and texture are drawn at
random, so that a denoiser's early guesses are blurred averages and a sampler's path bends.
Everything is drawn in code from a seed, so the data set is reproducible and needs no download.
Styles: `filled` (the base model's data) and `outlined` (the style LoRA's); backgrounds:
`dark` (base) and `paper` (the fine-tuned variant).
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
#: relation -> the axis along which the first object comes before the second (0: x, 1: y down)
RELATIONS = {"left of": 0, "above": 1}
STYLES = ("filled", "outlined")
#: background -> (darkest, lightest) value of each channel its two gradient colours draw from
BACKGROUNDS = {
    "dark": ((0.02, 0.02, 0.04), (0.20, 0.18, 0.24)),
    "paper": ((0.84, 0.80, 0.68), (0.97, 0.94, 0.86)),
}
SIZE = 64
#: range of an object's radius, in image widths: an object spans 2 to 3 pixels of the 8x8
#: latent, the least a small UNet draws a recognisable shape in (at 0.11 to 0.17 with any angle
#: the 20-step teacher drew the right two shapes in half its images: NOTES.md)
RADIUS = (0.12, 0.19)
#: the largest tilt of a square or triangle, in radians (15 degrees)
TILT = math.pi / 12
GAP = 0.06  # the least space between the two objects along their relation's axis
_SUPERSAMPLE = 2


@dataclass(frozen=True)
class Item:
    """One image's attributes: the first object (colour, shape), the relation, the second."""

    colour: str
    shape: str
    relation: str
    other_colour: str
    other_shape: str

    @property
    def caption(self) -> str:
        return (
            f"a {self.colour} {self.shape} {self.relation} a {self.other_colour} {self.other_shape}"
        )


def all_items() -> list[Item]:
    """Every caption the world draws: two objects of different colours (4 x 3 ordered colour
    pairs), any two shapes (3 x 3) and one of two relations: 216 captions."""
    return [
        Item(c, s, r, c2, s2)
        for r in RELATIONS
        for c in COLOURS
        for c2 in COLOURS
        if c2 != c
        for s in SHAPES
        for s2 in SHAPES
    ]


def prompt_suite() -> list[Item]:
    """The 48 captions every measurement draws: each relation with each ordered colour pair
    twice, the nine shape pairs taken in turn (each 5 or 6 times, each shape 16 times first and
    16 times second)."""
    # the nine shape pairs ordered so that any 3 consecutive ones hold each shape once first and
    # once second: 48 = 5 x 9 + 3 captions give each shape 16 times in each place
    pairs = [(SHAPES[i], SHAPES[(i + d) % 3]) for d in range(3) for i in range(3)]
    colour_pairs = [(c, c2) for c in COLOURS for c2 in COLOURS if c2 != c]
    suite, k = [], 0
    for r in RELATIONS:
        for c, c2 in colour_pairs:
            for _ in range(2):
                s, s2 = pairs[k % len(pairs)]
                suite.append(Item(c, s, r, c2, s2))
                k += 1
    return suite


def parse_caption(caption: str) -> Item:
    """The attributes a caption asks for; ValueError for a caption outside the vocabulary."""
    wanted = " ".join(caption.strip().lower().split())
    for item in all_items():
        if item.caption == wanted:
            return item
    raise ValueError(
        f"caption {caption!r} is not one this data set can draw; use 'a <colour> <shape> "
        f"<relation> a <colour> <shape>' with two different colours from {list(COLOURS)}, "
        f"shapes from {list(SHAPES)} and a relation from {list(RELATIONS)}, "
        "e.g. 'a red circle left of a blue square'"
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


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + torch.rand(n, generator=generator) * (high - low)


def _background(n: int, kind: str, yy, xx, generator: torch.Generator) -> torch.Tensor:
    """[n, 3, s, s]: a linear gradient between two colours drawn from the look's range, at a
    random angle, with a faint random wave texture on top."""
    low, high = (torch.tensor(v) for v in BACKGROUNDS[kind])
    ends = low + torch.rand(n, 2, 3, generator=generator) * (high - low)  # [n, 2, 3]
    angle = _uniform(n, 0, 2 * math.pi, generator)[:, None, None]
    along = (torch.cos(angle) * (xx - 0.5) + torch.sin(angle) * (yy - 0.5)) / math.sqrt(2) + 0.5
    img = ends[:, 0, :, None, None] + (ends[:, 1] - ends[:, 0])[:, :, None, None] * along[:, None]
    texture = torch.zeros_like(along)
    for _ in range(2):  # two waves of 2 to 5 cycles per image in random directions
        freq = _uniform(n, 2, 5, generator)[:, None, None] * 2 * math.pi
        theta = _uniform(n, 0, math.pi, generator)[:, None, None]
        phase = _uniform(n, 0, 2 * math.pi, generator)[:, None, None]
        texture += torch.sin(freq * (torch.cos(theta) * xx + torch.sin(theta) * yy) + phase)
    amplitude = _uniform(n, 0.015, 0.04, generator)[:, None, None, None]
    return (img + amplitude * texture[:, None]).clamp(0, 1)


def _centres(items: list[Item], radius: torch.Tensor, generator: torch.Generator):
    """[n, 2, 2] object centres (x, y) in image widths: the first object before the second
    along its relation's axis with at least `GAP` between them, both inside the image, their
    offset across the axis at most a third of the offset along it."""
    n = len(items)
    r1, r2 = radius[:, 0], radius[:, 1]
    # along the axis: the first object's centre, then the second's after a gap
    lo = 0.04 + r1
    room = (0.96 - r2) - (lo + r1 + GAP + r2)  # free length left for the two positions
    u = torch.rand(n, 2, generator=generator).sort(dim=1).values * room[:, None]
    a1 = lo + u[:, 0]
    a2 = a1 + r1 + GAP + r2 + (u[:, 1] - u[:, 0])
    # across: a shared line with a small offset between the objects
    cross = _uniform(n, 0.25, 0.75, generator)
    skew = (torch.rand(n, generator=generator) - 0.5) * (a2 - a1) / 3
    b1, b2 = cross - skew / 2, cross + skew / 2
    axis = torch.tensor([RELATIONS[i.relation] for i in items])
    first = torch.where(axis[:, None] == 0, torch.stack([a1, b1], 1), torch.stack([b1, a1], 1))
    second = torch.where(axis[:, None] == 0, torch.stack([a2, b2], 1), torch.stack([b2, a2], 1))
    return torch.stack([first, second], 1).clamp(0.04, 0.96)


def render(
    items: list[Item],
    *,
    generator: torch.Generator,
    style: str = "filled",
    background: str = "dark",
) -> torch.Tensor:
    """Images [n, 3, 64, 64] in [0, 1] for `items`. Drawn at random per image: the background
    (gradient and texture), the pair's place and spacing, and per object its radius, tilt,
    shade (lightness x0.7 to x1.1, hue jitter) and, for `filled`, a border 0 to 2 px wide
    (darker than the object on paper, lighter on dark); `outlined` draws each object as a ring
    about 2 px wide."""
    check_choice(style, STYLES, "style")
    check_choice(background, BACKGROUNDS, "background")
    n = len(items)
    check_steps(n, "number of items")
    img = _background(n, background, *_grid(SIZE), generator)
    # objects: coverage of each pixel, from an inside-test on a finer grid averaged down
    yy, xx = _grid(SIZE * _SUPERSAMPLE)
    radius = RADIUS[0] + torch.rand(n, 2, generator=generator) * (RADIUS[1] - RADIUS[0])
    centres = _centres(items, radius, generator)
    for k in range(2):
        names = [(i.colour, i.shape) if k == 0 else (i.other_colour, i.other_shape) for i in items]
        colour = torch.tensor([COLOURS[c] for c, _ in names])
        shade = _uniform(n, 0.7, 1.1, generator)[:, None]
        colour = (colour * shade + (torch.rand(n, 3, generator=generator) - 0.5) * 0.12).clamp(0, 1)
        angle = _uniform(n, -TILT, TILT, generator)[:, None, None]
        ox = xx[None] - centres[:, k, 0, None, None]
        oy = yy[None] - centres[:, k, 1, None, None]
        # tilt the frame by a small random angle (a circle does not notice)
        dx = torch.cos(angle) * ox + torch.sin(angle) * oy
        dy = -torch.sin(angle) * ox + torch.cos(angle) * oy
        r = radius[:, k, None, None]
        border = _uniform(n, 0.0, 2.0 / SIZE, generator)[:, None, None]
        inside = torch.zeros(n, *xx.shape)
        core = torch.zeros(n, *xx.shape)
        for shape in SHAPES:
            sel = torch.tensor([name == shape for _, name in names])
            if not sel.any():
                continue
            # a triangle's edges sit at r/2 from its centre: a line of width w shrinks r by 2w
            scale = 2.0 if shape == "triangle" else 1.0
            width = 2.2 / SIZE if style == "outlined" else border[sel]
            inside[sel] = _masks(shape, dx[sel], dy[sel], r[sel]).float()
            core[sel] = _masks(shape, dx[sel], dy[sel], r[sel] - scale * width).float()
        inside = F.avg_pool2d(inside[:, None], _SUPERSAMPLE)
        core = F.avg_pool2d(core[:, None], _SUPERSAMPLE)
        paint = colour[:, :, None, None]
        if style == "outlined":  # a ring: the core shows the background
            img = img * (1 - inside + core) + paint * (inside - core)
        else:  # a rim around the core that stands out from the background: darker on paper,
            # lighter on dark (a dark rim on a dark background would shrink the shape)
            rim = 0.55 * paint if background == "paper" else 0.5 * (paint + 1)
            img = img * (1 - inside) + rim * (inside - core) + paint * core
    return img


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, x) pixel-centre coordinates [size, size] in image widths."""
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    return torch.meshgrid(coords, coords, indexing="ij")


def sample_items(n: int, *, generator: torch.Generator) -> list[Item]:
    """n captions drawn uniformly from every caption the world draws."""
    check_steps(n, "n")
    combos = all_items()
    idx = torch.randint(0, len(combos), (n,), generator=generator)
    return [combos[i] for i in idx.tolist()]
