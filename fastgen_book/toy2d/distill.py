"""Training consistency models on 2D data: distillation from a teacher (CD) and training
without one (CT), Song et al. 2023, algorithms 2 and 3."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from fastgen_book._checks import check_choice, check_range, check_steps
from fastgen_book.consistency_math import pseudo_huber
from fastgen_book.toy2d import data
from fastgen_book.toy2d.consistency import ConsistencyModel
from fastgen_book.toy2d.ema import EMA
from fastgen_book.toy2d.nets import MLP
from fastgen_book.toy2d.samplers import euler_step, heun_step
from fastgen_book.toy2d.schedules import SIGMA_MAX, SIGMA_MIN, distillation_levels
from fastgen_book.toy2d.teachers import TeacherConfig

METHODS = ("cd", "ct")
DISTANCES = ("l2", "pseudo_huber")
SOLVERS = {"euler": euler_step, "heun": heun_step}


@dataclass(frozen=True)
class ConsistencyConfig:
    """What defines a trained consistency model; its hash keys the model store.

    `n_levels` is N, the number of discretisation levels for CD; CT grows N from `ct_s0` to
    `ct_s1` over training (Song et al. 2023, appendix C). `ema` is mu for the target theta^-
    (CD) or mu_0 (CT); sampling uses a slower average with decay `sample_ema`. With
    `init_from_teacher` (CD only) the student starts as a copy of the teacher's denoiser, as
    Song et al. (2023) and latent consistency models do.

    `stop_grad` and `boundary` exist for the ablation lesson 1 shows: with `stop_grad=False` the
    target side is the live student and gradients flow through both sides; with
    `boundary=False` the student is f = F, without the c_skip/c_out parameterisation.
    """

    method: str = "cd"
    teacher: TeacherConfig | None = field(default_factory=TeacherConfig)
    dataset: str = "two_moons"
    steps: int = 6000
    batch: int = 512
    lr: float = 1e-3
    n_levels: int = 40
    solver: str = "heun"
    ema: float = 0.95
    ct_s0: int = 2
    ct_s1: int = 150
    sample_ema: float = 0.999
    init_from_teacher: bool = True
    distance: str = "l2"
    huber_c: float = 0.03
    sigma_min: float = SIGMA_MIN
    sigma_max: float = SIGMA_MAX
    sigma_data: float = 1.0
    stop_grad: bool = True
    boundary: bool = True
    hidden: int = 128
    layers: int = 3
    seed: int = 0

    def __post_init__(self):
        check_choice(self.method, METHODS, "method")
        check_choice(self.distance, DISTANCES, "distance")
        check_choice(self.solver, SOLVERS, "teacher solver")
        check_choice(self.dataset, data.DATASETS, "dataset")
        check_steps(self.steps, "steps")
        check_steps(self.n_levels - 1, "n_levels - 1")
        check_range(self.ema, 0.0, 1.0, "ema")
        if self.method == "cd" and self.boundary is False and not self.init_from_teacher:
            raise ValueError("boundary=False is defined for a student initialised from the teacher")
        if self.method == "cd" and self.teacher is None:
            raise ValueError("consistency distillation (method='cd') needs a teacher config")
        if self.method == "cd" and self.teacher.dataset != self.dataset:
            raise ValueError(
                f"teacher was trained on {self.teacher.dataset!r}, student data is "
                f"{self.dataset!r}; use the same dataset"
            )


def distance(a: torch.Tensor, b: torch.Tensor, kind: str, c: float) -> torch.Tensor:
    """Per-sample d(a, b): squared L2, or pseudo-Huber sqrt(|a-b|^2 + c^2) - c
    (Song & Dhariwal 2024, eq. 5)."""
    sq = ((a - b) ** 2).sum(dim=1)
    return sq if kind == "l2" else pseudo_huber(sq, c)


def ct_levels(k: int, total: int, s0: int, s1: int) -> int:
    """N(k), the number of levels at step k of consistency training (Song et al. 2023, app. C)."""
    return math.ceil(math.sqrt(k / total * ((s1 + 1) ** 2 - s0**2) + s0**2) - 1) + 1


def ct_ema(n_levels: int, s0: int, mu0: float) -> float:
    """mu(k) = exp(s0 log mu0 / N(k)) (Song et al. 2023, appendix C); mu0 = 0 gives 0 at every
    step (no moving average, as improved CT does)."""
    return 0.0 if mu0 == 0 else math.exp(s0 * math.log(mu0) / n_levels)


def _wraps_teacher(config: ConsistencyConfig) -> bool:
    return config.method == "cd" and config.init_from_teacher


def build_student(config: ConsistencyConfig, teacher: nn.Module | None = None) -> ConsistencyModel:
    """An untrained f_theta: a copy of `teacher` wrapped with the boundary scalings when the
    config asks for it (the teacher's architecture, its weights if given), else a fresh MLP
    initialised from the config's seed."""
    from fastgen_book.toy2d.teachers import build_teacher

    if _wraps_teacher(config):
        net = copy.deepcopy(teacher) if teacher is not None else build_teacher(config.teacher)
        net.requires_grad_(True).train()
    else:
        with torch.random.fork_rng():
            torch.manual_seed(config.seed + 1)
            net = MLP(hidden=config.hidden, layers=config.layers)
    return ConsistencyModel(
        net,
        config.sigma_data,
        config.sigma_min,
        config.sigma_max,
        wraps_denoiser=_wraps_teacher(config),
        boundary=config.boundary,
    )


def consistency_loss(student, target, teacher, x0, z, s_hi, s_lo, config) -> torch.Tensor:
    """One evaluation of the consistency loss (Song et al. 2023, algorithm 2 for CD, 3 for CT):
    put x0 at level s_hi, find the point one level lower on the same trajectory, and ask the
    student at the noisier point to agree with the target network at the other one."""
    x_hi = x0 + s_hi * z
    with torch.no_grad():
        if config.method == "cd":  # the teacher's one ODE step from s_hi down to s_lo
            x_lo = SOLVERS[config.solver](teacher, x_hi, s_hi, s_lo)
        else:  # no teacher: the same noise at the lower level (an unbiased estimate)
            x_lo = x0 + s_lo * z
    if config.stop_grad:  # theta^-: an EMA copy of the student, no gradient
        with torch.no_grad():
            y_target = target(x_lo, s_lo.squeeze(1))
    else:  # ablation: the live student on both sides, gradients through both
        y_target = student(x_lo, s_lo.squeeze(1))
    y = student(x_hi, s_hi.squeeze(1))
    return distance(y, y_target, config.distance, config.huber_c).mean()


def train_consistency(
    config: ConsistencyConfig, teacher: nn.Module | None = None, progress: bool = False
) -> tuple[ConsistencyModel, dict]:
    """Train f_theta by CD (needs `teacher`, a denoiser) or CT; returns (sampling EMA model,
    training record)."""
    from tqdm import tqdm  # text bars: tqdm.auto warns in a kernel without ipywidgets

    if config.method == "cd" and teacher is None:
        raise ValueError("consistency distillation needs the trained teacher model")
    student = build_student(config, teacher)
    target = EMA(student, config.ema)
    sampler_avg = EMA(student, config.sample_ema)
    opt = torch.optim.Adam(student.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps)
    g = torch.Generator().manual_seed(config.seed + 2)
    start = time.perf_counter()
    losses = []
    for k in tqdm(range(config.steps), disable=not progress, desc=f"consistency:{config.method}"):
        if config.method == "cd":
            n_levels, mu = config.n_levels, config.ema
        else:
            n_levels = ct_levels(k, config.steps, config.ct_s0, config.ct_s1)
            mu = ct_ema(n_levels, config.ct_s0, config.ema)
        levels = distillation_levels(n_levels, config.sigma_min, config.sigma_max)
        x0 = data.sample(config.dataset, config.batch, generator=g)
        n = torch.randint(0, n_levels - 1, (config.batch,), generator=g)
        s_hi, s_lo = levels[n + 1].unsqueeze(1), levels[n].unsqueeze(1)
        z = torch.randn(x0.shape, generator=g)
        loss = consistency_loss(student, target.model, teacher, x0, z, s_hi, s_lo, config)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        target.update(student, mu)
        sampler_avg.update(student)
        losses.append(loss.item())
    record = {
        "seconds": time.perf_counter() - start,
        "final_loss": sum(losses[-100:]) / min(100, len(losses)),
    }
    return sampler_avg.model, record
