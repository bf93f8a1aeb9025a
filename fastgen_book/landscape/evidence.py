"""The measurements behind lesson 3: quality-speed points from the toy 2D stack and the tiny SD
model, and the experiments that back cells of the composability grid."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fastgen_book.claims import claim
from fastgen_book.landscape.curve import Point
from fastgen_book.results import Study, measure
from fastgen_book.sd import experiments as sdx
from fastgen_book.sd import pipeline as sd
from fastgen_book.sd.bench import TURBO_STEPS, lcm, turbo
from fastgen_book.sd.budget import budget_for
from fastgen_book.sd.evaluate import Result, Setting
from fastgen_book.sd.guidance import base_guidance
from fastgen_book.sd.identity import loaded_identity
from fastgen_book.sd.wallclock import time_settings
from fastgen_book.timing import Timing
from fastgen_book.toy2d.bench import SAMPLER_NAMES, SLOW_STEPS
from fastgen_book.toy2d.distill import ConsistencyConfig
from fastgen_book.toy2d.evaluate import reference, score_teacher, teacher_sigmas
from fastgen_book.toy2d.metrics import sliced_wasserstein
from fastgen_book.toy2d.samplers import sample_dpmpp_2m
from fastgen_book.toy2d.teachers import TeacherConfig
from fastgen_book.toy2d.trained import get_consistency, get_teacher

#: Readable names for the toy bench's samplers and students, the same as the SD curve's where
#: the two panels share a method (DPM-Solver++).
TOY_NAMES = {
    **SAMPLER_NAMES,
    "dpmpp_2m": "DPM-Solver++",
    "cd": "consistency distillation",
    "ct": "consistency training",
}


def toy_points(bench: dict, slow: float) -> list[Point]:
    """Quality-speed points from a toy bench result (`fastgen_book.toy2d.bench.run`) plus the
    1000-step Euler reference `slow` (its distance); loss = distance to held-out data."""
    points = [Point("Euler", SLOW_STEPS, slow, "Euler on the flow teacher, 1000 NFE")]
    for r in bench["rows"]:
        teacher = r["method"] == "teacher"
        method = TOY_NAMES[r["sampler"] if teacher else r["method"]]
        label = f"{method} on the flow teacher" if teacher else method
        points.append(Point(method, r["nfe"], r["distance"], f"{label}, {r['nfe']} NFE"))
    return points


def curve_settings(tier: str) -> list[tuple[str, Setting]]:
    """The SD curve's points the tier's budget allows, as (label, setting): DDPM and
    DPM-Solver++ at the tier's guidance (`fastgen_book.sd.guidance`), LCM-LoRA at 8 to 1 steps. DDPM
    tops out at 500 steps (diffusers' DDPM scheduler with steps_offset=1 indexes past its table
    at all 1000 training timesteps), and the gpu tier's budget stops at 100."""
    g = base_guidance(tier)
    points = [
        *[(f"DDPM {n}", Setting("ddpm", n, g, label=f"DDPM {n}")) for n in (500, 100, 50)],
        *[
            (f"DPM-Solver++ {n}", Setting("dpmpp_2m", n, g, label=f"DPM++ {n}"))
            for n in (50, 20, 10, 5, 3)
        ],
        *[(f"LCM-LoRA {n}", lcm(n)) for n in (8, 4, 2, 1)],
    ]
    return [(label, s) for label, s in points if s.steps <= budget_for(tier).max_steps]


def turbo_student(loaded: sd.Loaded) -> sd.Loaded | None:
    """The tier's level-3b student of the same base: tiny-turbo on the tiny tier; None on the
    gpu tier (SDXL-Turbo is another base model, so it has no place on SD v1.5's curve)."""
    return sd.load_pipeline("tiny", variant="turbo") if loaded.tier == "tiny" else None


def sd_curve(loaded: sd.Loaded, student: sd.Loaded | None = None) -> dict[str, Result]:
    """Every point of `curve_settings` measured on the loaded tier, each of the budget's curve
    prompts drawn once (48 on the tiny tier, 4 on the gpu tier); with `student`
    (`turbo_student`), tiny-turbo at each of its step counts too."""
    sdx.ensure_adapters(loaded, "lcm")
    prompts = list(budget_for(loaded.tier).curve_prompts)
    # runs of hundreds of steps need no warm-up: start-up costs vanish in them
    out = {
        label: sdx.run(loaded, s, seeds=1, prompts=prompts, warmup=s.steps < 100)
        for label, s in curve_settings(loaded.tier)
    }
    if student is not None:
        for n in TURBO_STEPS:
            out[f"tiny-turbo {n}"] = sdx.run(student, turbo(n), seeds=1, prompts=prompts)
    return out


