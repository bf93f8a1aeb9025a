"""A CPU quality measure for the tiny model: a small classifier trained on the procedural data
scores generated images for both objects' colours and shapes, their relation, the style and the
background against the prompt and the look asked for, and a
Fréchet distance on its features (Heusel et al. 2017's FID recipe, with this network in place of
Inception) compares image sets, with the distance between two real sets as its noise floor."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from fastgen_book.sd import shapes

#: the network's heads: each object's colour and shape (the first object is the one the caption
#: names first: the left one for "left of", the upper one for "above"), the relation, the look
HEADS = {
    "colour": list(shapes.COLOURS),
    "shape": list(shapes.SHAPES),
    "other_colour": list(shapes.COLOURS),
    "other_shape": list(shapes.SHAPES),
    "relation": list(shapes.RELATIONS),
    "style": list(shapes.STYLES),
    "background": list(shapes.BACKGROUNDS),
}
#: what a score reports: an attribute is right when every head it names is
ATTRIBUTES = {
    "colour": ("colour", "other_colour"),
    "shape": ("shape", "other_shape"),
    "relation": ("relation",),
    "style": ("style",),
    "background": ("background",),
}


class Judge(nn.Module):
    """64x64 RGB -> 64 features -> one linear head per attribute.

    Convolutions (with the pixel coordinates as two more input channels, CoordConv: Liu et al.
    2018) give features on a 16x16 grid; a learned objectness score, tilted towards one side of
    the image, weights the grid into one vector per side (left, right, top, bottom), beside the
    plain mean. The leftmost object's features thus reach the heads through the "left" vector
    wherever the pair sits: a plain flatten had to learn every shape at every place, and after
    4000 steps read the shapes right half the time."""

    def __init__(self, width: int = 16):
        super().__init__()
        w = width

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.SiLU()]

        self.grid = nn.Sequential(
            *conv(5, w),
            *conv(w, w),
            nn.MaxPool2d(2),
            *conv(w, 2 * w),
            nn.MaxPool2d(2),
            *conv(2 * w, 2 * w),
            *conv(2 * w, 2 * w),
        )
        self.objectness = nn.Conv2d(2 * w, 1, 1)
        self.tilt = nn.Parameter(torch.tensor(4.0))
        self.project = nn.Sequential(nn.Linear(5 * 2 * w, 64), nn.SiLU())
        self.heads = nn.ModuleDict({k: nn.Linear(64, len(v)) for k, v in HEADS.items()})

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """[n, 3, 64, 64] in [0, 1] -> [n, 64]."""
        n, _, size, _ = images.shape
        yy, xx = _coordinates(size, images)
        h = self.grid(torch.cat([images, xx.expand(n, 1, -1, -1), yy.expand(n, 1, -1, -1)], 1))
        yy, xx = _coordinates(h.shape[-1], h)
        score = self.objectness(h).flatten(1)
        flat = h.flatten(2)
        pooled = [flat.mean(2)]
        for side in (-xx, xx, -yy, yy):  # left, right, top, bottom
            weight = torch.softmax(score + self.tilt * side.flatten()[None], dim=1)
            pooled.append((flat * weight[:, None]).sum(2))
        return self.project(torch.cat(pooled, 1))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.features(images)
        return {k: head(h) for k, head in self.heads.items()}


def _coordinates(size: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, x) pixel-centre coordinates [size, size] in [0, 1], on `like`'s device and dtype."""
    c = (torch.arange(size, device=like.device, dtype=like.dtype) + 0.5) / size
    return torch.meshgrid(c, c, indexing="ij")


def _labels(items: list[shapes.Item], style: str, background: str) -> dict[str, torch.Tensor]:
    """The index each head should answer for `items` drawn in `style` on `background`."""
    n = len(items)
    return {
        **{
            k: torch.tensor([HEADS[k].index(getattr(i, k)) for i in items])
            for k in ("colour", "shape", "other_colour", "other_shape", "relation")
        },
        "style": torch.full((n,), HEADS["style"].index(style)),
        "background": torch.full((n,), HEADS["background"].index(background)),
    }


