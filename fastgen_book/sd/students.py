"""Level 3a against level 3b on the Stable Diffusion side: LCM-LoRA (consistency distillation,
an adapter on the base model) and tiny-turbo (adversarial diffusion distillation, a full
student UNet; `fastgen_book.tinysd.add`) at the same step counts, prompts and seeds, with what
the comparison licenses a page to say about sharpness and diversity (`fastgen_book.sd.fidelity`)."""

from __future__ import annotations

from dataclasses import dataclass

from fastgen_book.claims import compare_interval
from fastgen_book.results import Study, measure
from fastgen_book.sd import fidelity
from fastgen_book.sd import pipeline as sd
from fastgen_book.sd.bench import TURBO_STEPS, lcm, turbo
from fastgen_book.sd.evaluate import Result
from fastgen_book.sd.identity import loaded_identity

#: the two students, as a page names them
NAMES = ("LCM-LoRA", "tiny-turbo")


@dataclass(frozen=True)
class Students:
    """Each student's result at each of `TURBO_STEPS`: {name: {steps: Result}}."""

    results: dict[str, dict[int, Result]]

    def at(self, name: str, steps: int) -> Result:
        return self.results[name][steps]

    def sharpness_verdict(self, steps: int = 1) -> str:
        """'sharper than', 'softer than' or 'within the noise of': tiny-turbo's images against
        LCM-LoRA's at `steps`, paired image by image (95% interval of the difference)."""
        a, b = self._pair(steps)
        low, high = fidelity.difference(a.samples("sharpness"), b.samples("sharpness"))
        return compare_interval(low, high, "sharper than", "softer than")

    def diversity_verdict(self, steps: int = 1) -> str:
        """'more varied than', 'less varied than' or 'within the noise of' across seeds,
        paired prompt by prompt."""
        a, b = self._pair(steps)
        low, high = fidelity.difference(a.per_prompt["diversity"], b.per_prompt["diversity"])
        return compare_interval(low, high, "more varied than", "less varied than")

    def accuracy_verdict(self, steps: int = 1) -> str:
        """'more often right than', 'less often right than' or 'within the noise of'."""
        a, b = self._pair(steps)
        return a.versus(b, higher="more often right than", lower="less often right than")

    def _pair(self, steps: int) -> tuple[Result, Result]:
        return self.at("tiny-turbo", steps), self.at("LCM-LoRA", steps)

    def sentence(self, sharp_at: int = 1, varied_at: int = max(TURBO_STEPS)) -> str:
        """The comparison worded from the numbers: sharpness and accuracy at `sharp_at` steps,
        variety at `varied_at`, where both students draw nearly every image right (at one step
        a soft student's spread across seeds is mostly its errors, which differ from seed to
        seed: a spread of wrong pictures is not variety)."""
        a, b = self._pair(sharp_at)
        c, d = self._pair(varied_at)
        sharp = fidelity.difference(a.samples("sharpness"), b.samples("sharpness"))
        spread = fidelity.difference(c.per_prompt["diversity"], d.per_prompt["diversity"])
        return (
            f"At {_steps(sharp_at)} tiny-turbo's images are {self.sharpness_verdict(sharp_at)} "
            f"LCM-LoRA's ({a.sharpness:.0f}% of the real images' high-frequency energy against "
            f"{b.sharpness:.0f}%; {_interval(sharp)} over {len(a.prompts)} images; at "
            f"{_steps(varied_at)} {c.sharpness:.0f}% against {d.sharpness:.0f}%) and "
            f"{self.accuracy_verdict(sharp_at)} LCM-LoRA's ({a.quality:.1f}% against "
            f"{b.quality:.1f}% fully correct). At {_steps(varied_at)}, where they score "
            f"{c.quality:.1f}% and {d.quality:.1f}%, tiny-turbo's images are "
            f"{self.diversity_verdict(varied_at)} LCM-LoRA's across seeds (a spread of "
            f"{c.diversity:.0f}% of the real images' against {d.diversity:.0f}%; "
            f"{_interval(spread)} over {len(c.per_prompt['diversity'])} prompts)."
        )

    def table(self) -> str:
        """Fixed-width rows: student, steps, UNet calls, fully correct, distance, sharpness,
        diversity."""
        lines = [
            f"{'student':<11} {'steps':>5} {'calls':>5} {'correct %':>9} {'distance':>8} "
            f"{'sharp %':>7} {'varied %':>8}"
        ]
        for name in NAMES:
            for steps, r in self.results[name].items():
                lines.append(
                    f"{name:<11} {steps:>5} {r.record['nfe_per_image']:>5} {r.quality:>9.1f} "
                    f"{r.distance:>8.1f} {r.sharpness:>7.0f} {r.diversity:>8.0f}"
                )
        return "\n".join(lines)