def curve_batch(tier: str) -> int:
    """Images per timed run on the curve: a quarter of the tier's timing batch (at least one),
    because the curve's slowest point makes hundreds of UNet calls per image."""
    return max(1, budget_for(tier).timing_batch // 4)


#: curve points with more sampler steps than this are not timed: DDPM 500 alone would take
#: two thirds of the timing cell; its cost is read from its UNet calls instead
TIMED_MAX_STEPS = 100


def curve_timings(
    loaded: sd.Loaded, results: dict[str, Result], student: sd.Loaded | None = None
) -> dict[str, Timing]:
    """Wall-clock per image of the curve points of at most `TIMED_MAX_STEPS` steps,
    interleaved on one fixed batch of `curve_batch` images (`fastgen_book.sd.wallclock`), the
    tiny-turbo points on `student`: {label: Timing}, in the order of `results`."""
    timed = {k: r for k, r in results.items() if r.setting.steps <= TIMED_MAX_STEPS}
    settings = [r.setting for r in timed.values()]
    on = {r.setting.name: student for r in timed.values() if r.record["variant"] == "turbo"}
    timings = time_settings(loaded, settings, batch=curve_batch(loaded.tier), on=on)
    return dict(zip(timed, timings.values(), strict=True))


def sd_points(results: dict[str, Result]) -> list[Point]:
    """Quality-speed points: cost = UNet calls per image, loss = 100 - quality, with the 95%
    interval of the result's score (`Result.interval`: Wilson's for a share of images, the
    mean's for a CLIP score)."""
    points = []
    for label, r in results.items():
        low, high = r.interval()
        interval = (100 - high, 100 - low)
        method = label.rsplit(" ", 1)[0]
        points.append(Point(method, r.record["nfe_per_image"], 100 - r.quality, label, interval))
    return points


@dataclass(frozen=True)
class SolverOnTeachers:
    """DPM-Solver++ (2M) at a few steps on a flow-matching and a VP (DDPM-style) teacher."""

    steps: tuple[int, ...]
    flow: tuple[float, ...]
    vp: tuple[float, ...]


def solver_on_teachers(steps=(3, 5, 10), samples: int = 8000) -> SolverOnTeachers:
    """Same solver, same steps, two teachers of the same data: which ODE is easier to walk?"""
    ref = reference("two_moons", samples)
    out = {}
    for kind in ("flow", "vp"):
        teacher = get_teacher(TeacherConfig(kind=kind))[0]
        out[kind] = tuple(
            score_teacher(teacher, "dpmpp_2m", k, ref, repeats=1).distance for k in steps
        )
    return SolverOnTeachers(tuple(steps), out["flow"], out["vp"])


@dataclass(frozen=True)
class KitchenSink:
    """A consistency model sampled its own way and by DPM-Solver++ treating it as a denoiser,
    and the two correct alternatives (toy: distances; SD: results)."""

    toy_own: dict[int, float]  # consistency sampling, k steps
    toy_solver: dict[int, float]  # DPM-Solver++ 2M on the consistency model, k steps
    toy_teacher_solver: dict[int, float]  # option A: DPM-Solver++ on the flow teacher
    sd_own: Result | None  # LCM-LoRA with the LCM scheduler, 4 steps
    sd_solver: Result | None  # LCM-LoRA with DPM-Solver++, 4 steps


def kitchen_sink(loaded: sd.Loaded | None, steps=(2, 4, 8), samples: int = 8000) -> KitchenSink:
    """Stack DPM-Solver++ on a consistency model (toy and tiny SD) against each one alone."""
    from fastgen_book.toy2d.evaluate import noise, score_student

    ref = reference("two_moons", samples)
    flow = TeacherConfig(kind="flow")
    cm = get_consistency(ConsistencyConfig(method="cd", teacher=flow))[0]
    teacher = get_teacher(flow)[0]
    own = {k: score_student(cm, "cd", k, ref, repeats=1).distance for k in steps}
    with torch.no_grad():
        stacked = {
            k: sliced_wasserstein(sample_dpmpp_2m(cm, noise(samples, 1), teacher_sigmas(k)), ref)
            for k in steps
        }
    alone = {k: score_teacher(teacher, "dpmpp_2m", k, ref, repeats=1).distance for k in steps}
    sd_own = sd_solver = None
    if loaded is not None:
        sdx.ensure_adapters(loaded, "lcm")
        sd_own = sdx.run(loaded, lcm(4))
        stacked_setting = Setting(
            "dpmpp_2m", 4, 1.0, {"lcm": 1.0}, label="LCM-LoRA + DPM-Solver++, 4 steps"
        )
        sd_solver = sdx.run(loaded, stacked_setting)
    return KitchenSink(own, stacked, alone, sd_own, sd_solver)


#: the labels of `turbo_combinations`
TURBO_OWN, TURBO_SOLVER = "tiny-turbo, 4 steps", "tiny-turbo + DPM-Solver++, 4 steps"
TURBO_STYLE = "tiny-turbo + style LoRA, 1 step"
TURBO_ONE = "tiny-turbo, 1 step"


def _turbo_study(student: sd.Loaded) -> dict:
    solver = Setting("dpmpp_2m", 4, 0.0, label=TURBO_SOLVER)
    results = {
        TURBO_ONE: sdx.run(student, turbo(1)),
        TURBO_OWN: sdx.run(student, turbo(4)),
        TURBO_SOLVER: sdx.run(student, solver),
        TURBO_STYLE: sdx.run(student, turbo(1, style=1.0), style="outlined"),
    }
    return {"results": [[name, r.to_dict()] for name, r in results.items()]}


TURBO_COMBINATIONS = Study(
    "sd-turbo-combinations",
    _turbo_study,
    what="tiny-turbo alone, under DPM-Solver++ and with the style LoRA",
    identity=lambda student: loaded_identity(student, ("style",)),
)


def turbo_combinations() -> dict[str, Result]:
    """Level 3b on tiny-sd's student whatever the tier (SD v1.5 has no Turbo model of its
    own), through the results store: tiny-turbo at 1 step, at 4 steps with its own sampler and
    with DPM-Solver++ (a solver on an adversarial student), and at 1 step with the style LoRA
    trained for its base (an add-on on it)."""
    student = sdx.ensure_adapters(sd.load_pipeline("tiny", variant="turbo"), "style")
    record = measure(TURBO_COMBINATIONS, student=student)
    return {name: Result.from_dict(r) for name, r in record["result"]["results"]}


def grid_evidence(
    model: str,
    teachers: dict,
    students: dict,
    combo: dict[str, Result],
    sink: KitchenSink,
    solver: SolverOnTeachers,
    turbo_combo: dict[str, Result],
) -> dict[str, str]:
    """One line of measurement behind each measured cell of the composability grid, keyed by
    the cells' `evidence` names (`fastgen_book.landscape.composability.CELLS`). `teachers`: the toy
    teacher comparison by kind; `students`: the one-step students by name; `combo`: the SD
    composition results; `turbo_combo`: `turbo_combinations` (tiny-sd's student on every tier);
    `model`: the tier's model name for the prose."""
    add, cd8 = students["ADD hybrid"], students["consistency distillation"]
    style = combo["style LoRA, DPM-Solver++ 20"]
    both = combo["LCM-LoRA + style LoRA, 4 steps"]
    on_teachers = ", ".join(
        f"{k} steps: flow {f:.4f} vs VP {v:.4f}"
        for k, f, v in zip(solver.steps, solver.flow, solver.vp, strict=True)
    )
    out = {
        "solver_on_teachers": f"DPM-Solver++ at {on_teachers}",
        "teacher_for_distillation": f"1-step CD from a flow teacher "
        f"{teachers['flow'].cd_one_step:.4f}, from a VP teacher {teachers['vp'].cd_one_step:.4f}",
        "solver_on_consistency": f"toy CM, 4 evaluations: own sampling {sink.toy_own[4]:.4f}, "
        f"DPM-Solver++ {sink.toy_solver[4]:.4f}; {model} LCM-LoRA 4 steps: LCM scheduler: "
        f"{sink.sd_own.score_text()}, DPM-Solver++: {sink.sd_solver.score_text()}",
        "style_with_solver": f"style LoRA + DPM-Solver++ 20: {style.summary('style')}",
        "lcm_with_style": f"LCM-LoRA + style LoRA, 4 steps: {both.summary('style')}, "
        f"{both.record['nfe_per_image']} UNet calls per image (style alone at 20 steps: "
        f"{style.record['nfe_per_image']})",
        "consistency_then_adversarial": f"eight Gaussians, 1 step: sharp "
        f"{100 * cd8.report.sharp:.1f}% (CD) -> {100 * add.report.sharp:.1f}% "
        f"(CD + adversarial), distance {cd8.distance:.4f} -> {add.distance:.4f}",
    }
    own, on_solver = turbo_combo[TURBO_OWN], turbo_combo[TURBO_SOLVER]
    styled, alone = turbo_combo[TURBO_STYLE], turbo_combo[TURBO_ONE]
    claim(
        "the grid: a solver on a Turbo model conflicts",
        on_solver.versus(own) == "lower than",
        f"DPM-Solver++ on tiny-turbo {on_solver.score_text()}, its own sampler {own.score_text()}",
    )
    claim(
        "the grid: a style LoRA on a Turbo model composes in part",
        styled.versus(alone) == "lower than" and styled.accuracy["style"] > 0.5,
        f"tiny-turbo with the style LoRA {styled.summary('style')}, alone {alone.score_text()}",
    )
    out["solver_on_turbo"] = (
        f"tiny-turbo, 4 steps: its own sampler {own.score_text()}, DPM-Solver++ "
        f"{on_solver.score_text()} ({on_solver.versus(own)} its own)"
    )
    out["turbo_with_style"] = (
        f"tiny-turbo + style LoRA (trained for tiny-sd), 1 step: {styled.summary('style')}"
    )
    return out