def _labelled_batch(n: int, generator: torch.Generator):
    """n procedural images and their labels, an equal share in each style and background (a
    batch of one look made the style head's answer swing from batch to batch)."""
    items = shapes.sample_items(n, generator=generator)
    looks = [(s, b) for s in shapes.STYLES for b in shapes.BACKGROUNDS]
    shares = torch.tensor_split(torch.arange(n), len(looks))
    images, labels = [], []
    for (style, bg), idx in zip(looks, shares, strict=True):
        if len(idx):
            part = [items[i] for i in idx.tolist()]
            images.append(shapes.render(part, generator=generator, style=style, background=bg))
            labels.append(_labels(part, style, bg))
    return torch.cat(images), {k: torch.cat([lab[k] for lab in labels]) for k in HEADS}


def train_judge(steps: int = 2000, batch: int = 64, seed: int = 0) -> tuple[Judge, dict]:
    """Train the judge on fresh procedural batches (all styles and backgrounds)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        judge = Judge()
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(judge.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(steps):
        images, labels = _labelled_batch(batch, g)
        logits = judge(images)
        loss = sum(F.cross_entropy(logits[k], labels[k]) for k in HEADS)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    judge.eval()
    acc = held_out_accuracy(judge)
    record = {"seconds": time.perf_counter() - start, "steps": steps, "batch": batch, "seed": seed}
    return judge, {**record, "held_out_accuracy": acc}


@torch.no_grad()
def held_out_accuracy(judge: Judge, n: int = 1024, seed: int = 99) -> dict[str, float]:
    """Accuracy per head on real procedural images the judge never saw."""
    images, labels = _labelled_batch(n, torch.Generator().manual_seed(seed))
    logits = judge(images)
    return {k: float((logits[k].argmax(1) == labels[k]).float().mean()) for k in HEADS}


@dataclass(frozen=True)
class Scores:
    """How well images match their prompts (and an expected style)."""

    accuracy: dict[str, float]
    all_correct: float
    #: attribute (and "all") -> 1 or 0 per image: what a difference's interval is computed from
    per_image: dict[str, list[int]]


def save_judge(judge: Judge, path: Path) -> None:
    """Safetensors, written atomically."""
    from safetensors.torch import save_file

    tmp = path.with_suffix(".tmp")
    save_file(judge.state_dict(), str(tmp))
    os.replace(tmp, path)


def load_judge(path: Path) -> Judge:
    """The judge saved by `save_judge` (safetensors only), in eval mode."""
    from safetensors.torch import load_file

    if not Path(path).exists():
        raise FileNotFoundError(
            f"no judge at {path}; train it with `python -m fastgen_book train judge`"
        )
    judge = Judge()
    judge.load_state_dict(load_file(str(path)))
    return judge.eval()


@torch.no_grad()
def score(
    judge: Judge,
    images: torch.Tensor,
    prompts: list[str],
    style: str = "filled",
    background: str = "dark",
) -> Scores:
    """Fraction of images whose predicted colours, shapes, relation, style and background match
    (`ATTRIBUTES`); `all_correct` needs all five."""
    items = [shapes.parse_caption(p) for p in prompts]
    logits = judge(images)
    want = _labels(items, style, background)
    heads = {k: logits[k].argmax(1) == want[k] for k in HEADS}
    hits = {a: torch.stack([heads[k] for k in ks]).all(0) for a, ks in ATTRIBUTES.items()}
    ok = torch.stack(list(hits.values())).all(0)
    per_image = {k: v.int().tolist() for k, v in {**hits, "all": ok}.items()}
    return Scores(
        {k: float(v.float().mean()) for k, v in hits.items()}, float(ok.float().mean()), per_image
    )


@torch.no_grad()
def features(judge: Judge, images: torch.Tensor) -> torch.Tensor:
    """The judge's 64-d penultimate features."""
    return judge.features(images).double()


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between feature sets (Heusel et
    al. 2017, eq. 6), with the matrix square root from an eigendecomposition."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = torch.cov(a.T), torch.cov(b.T)
    vals, vecs = torch.linalg.eigh(s_a)
    root_a = vecs @ torch.diag(vals.clamp(min=0).sqrt()) @ vecs.T
    inner = torch.linalg.eigvalsh(root_a @ s_b @ root_a).clamp(min=0).sqrt().sum()
    return float(((mu_a - mu_b) ** 2).sum() + torch.trace(s_a) + torch.trace(s_b) - 2 * inner)
