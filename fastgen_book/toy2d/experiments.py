"""The toy measurements the lessons show, as functions (the pages call them and plot the
results): lesson 1's consistency experiments and lesson 2's one-step students."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from fastgen_book.results import Study, measure
from fastgen_book.stats import spread
from fastgen_book.toy2d.adversarial import (
    AdversarialConfig,
    ModeReport,
    eight_gaussians_consistency,
    mode_report,
    one_step,
)
from fastgen_book.toy2d.data import sample
from fastgen_book.toy2d.evaluate import (
    noise,
    reference,
    sample_student,
    sample_teacher,
    teacher_sigmas,
)
from fastgen_book.toy2d.metrics import sliced_wasserstein
from fastgen_book.toy2d.samplers import heun_step, nfe, sample_ddim, sample_euler, sample_heun
from fastgen_book.toy2d.schedules import (
    SIGMA_MAX,
    SIGMA_MIN,
    append_zero,
    distillation_levels,
    karras_sigmas,
)
from fastgen_book.toy2d.teachers import TeacherConfig
from fastgen_book.toy2d.trained import get_adversarial, get_consistency, get_teacher

#: Steps of the reference ODE solve ("the true endpoint"): Heun, 2 * 128 - 1 evaluations.
REFERENCE_STEPS = 128


def ode_path(teacher, x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve the teacher's ODE from level `sigma` to 0 with fine Heun steps, step by step:
    (levels [k + 1], points [k + 1, n, 2])."""
    levels = append_zero(karras_sigmas(REFERENCE_STEPS, SIGMA_MIN, sigma))
    _, traj = sample_heun(teacher, x, levels, return_trajectory=True)
    return levels, torch.stack(traj)


