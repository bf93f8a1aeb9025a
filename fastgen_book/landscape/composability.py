"""The cross-level composability grid: five families of speed-ups, every pair's verdict and
reason, and for the pairs the toy and the tiny model can test, the measurement behind it."""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES = (
    "DPM-Solver++ (level 1)",
    "flow matching (level 2)",
    "consistency / LCM-LoRA (level 3a)",
    "ADD / Turbo (level 3b)",
    "add-ons (style LoRA, ControlNet)",
)
SHORT = ("solver", "flow", "consistency", "adversarial", "add-on")
VERDICTS = ("compose", "partial", "conflict", "same level")


@dataclass(frozen=True)
class Cell:
    """One pair: verdict, why, and the key of the measurement that tests it (if any)."""

    verdict: str
    reason: str
    evidence: str | None = None


def _cells() -> dict[tuple[str, str], Cell]:
    c = {
        ("solver", "solver"): Cell(
            "same level",
            "Two solvers do not stack: one integrator drives the trajectory. Pick the better.",
        ),
        ("solver", "flow"): Cell(
            "compose",
            "A solver integrates whatever ODE the model defines, a flow-matching model's "
            "included; how much the straighter path helps depends on the model (on this toy "
            "the two teachers are close).",
            "solver_on_teachers",
        ),
        ("solver", "consistency"): Cell(
            "conflict",
            "A consistency model predicts the trajectory's end, not a denoiser's mean; a "
            "multistep solver that treats it as a denoiser integrates the wrong ODE.",
            "solver_on_consistency",
        ),
        ("solver", "adversarial"): Cell(
            "conflict",
            "A Turbo model is trained for its own 1 to 4 steps without guidance; a 20-step "
            "solver gives back the speed and the model was never trained for it.",
            "solver_on_turbo",
        ),
        ("solver", "add-on"): Cell(
            "compose",
            "A style LoRA or ControlNet changes what the model predicts, the solver how it "
            "walks: independent mechanisms.",
            "style_with_solver",
        ),
        ("flow", "flow"): Cell(
            "same level",
            "A model has one training objective; straightening methods apply in sequence "
            "(e.g. reflow after flow matching), not side by side at sampling time.",
        ),
        ("flow", "consistency"): Cell(
            "compose",
            "Distillation needs a teacher: a flow-matching teacher is one, and its straighter "
            "paths make accurate distillation targets.",
            "teacher_for_distillation",
        ),
        ("flow", "adversarial"): Cell(
            "compose",
            "ADD needs a teacher too; nothing in the method ties it to one parameterisation.",
        ),
        ("flow", "add-on"): Cell(
            "compose",
            "Adapters act on the network, whatever objective trained it (trained for that "
            "base, as always).",
        ),
        ("consistency", "consistency"): Cell(
            "same level",
            "Distilling an already distilled model again gains nothing: it already jumps.",
        ),
        ("consistency", "adversarial"): Cell(
            "partial",
            "Not at sampling time (each is a different model), but in training the objectives "
            "combine: a consistency student plus a discriminator.",
            "consistency_then_adversarial",
        ),
        ("consistency", "add-on"): Cell(
            "compose",
            "LCM-LoRA and a style LoRA are separate low-rank bypasses on the same weights.",
            "lcm_with_style",
        ),
        ("adversarial", "adversarial"): Cell(
            "same level",
            "One Turbo model per base; there is nothing to stack.",
        ),
        ("adversarial", "add-on"): Cell(
            "partial",
            "A Turbo model is a separate checkpoint: adapters trained for its base may transfer "
            "imperfectly, and it shares no adapter ecosystem of its own yet.",
            "turbo_with_style",
        ),
        ("add-on", "add-on"): Cell(
            "partial",
            "Two LoRAs add their bypasses; they can interfere, so their weights need tuning.",
        ),
    }
    for (a, b), cell in list(c.items()):
        c[(b, a)] = cell
    return c


CELLS = _cells()


def cell(a: str, b: str) -> Cell:
    """The verdict for families `a` and `b` (short names, in either order)."""
    for name in (a, b):
        if name not in SHORT:
            raise ValueError(f"unknown family {name!r}; choose one of: {', '.join(SHORT)}")
    return CELLS[(a, b)]


def measured_pairs() -> list[tuple[str, str, Cell]]:
    """Each pair with a measurement, once."""
    seen, out = set(), []
    for (a, b), c in CELLS.items():
        if c.evidence and c.evidence not in seen:
            seen.add(c.evidence)
            out.append((a, b, c))
    return out


def verdict_table() -> str:
    """The grid as fixed-width text: one row and one column per family (short names, in the
    order of `FAMILIES`), each cell its verdict, `*` where this build measures the pair."""
    width = max(len(v) for v in VERDICTS) + 2
    lines = [(" " * 12 + "".join(f"{s:<{width}}" for s in SHORT)).rstrip()]
    for a in SHORT:
        cells = [CELLS[(a, b)].verdict + ("*" if CELLS[(a, b)].evidence else "") for b in SHORT]
        lines.append((f"{a:<12}" + "".join(f"{c:<{width}}" for c in cells)).rstrip())
    lines.append("")
    lines.extend(f"{s:<12}= {f}" for s, f in zip(SHORT, FAMILIES, strict=True))
    return "\n".join(lines)
