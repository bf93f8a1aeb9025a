"""Adversarial diffusion distillation in miniature: one-step students on 2D data trained with a
distillation loss, an adversarial loss, or both (Sauer et al. 2023, eq. 5:
L = L_adv + lambda * L_distill), scored for distance to the data, sharpness and mode coverage.

The toy keeps ADD's structure and simplifies its parts: the student starts from the one-step
consistency model (ADD starts from the pretrained diffusion weights); its distillation term
regresses the student's sample onto the teacher's ODE endpoint from the same noise (ADD re-noises
the student's sample and regresses onto the teacher's denoised estimate, eq. 4); the
discriminator is an MLP on 2D points with the hinge loss (ADD: a frozen DINOv2 feature network
with trainable heads, same loss).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from fastgen_book._checks import check_choice, check_steps
from fastgen_book.toy2d import data
from fastgen_book.toy2d.consistency import ConsistencyModel
from fastgen_book.toy2d.distill import ConsistencyConfig, build_student
from fastgen_book.toy2d.samplers import sample_heun
from fastgen_book.toy2d.schedules import SIGMA_MAX
from fastgen_book.toy2d.teachers import TeacherConfig

MODES = ("gan", "add")


def eight_gaussians_consistency() -> ConsistencyConfig:
    """The one-step consistency model on eight Gaussians: lesson 1's CD recipe, other data."""
    return ConsistencyConfig(
        dataset="eight_gaussians", teacher=TeacherConfig(dataset="eight_gaussians")
    )


@dataclass(frozen=True)
class AdversarialConfig:
    """One adversarial run: `gan` (adversarial loss only, fresh weights) or `add` (starts from
    the consistency model, adversarial + lambda * distillation)."""

    mode: str = "add"
    base: ConsistencyConfig = field(default_factory=eight_gaussians_consistency)
    steps: int = 3000
    batch: int = 256
    lr_g: float = 1e-4
    lr_d: float = 2e-4
    distill_weight: float = 2.5  # lambda (Sauer et al. 2023 use 2.5)
    teacher_steps: int = 40
    bank: int = 20000
    hidden: int = 128
    seed: int = 0

    def __post_init__(self):
        check_choice(self.mode, MODES, "mode")
        check_steps(self.steps, "steps")
        check_steps(self.batch, "batch")
        if self.distill_weight < 0:
            raise ValueError(f"distill_weight must be >= 0, got {self.distill_weight!r}")


def build_adversarial_student(config: AdversarialConfig) -> ConsistencyModel:
    """An untrained student of the right shape: the consistency model's architecture for `add`
    (it starts from its weights), a freshly initialised MLP for `gan`."""
    if config.mode == "add":
        return build_student(config.base)
    fresh = ConsistencyConfig(method="ct", teacher=None, dataset=config.base.dataset)
    return build_student(fresh)


def discriminator(hidden: int = 128) -> nn.Module:
    """An MLP critic on 2D points: real or generated?"""
    return nn.Sequential(
        nn.Linear(2, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, 1),
    )


def hinge_losses(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(critic loss, generator loss) of the hinge GAN (Lim & Ye 2017; Sauer et al. 2023, eq. 3):
    E[max(0, 1 - D(x))] + E[max(0, 1 + D(G))] and -E[D(G)]."""
    d_loss = torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()
    return d_loss, -fake.mean()


def one_step(model: ConsistencyModel, z: torch.Tensor) -> torch.Tensor:
    """The student's sample from noise z ~ N(0, I): f(sigma_max z, sigma_max)."""
    sigma = torch.full((z.shape[0],), model.sigma_max)
    return model(model.sigma_max * z, sigma)


@torch.no_grad()
def teacher_pairs(teacher, n: int, steps: int, generator: torch.Generator):
    """(z, x0): noise and the teacher's ODE endpoint from it (Heun, `steps` Karras levels)."""
    from fastgen_book.toy2d.evaluate import teacher_sigmas

    z = torch.randn(n, 2, generator=generator)
    return z, sample_heun(teacher, SIGMA_MAX * z, teacher_sigmas(steps))


def train_adversarial(
    config: AdversarialConfig, base: ConsistencyModel, teacher, progress: bool = False
) -> tuple[ConsistencyModel, dict]:
    """Train a one-step student; `base` (the trained consistency model) is the starting point
    for `add`, `teacher` supplies its distillation targets."""
    import copy

    from tqdm import tqdm  # text bars: tqdm.auto warns in a kernel without ipywidgets

    g = torch.Generator().manual_seed(config.seed)
    if config.mode == "add":
        student = copy.deepcopy(base).requires_grad_(True).train()
    else:
        student = build_adversarial_student(config)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed + 1)
        critic = discriminator(config.hidden)
    opt_g = torch.optim.Adam(student.parameters(), lr=config.lr_g, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr_d, betas=(0.5, 0.9))
    if config.mode == "add":
        bank_z, bank_x = teacher_pairs(teacher, config.bank, config.teacher_steps, g)
    start = time.perf_counter()
    for _ in tqdm(range(config.steps), disable=not progress, desc=f"adversarial:{config.mode}"):
        real = data.sample(config.base.dataset, config.batch, generator=g)
        if config.mode == "add":
            idx = torch.randint(0, config.bank, (config.batch,), generator=g)
            z, target = bank_z[idx], bank_x[idx]
        else:
            z = torch.randn(config.batch, 2, generator=g)
        fake = one_step(student, z)
        d_loss, _ = hinge_losses(critic(real), critic(fake.detach()))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        _, g_loss = hinge_losses(critic(real), critic(fake))
        if config.mode == "add":
            g_loss = g_loss + config.distill_weight * ((fake - target) ** 2).sum(1).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    student.eval().requires_grad_(False)
    return student, {"seconds": time.perf_counter() - start, "final_loss": g_loss.item()}


def mode_centres(dataset: str = "eight_gaussians") -> torch.Tensor:
    """The eight centres (radius 2) in the data set's normalised coordinates."""
    norm = data.normalisation(dataset)
    angle = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    raw = 2.0 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return ((raw - torch.tensor(norm.mean)) / torch.tensor(norm.std)).float()


@dataclass(frozen=True)
class ModeReport:
    """Sharpness and coverage of samples from a mixture of eight Gaussians."""

    sharp: float  # fraction of samples within 3 standard deviations of a centre
    modes_covered: int  # centres holding at least a quarter of their fair share of sharp samples
    share: tuple[float, ...]  # fraction of all samples that are sharp at each centre


def mode_report(samples: torch.Tensor, dataset: str = "eight_gaussians") -> ModeReport:
    """Assign each sample to its nearest centre; a sample is sharp when it lies within 3 std
    (per axis, 0.1 before normalisation) of it."""
    centres = mode_centres(dataset)
    std = torch.tensor(data.normalisation(dataset).std).float()
    d = ((samples[:, None, :] - centres[None]) * std).norm(dim=-1)  # in raw units
    nearest = d.argmin(1)
    sharp = d.gather(1, nearest[:, None]).squeeze(1) < 0.3
    share = torch.stack([(sharp & (nearest == k)).float().mean() for k in range(8)])
    return ModeReport(
        float(sharp.float().mean()),
        int((share >= 0.25 / 8).sum()),
        tuple(round(float(s), 4) for s in share),
    )
