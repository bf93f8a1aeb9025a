"""Two properties of generated images that accuracy does not see, each as a share of the same
property in real images of the same prompts (100: like the data):

- sharpness: high-frequency energy, the mean squared response of the discrete Laplacian on the
  image's luminance (the variance-of-Laplacian focus measure, Pech-Pacheco et al. 2000). A soft
  one-step image, an average of the images a prompt allows, has little of it;
- diversity: how far apart the images of one prompt are across seeds, the mean pairwise
  distance between their judge features (`fastgen_book.sd.judge.features`). A mode-seeking
  student draws the same picture from every seed.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from fastgen_book.stats import mean_difference_interval

#: ITU-R BT.601 luma weights
LUMA = (0.299, 0.587, 0.114)


def high_frequency_energy(images: torch.Tensor) -> torch.Tensor:
    """[n, 3, H, W] in [0, 1] -> [n]: the mean of (Laplacian of the luminance)^2 over interior
    pixels, the 5-point stencil 4 x - (up + down + left + right)."""
    y = torch.einsum("nchw,c->nhw", images.double(), torch.tensor(LUMA, dtype=torch.float64))
    lap = 4 * y[:, 1:-1, 1:-1] - y[:, :-2, 1:-1] - y[:, 2:, 1:-1] - y[:, 1:-1, :-2] - y[:, 1:-1, 2:]
    return (lap**2).mean((1, 2))


def sharpness(images: torch.Tensor, real: torch.Tensor) -> list[float]:
    """Each image's high-frequency energy as % of the mean over `real` (images of the same
    prompts): 100 is as sharp as the data."""
    return (100 * high_frequency_energy(images) / high_frequency_energy(real).mean()).tolist()


def seed_spread(features: torch.Tensor, prompts: list[str]) -> dict[str, float]:
    """prompt -> the mean Euclidean distance between the features [n, d] of its images (one per
    seed), over all pairs. Prompts with one image are left out."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(prompts):
        groups[p].append(i)
    out = {}
    for p, idx in groups.items():
        if len(idx) > 1:
            f = features[idx].double()
            d = torch.cdist(f, f)
            k = len(idx)
            out[p] = float(d.sum() / (k * (k - 1)))
    return out


def diversity(features: torch.Tensor, real: torch.Tensor, prompts: list[str]) -> list[float]:
    """Per prompt (in first-seen order), the spread of its images across seeds as % of the mean
    spread of real images of the same prompts (`real` [n, d] in the same order): 100 is as
    varied as the data. Empty when no prompt has two images (one seed)."""
    gen, ref = seed_spread(features, prompts), seed_spread(real, prompts)
    if not ref:
        return []
    scale = sum(ref.values()) / len(ref)
    return [100 * gen[p] / scale for p in gen]


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def difference(a: list[float], b: list[float]) -> tuple[float, float]:
    """95% interval of mean(a) - mean(b), paired (same prompts and seeds): Student's t on the
    differences (`fastgen_book.stats.mean_difference_interval`)."""
    return mean_difference_interval(a, b, paired=True)