def one_step_students(base: sd.Loaded, student: sd.Loaded) -> Students:
    """LCM-LoRA on `base` and the turbo variant `student`, each at `TURBO_STEPS`, on the tier's
    prompts and seeds (the tiny tier: its judge scores them)."""
    from fastgen_book.sd.experiments import ensure_adapters, run

    ensure_adapters(base, "lcm")
    return Students(
        {
            "LCM-LoRA": {n: run(base, lcm(n)) for n in TURBO_STEPS},
            "tiny-turbo": {n: run(student, turbo(n)) for n in TURBO_STEPS},
        }
    )


def _study(base: sd.Loaded, student: sd.Loaded) -> dict:
    s = one_step_students(base, student)
    return {
        "results": [
            [name, steps, r.to_dict()] for name in NAMES for steps, r in s.results[name].items()
        ]
    }


STUDENTS = Study(
    "sd-students",
    _study,
    what="LCM-LoRA and tiny-turbo at 1, 2 and 4 steps",
    identity=lambda base, student: {
        "base": loaded_identity(base, ("lcm",)),
        "student": loaded_identity(student),
    },
)


def stored_students(base: sd.Loaded, student: sd.Loaded) -> tuple[Students, dict]:
    """`one_step_students` through the results store: (the comparison, its record)."""
    from fastgen_book.sd.experiments import ensure_adapters

    ensure_adapters(base, "lcm")
    record = measure(STUDENTS, base=base, student=student)
    results: dict[str, dict[int, Result]] = {name: {} for name in NAMES}
    for name, steps, r in record["result"]["results"]:
        results[name][steps] = Result.from_dict(r)
    return Students(results), record


def _interval(low_high: tuple[float, float]) -> str:
    low, high = low_high
    return f"difference 95% interval {low:+.0f} to {high:+.0f} points"


def _steps(n: int) -> str:
    return {1: "one step", 2: "two steps", 4: "four steps"}.get(n, f"{n} steps")


def expectation(students: Students) -> str:
    """Whether the paper's picture (tiny-turbo sharper than LCM-LoRA at one step, and less
    varied where both draw their images right) appeared in these numbers, in a sentence."""
    sharper = students.sharpness_verdict(1) == "sharper than"
    narrower = students.diversity_verdict(max(TURBO_STEPS)) == "less varied than"
    if sharper and narrower:
        return "Both halves of the paper's picture appear on tiny-sd."
    if sharper:
        return (
            "The sharpness appears on tiny-sd; the loss of variety does not show at this "
            "sample size."
        )
    if narrower:
        return "The loss of variety appears on tiny-sd; the gain in sharpness does not."
    return "Neither half of the paper's picture shows on tiny-sd at this sample size."


def turbo_facts(students: Students) -> dict[str, str]:
    """What lesson 2's tiny-turbo section states beside the figure: the stage's training time
    and file size (from the shipped model's record and file) and the comparison's sentences."""
    from fastgen_book.sd.tiers import read_record, tiny_model_dir

    root = tiny_model_dir()
    file = root / sd.TINY_VARIANTS["turbo"] / "diffusion_pytorch_model.safetensors"
    record = read_record(root)[sd.VARIANT_STAGES["turbo"]]
    return {
        "turbo_minutes": f"{record['seconds'] / 60:.0f}",
        "turbo_mb": f"{file.stat().st_size / 1e6:.1f}",
        "students_one": students.sentence(1),
        "students_expectation": expectation(students),
    }
