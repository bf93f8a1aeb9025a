"""Two diffusion teachers for 2D data that expose the same probability-flow ODE.

* `FlowTeacher`: flow matching / rectified flow, x_t = (1 - t) x_0 + t eps, the network predicts
  the velocity v = eps - x_0 (Lipman et al. 2023; Liu et al. 2023).
* `VPTeacher`: DDPM-style variance preserving, x_t = cos(pi t/2) x_0 + sin(pi t/2) eps, the network
  predicts eps (Ho et al. 2020; cosine schedule of Nichol & Dhariwal 2021).

Both are called as denoisers D(x, sigma) on the VE scale (Karras et al. 2022, eq. 4), so every
sampler in `fastgen_book.toy2d.samplers` runs on either.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from fastgen_book._checks import check_choice, check_steps
from fastgen_book.toy2d import data
from fastgen_book.toy2d.nets import MLP
from fastgen_book.toy2d.schedules import flow_t_from_sigma, vp_alpha, vp_t_from_sigma

KINDS = ("flow", "vp")


@dataclass(frozen=True)
class TeacherConfig:
    """What defines a trained teacher; its hash keys the model store."""

    kind: str = "flow"
    dataset: str = "two_moons"
    steps: int = 3000
    batch: int = 512
    lr: float = 2e-3
    hidden: int = 128
    layers: int = 3
    seed: int = 0

    def __post_init__(self):
        check_choice(self.kind, KINDS, "teacher kind")
        check_choice(self.dataset, data.DATASETS, "dataset")
        check_steps(self.steps, "steps")


class FlowTeacher(nn.Module):
    """D(x, sigma) from a velocity network: t = sigma / (1 + sigma), x_0 = x_t - t v(x_t, t)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1)
        t = flow_t_from_sigma(sigma)
        x_t = x / (1 + sigma)
        return x_t - t * self.net(x_t, t)

    @staticmethod
    def loss(net: nn.Module, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Conditional flow-matching loss (Lipman et al. 2023, eq. 23 with sigma_min = 0)."""
        t = torch.rand(x0.shape[0], 1, generator=generator)
        eps = torch.randn(x0.shape, generator=generator)
        x_t = (1 - t) * x0 + t * eps
        return ((net(x_t, t) - (eps - x0)) ** 2).mean()


class VPTeacher(nn.Module):
    """D(x, sigma) from an eps network: x_t = alpha x, x_0 = x - sigma eps_hat(x_t, t)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1)
        t = vp_t_from_sigma(sigma)
        return x - sigma * self.net(vp_alpha(sigma) * x, t)

    @staticmethod
    def loss(net: nn.Module, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The simple eps-prediction loss (Ho et al. 2020, eq. 14) in continuous time."""
        t = torch.rand(x0.shape[0], 1, generator=generator) * 0.999
        eps = torch.randn(x0.shape, generator=generator)
        x_t = torch.cos(math.pi * t / 2) * x0 + torch.sin(math.pi * t / 2) * eps
        return ((net(x_t, t) - eps) ** 2).mean()


TEACHERS = {"flow": FlowTeacher, "vp": VPTeacher}


def build_teacher(config: TeacherConfig) -> nn.Module:
    """An untrained teacher with the config's architecture, initialised from its seed."""
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        net = MLP(hidden=config.hidden, layers=config.layers)
    return TEACHERS[config.kind](net)


def train_teacher(config: TeacherConfig, progress: bool = False) -> tuple[nn.Module, dict]:
    """Train a teacher from scratch; returns (model in eval mode, training record)."""
    from tqdm import tqdm  # text bars: tqdm.auto warns in a kernel without ipywidgets

    teacher = build_teacher(config)
    loss_fn = TEACHERS[config.kind].loss
    g = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.Adam(teacher.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps)
    start = time.perf_counter()
    losses = []
    for _ in tqdm(range(config.steps), disable=not progress, desc=f"teacher:{config.kind}"):
        x0 = data.sample(config.dataset, config.batch, generator=g)
        loss = loss_fn(teacher.net, x0, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    record = {
        "seconds": time.perf_counter() - start,
        "final_loss": sum(losses[-100:]) / min(100, len(losses)),
    }
    return teacher.eval().requires_grad_(False), record
