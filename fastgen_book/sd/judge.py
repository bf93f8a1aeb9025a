"""A CPU quality measure for the tiny model: a small classifier trained on the procedural data
scores generated images for colour, shape, position, style and background against the prompt
and the look asked for, and a
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

HEADS = {
    "colour": list(shapes.COLOURS),
    "shape": list(shapes.SHAPES),
    "position": list(shapes.POSITIONS),
    "style": list(shapes.STYLES),
    "background": list(shapes.BACKGROUNDS),
}


class Judge(nn.Module):
    """Conv net: 32x32 RGB -> 64 features -> one linear head per attribute."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.SiLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.SiLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.SiLU(),
            nn.Flatten(),
            nn.Linear(2 * width * 8 * 8, 64),
            nn.SiLU(),
        )
        self.heads = nn.ModuleDict({k: nn.Linear(64, len(v)) for k, v in HEADS.items()})

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.features(images)
        return {k: head(h) for k, head in self.heads.items()}


def _labelled_batch(n: int, generator: torch.Generator):
    items = shapes.sample_items(n, generator=generator)
    style = "outlined" if torch.rand(1, generator=generator) < 0.5 else "filled"
    bg = "paper" if torch.rand(1, generator=generator) < 0.5 else "black"
    images = shapes.render(items, generator=generator, style=style, background=bg)
    labels = {
        "colour": torch.tensor([HEADS["colour"].index(i.colour) for i in items]),
        "shape": torch.tensor([HEADS["shape"].index(i.shape) for i in items]),
        "position": torch.tensor([HEADS["position"].index(i.position) for i in items]),
        "style": torch.full((n,), HEADS["style"].index(style)),
        "background": torch.full((n,), HEADS["background"].index(bg)),
    }
    return images, labels


def train_judge(steps: int = 4000, batch: int = 64, seed: int = 0) -> tuple[Judge, dict]:
    """Train the judge on fresh procedural batches (all styles and backgrounds)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        judge = Judge()
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(judge.parameters(), lr=2e-3)
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
    """Accuracy per attribute on real procedural images the judge never saw."""
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
    background: str = "black",
) -> Scores:
    """Fraction of images whose predicted colour, shape, position, style and background match;
    `all_correct` needs all five."""
    items = [shapes.parse_caption(p) for p in prompts]
    logits = judge(images)
    want = {
        "colour": torch.tensor([HEADS["colour"].index(i.colour) for i in items]),
        "shape": torch.tensor([HEADS["shape"].index(i.shape) for i in items]),
        "position": torch.tensor([HEADS["position"].index(i.position) for i in items]),
        "style": torch.full((len(items),), HEADS["style"].index(style)),
        "background": torch.full((len(items),), HEADS["background"].index(background)),
    }
    hits = {k: logits[k].argmax(1) == want[k] for k in HEADS}
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
