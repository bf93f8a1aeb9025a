"""`python -m fastgen_book bench toy2d`: quality against network evaluations for the toy 2D
stack."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from fastgen_book import atomic
from fastgen_book.results import Study, measure
from fastgen_book.toy2d.distill import ConsistencyConfig
from fastgen_book.toy2d.evaluate import noise_floor, reference, score_student, score_teacher
from fastgen_book.toy2d.teachers import TeacherConfig
from fastgen_book.toy2d.trained import get_consistency, get_teacher

TEACHER_NFE = (1, 2, 4, 8, 16, 32, 64)
STUDENT_STEPS = (1, 2, 4, 8)
SAMPLERS = ("euler", "heun", "dpmpp_2m")
#: the samplers' names as the pages write them
SAMPLER_NAMES = {"euler": "Euler", "heun": "Heun", "dpmpp_2m": "DPM-Solver++(2M)"}


def heun_steps(budget: int) -> int:
    """Heun steps whose cost 2k - 1 fits an evaluation budget (at least one step)."""
    return max(1, (budget + 1) // 2)


def run(
    dataset: str = "two_moons", samples: int = 20000, progress: bool = True, repeats: int = 3
) -> dict:
    """Measure every row (timings: median of `repeats` runs after a warm-up); the result has the
    JSON layout of `--json`."""
    teacher_cfg = TeacherConfig(kind="flow", dataset=dataset)
    teacher, _ = get_teacher(teacher_cfg, progress)
    cd, _ = get_consistency(ConsistencyConfig("cd", teacher_cfg, dataset=dataset), progress)
    ct, _ = get_consistency(ConsistencyConfig("ct", None, dataset=dataset, ema=0.9), progress)
    ref = reference(dataset, samples)
    rows = []
    for sampler in SAMPLERS:
        seen = set()
        for budget in TEACHER_NFE:
            steps = heun_steps(budget) if sampler == "heun" else budget
            if steps in seen:
                continue
            seen.add(steps)
            rows.append(score_teacher(teacher, sampler, steps, ref, repeats=repeats))
    for name, model in (("cd", cd), ("ct", ct)):
        rows.extend(score_student(model, name, k, ref, repeats=repeats) for k in STUDENT_STEPS)
    return {
        "dataset": dataset,
        "samples": samples,
        "threads": torch.get_num_threads(),
        "noise_floor": noise_floor(dataset, samples),
        "rows": [dataclasses.asdict(r) for r in rows],
    }


def matching_teacher(result: dict, method: str = "cd", steps: int = 1) -> dict | None:
    """The cheapest teacher row (fewest NFE, any sampler) at least as close to the data as the
    student `method` with `steps` steps; None when no measured budget is."""
    student = next(r for r in result["rows"] if r["method"] == method and r["nfe"] == steps)
    good = [
        r
        for r in result["rows"]
        if r["method"] == "teacher" and r["distance"] <= student["distance"]
    ]
    return min(good, key=lambda r: (r["nfe"], r["distance"])) if good else None


#: The bench the lessons show (8,000 samples, timings the median of 3 after a warm-up):
#: measured once per build, by whichever page asks first, and loaded by the others.
PAGE_BENCH = Study(
    "toy-bench",
    run,
    {"dataset": "two_moons", "samples": 8000, "progress": False, "repeats": 3},
    what="the toy bench of lessons 1 and 3: teacher samplers and CD/CT students, 1-64 NFE",
)

#: the slow reference: as many Euler steps as DDPM's training schedule has timesteps
SLOW_STEPS = 1000


def _slow_reference(samples: int) -> dict:
    teacher = get_teacher(TeacherConfig(kind="flow"))[0]
    ref = reference("two_moons", samples)
    return {"distance": score_teacher(teacher, "euler", SLOW_STEPS, ref, repeats=1).distance}


#: the flow teacher sampled with 1000 Euler steps, lesson 3's slowest toy point
SLOW_REFERENCE = Study(
    "toy-slow-reference",
    _slow_reference,
    {"samples": 8000},
    what="the flow teacher on two moons with 1000 Euler steps, 8,000 samples",
)


def slow_reference() -> tuple[float, dict]:
    """`SLOW_REFERENCE` through the results store: (its distance to held-out data, its record)."""
    record = measure(SLOW_REFERENCE)
    return record["result"]["distance"], record


def table(result: dict) -> str:
    """The result as a fixed-width text table."""
    floor = result["noise_floor"]
    lines = [
        f"toy2d bench: {result['dataset']}, {result['samples']} samples, "
        f"{result['threads']} threads; noise floor SW2 = {floor:.4f}",
        f"{'method':<8}{'sampler':<13}{'nfe':>4}{'distance':>10}{'x floor':>9}{'ms':>9}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['method']:<8}{r['sampler']:<13}{r['nfe']:>4}{r['distance']:>10.4f}"
            f"{r['distance'] / floor:>9.2f}{r['seconds'] * 1000:>9.1f}"
        )
    return "\n".join(lines)


def main(json_path: Path | None, dataset: str, samples: int, threads: int) -> int:
    torch.set_num_threads(threads)
    result = run(dataset, samples)
    print(table(result))
    if json_path is not None:
        atomic.write_json(json_path, result)
        print(f"wrote {json_path}")
    return 0