def ode_endpoint(teacher, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Where `ode_path` ends: the ODE's endpoint from level `sigma`."""
    return ode_path(teacher, x, sigma)[1][-1]


@dataclass(frozen=True)
class SelfConsistency:
    """Trajectories of the teacher's ODE and restarts from points along them."""

    sigmas: torch.Tensor  # [steps + 1] levels of the trajectories
    paths: torch.Tensor  # [steps + 1, n, 2]
    marked_sigmas: tuple[float, ...]  # levels where points are marked on path 0
    marked_points: torch.Tensor  # [len(marked), 2]
    restarted_endpoints: torch.Tensor  # [len(marked), 2]: ODE solved again from each point
    #: each restart's (levels, points [k + 1, 2]), for drawing
    restart_paths: tuple[tuple[torch.Tensor, torch.Tensor], ...] = ()

    @property
    def max_disagreement(self) -> float:
        """Largest distance between a restarted endpoint and the trajectory's own endpoint."""
        return float((self.restarted_endpoints - self.paths[-1, 0]).norm(dim=1).max())


def self_consistency(
    teacher, n: int = 24, seed: int = 3, marks: tuple[float, ...] = (5.0, 1.0, 0.2)
) -> SelfConsistency:
    """Run n ODE trajectories; restart the ODE from points marked on the first one (the one
    that travels furthest)."""
    sigmas = append_zero(karras_sigmas(REFERENCE_STEPS, SIGMA_MIN, SIGMA_MAX))
    _, traj = sample_heun(teacher, noise(n, seed), sigmas, return_trajectory=True)
    paths = torch.stack(traj)
    # Highlight (put first) the path that travels furthest in x / (1 + sigma): easiest to see.
    travel = (paths[-1] - paths[0] / (1 + SIGMA_MAX)).norm(dim=1)
    order = torch.argsort(travel, descending=True)
    paths = paths[:, order]
    idx = [int((sigmas - m).abs().argmin()) for m in marks]
    points = paths[idx, 0]
    restarts = [ode_path(teacher, paths[i, :1], float(sigmas[i])) for i in idx]
    restarted = torch.cat([p[-1] for _, p in restarts], dim=0)
    marked = tuple(float(sigmas[i]) for i in idx)
    drawn = tuple((levels, p[:, 0]) for levels, p in restarts)
    return SelfConsistency(sigmas, paths, marked, points, restarted, drawn)


@dataclass(frozen=True)
class OneStep:
    """From the same noise: one Euler step, DDIM's x_0 guess, a consistency model, the truth."""

    x_T: torch.Tensor
    euler: torch.Tensor
    ddim: torch.Tensor
    consistency: torch.Tensor
    truth: torch.Tensor

    def error(self, name: str) -> float:
        """Mean distance from the true ODE endpoint."""
        return float((getattr(self, name) - self.truth).norm(dim=1).mean())


@torch.no_grad()
def one_step_comparison(teacher, student, n: int = 2000, seed: int = 11) -> OneStep:
    """Compare single network calls from x_T against the ODE's endpoint."""
    x_T = noise(n, seed)
    one = teacher_sigmas(1)
    return OneStep(
        x_T=x_T,
        euler=sample_euler(teacher, x_T, one),
        ddim=sample_ddim(teacher, x_T, one),
        consistency=student(x_T, torch.full((n,), SIGMA_MAX)),
        truth=ode_endpoint(teacher, x_T, SIGMA_MAX),
    )


@dataclass(frozen=True)
class DistillationPair:
    """One consistency-distillation pair: x at sigma_hi, the teacher's step to sigma_lo, and the
    student's outputs for both (which training pushes together)."""

    sigma_hi: float
    sigma_lo: float
    x_hi: torch.Tensor
    x_lo: torch.Tensor
    f_hi: torch.Tensor
    f_lo: torch.Tensor


@torch.no_grad()
def distillation_pair(teacher, student, level: int = 30, n_levels: int = 40, seed: int = 5):
    """Build one pair of adjacent levels from the CD discretisation and evaluate the student."""
    levels = distillation_levels(n_levels)
    s_hi, s_lo = float(levels[level + 1]), float(levels[level])
    g = torch.Generator().manual_seed(seed)
    x0 = sample("two_moons", 1, generator=g)
    x_hi = x0 + s_hi * torch.randn(1, 2, generator=g)
    x_lo = heun_step(teacher, x_hi, s_hi, s_lo)
    f_hi = student(x_hi, torch.tensor([s_hi]))
    f_lo = student(x_lo, torch.tensor([s_lo]))
    return DistillationPair(s_hi, s_lo, x_hi[0], x_lo[0], f_hi[0], f_lo[0])


@torch.no_grad()
def teacher_step_error(teacher, n_levels: int = 40, n: int = 4000, seed: int = 21) -> float:
    """Mean error of the single Heun step that consistency distillation asks of the teacher,
    against a 32-step solve between the same adjacent levels (Song et al. 2023, eq. 7)."""
    levels = distillation_levels(n_levels)
    g = torch.Generator().manual_seed(seed)
    x0 = sample("two_moons", n, generator=g)
    k = torch.randint(0, n_levels - 1, (n,), generator=g)
    s_hi, s_lo = levels[k + 1].unsqueeze(1), levels[k].unsqueeze(1)
    x = x0 + s_hi * torch.randn(x0.shape, generator=g)
    one = heun_step(teacher, x, s_hi, s_lo)
    fine = x
    for j in range(32):  # geometric sub-steps between the two levels, per sample
        a = s_hi * (s_lo / s_hi) ** (j / 32)
        b = s_hi * (s_lo / s_hi) ** ((j + 1) / 32)
        fine = heun_step(teacher, fine, a, b)
    return float((one - fine).norm(dim=1).mean())


@dataclass(frozen=True)
class TeacherComparison:
    """One teacher kind: its distillation-step error and its CD student's distances."""

    kind: str
    step_error: float
    cd_one_step: float
    cd_two_steps: float


def compare_teachers(kinds: tuple[str, ...] = ("flow", "vp")) -> list[TeacherComparison]:
    """The same student recipe distilled from each teacher kind (Elaborate section): each
    teacher's distillation-step error, and its CD student's distances at seed 0, read from the
    seed-spread study (`fastgen_book.toy2d.studies.SEED_SPREAD`, the same models and scoring), so
    no page retrains the students the study already measured."""
    from fastgen_book.toy2d.studies import SEED_SPREAD

    per_seed = measure(SEED_SPREAD)["result"]
    at = per_seed["seeds"].index(0)
    out = []
    for kind in kinds:
        teacher, _ = get_teacher(TeacherConfig(kind=kind))
        one, two = (per_seed[f"cd_{kind}"][k][at] for k in ("1", "2"))
        out.append(TeacherComparison(kind, teacher_step_error(teacher), one, two))
    return out


@dataclass(frozen=True)
class OneStepStudent:
    """A sampler's samples on eight Gaussians and how they score."""

    name: str
    nfe: int
    samples: torch.Tensor
    distance: float  # sliced Wasserstein-2 to held-out data
    report: ModeReport


def compare_one_step_students(n: int = 8000, seed: int = 3) -> list[OneStepStudent]:
    """The teacher (Heun, 40 levels) and three one-step students, same noise: pure consistency
    distillation, pure GAN, and the ADD hybrid."""
    base = eight_gaussians_consistency()
    ref = reference(base.dataset, n)
    z = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
    # train (or load) first: training must not run under no_grad
    teacher = get_teacher(base.teacher)[0]
    students = [("consistency distillation", get_consistency(base)[0])]
    for mode, name in (("gan", "pure GAN"), ("add", "ADD hybrid")):
        students.append((name, get_adversarial(AdversarialConfig(mode=mode, base=base))[0]))
    with torch.no_grad():
        teacher_x = sample_teacher(teacher, "heun", 40, n, seed)
        rows = [("teacher, Heun 40 levels", nfe("heun", 40), teacher_x)]
        rows += [(name, 1, one_step(model, z)) for name, model in students]
    return [
        OneStepStudent(name, k, x, sliced_wasserstein(x, ref), mode_report(x, base.dataset))
        for name, k, x in rows
    ]


def _students_study(n: int, seed: int) -> dict:
    return {"students": [asdict(s) for s in compare_one_step_students(n, seed)]}


#: `compare_one_step_students` as a stored measurement: lesson 2 shows it and lesson 3 reads
#: its sharpness; the first page that asks measures it, the other loads it
ONE_STEP_STUDENTS = Study(
    "toy-one-step-students",
    _students_study,
    {"n": 8000, "seed": 3},
    what="the toy teacher and three one-step students on eight Gaussians",
)


def stored_one_step_students() -> tuple[list[OneStepStudent], dict]:
    """`compare_one_step_students()` through the results store: (the students, their record,
    whose `fastgen_book.results.provenance` says whether this call measured them)."""
    record = measure(ONE_STEP_STUDENTS)
    students = []
    for s in record["result"]["students"]:
        report = ModeReport(**{**s["report"], "share": tuple(s["report"]["share"])})
        students.append(OneStepStudent(**{**s, "report": report}))
    return students, record


def restart_floor(seeds=range(5), n: int = 4000) -> float:
    """What independent real data scores in `restart_spread`'s comparison: the mean distance
    of fresh held-out draws of n points to the same n-point reference set."""
    ref = reference("two_moons", n)
    return sum(
        sliced_wasserstein(reference("two_moons", n, seed=300 + s), ref) for s in seeds
    ) / len(seeds)


def restart_spread(model, steps=(1, 2, 4, 8), seeds=range(5), n: int = 4000) -> dict:
    """Distance to held-out two-moons data of k-step consistency sampling (Song et al. 2023,
    algorithm 1) for each k, over sampling seeds: {k: Spread}. One fixed model; the spread is
    the sampling noise of an n-sample estimate against n held-out points."""
    ref = reference("two_moons", n)
    return {
        k: spread(sliced_wasserstein(sample_student(model, k, n, seed=100 + s), ref) for s in seeds)
        for k in steps
    }
