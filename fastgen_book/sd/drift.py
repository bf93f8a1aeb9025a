"""Does one LCM-LoRA serve many models? Both of tiny-sd's LCM-LoRAs (distilled from the base
model only: rank 16, a third of the UNet, and rank 4, about the share SD v1.5's published
adapter has) on the base and on fine-tunes that drifted further and further from it: the paper
fine-tune after 75, 150, 300 and 600 steps (`fastgen_book.sd.pipeline.PAPER_DRIFT_STEPS`). The
universality claim of LCM-LoRA (Luo et al. 2023b, sec. 3) measured per attribute."""

from __future__ import annotations

from dataclasses import dataclass

from fastgen_book.results import Study, measure
from fastgen_book.sd import pipeline as sd
from fastgen_book.sd.bench import base, lcm
from fastgen_book.sd.evaluate import Result, Setting, evaluate, load_tiny_judge
from fastgen_book.sd.guidance import base_guidance
from fastgen_book.sd.identity import weights_digest
from fastgen_book.stats import mean_difference_interval

#: the tiny model's variants along the drift axis, with the fine-tune steps each has seen
VARIANTS = (("base", 0), *((f"paper-{n}", n) for n in sd.PAPER_DRIFT_STEPS), ("paper", 600))
#: adapter name -> what the page calls it
ADAPTERS = {"lcm": "LCM-LoRA, rank 16", "lcm-small": "LCM-LoRA, rank 4"}
#: the attributes a fine-tune on paper backgrounds may move
ATTRIBUTES = ("background", "colour", "shape", "relation", "style")


def adapter_setting(name: str, steps: int = 4) -> Setting:
    """One of the two LCM-LoRAs alone at `steps` LCM steps, fused as deployed."""
    if name == "lcm":
        return lcm(steps)
    return Setting(
        "lcm", steps, 1.0, {name: 1.0}, label=f"{ADAPTERS[name]}, {steps} steps", fused=True
    )


@dataclass(frozen=True, eq=False)
class DriftRow:
    """One model on the drift axis: its own sampling and each adapter's 4 steps on it (rows
    compare by identity: their results hold image tensors)."""

    variant: str
    finetune_steps: int  # steps of fine-tuning it has seen (0: the base model)
    drift: float  # ||theta - theta_base|| / ||theta_base|| over the UNet's weights
    own: Result  # DPM-Solver++ 20 at the base model's guidance
    adapters: dict[str, Result]  # adapter name -> its 4 LCM steps on this model


def weight_drift(weights: dict, reference: dict) -> float:
    """Relative L2 distance of two UNet state dicts, all parameters taken as one vector."""
    diff = sum(float(((weights[k] - reference[k]) ** 2).sum()) for k in reference)
    return (diff / sum(float((t**2).sum()) for t in reference.values())) ** 0.5


def measure_drift(seeds: int | None = None) -> list[DriftRow]:
    """Every variant of `VARIANTS` on tiny-sd (the gpu tier has no fine-tune the judge can
    score): its own 20-step sampling and both LCM-LoRAs at 4 steps, each scored against the
    background the model was trained for (dark for the base, paper for the fine-tunes)."""
    judge, g = load_tiny_judge(), base_guidance("tiny")
    rows, reference = [], None
    for variant, steps in VARIANTS:
        loaded = sd.load_pipeline("tiny", variant=variant)
        # before the adapters: loaded, their A, B matrices would join both norms
        weights = loaded.pipe.unet.state_dict()
        if reference is None:
            reference = {k: v.clone() for k, v in weights.items()}
        drift = weight_drift(weights, reference)
        for name in ADAPTERS:
            sd.load_adapter(loaded, name)
        background = "dark" if variant == "base" else "paper"

        def score(setting: Setting, loaded=loaded, background=background) -> Result:
            return evaluate(loaded, judge, setting, seeds=seeds, background=background)

        own = score(base(g))
        adapters = {name: score(adapter_setting(name)) for name in ADAPTERS}
        rows.append(DriftRow(variant, steps, drift, own, adapters))
    return rows


def _row_to_dict(row: DriftRow) -> dict:
    return {
        "variant": row.variant,
        "finetune_steps": row.finetune_steps,
        "drift": row.drift,
        "own": row.own.to_dict(),
        "adapters": [[name, r.to_dict()] for name, r in row.adapters.items()],
    }


def _row_from_dict(data: dict) -> DriftRow:
    adapters = {name: Result.from_dict(r) for name, r in data["adapters"]}
    own = Result.from_dict(data["own"])
    return DriftRow(data["variant"], data["finetune_steps"], data["drift"], own, adapters)


def _drift_study() -> dict:
    return {"rows": [_row_to_dict(row) for row in measure_drift()]}


#: `measure_drift()` as a stored measurement, keyed on its code and the tiny model's files (the
#: fine-tunes, both LCM-LoRAs and the judge among them): a page that runs again on the same
#: weights loads it
DRIFT = Study(
    "sd-drift",
    _drift_study,
    what="tiny-sd's base and paper fine-tunes, own sampling and both LCM-LoRAs at 4 steps",
    identity=lambda: {"tier": "tiny", "weights": weights_digest("tiny")},
)


def stored_drift() -> tuple[list[DriftRow], dict]:
    """`measure_drift()` through the results store: (the rows, their record, whose
    `fastgen_book.results.provenance` says whether this call measured them)."""
    record = measure(DRIFT)
    return [_row_from_dict(r) for r in record["result"]["rows"]], record


def drift_table(rows: list[DriftRow]) -> str:
    """The drift axis as fixed-width text: per model, its weight drift, and per sampling (its
    own, each adapter) the share fully correct and each attribute's accuracy, in %."""
    heads = ["all", *(a[:5] for a in ATTRIBUTES)]
    lines = [f"{'model':<10} {'drift':>6}  {'sampling':<22} " + " ".join(f"{h:>6}" for h in heads)]
    for row in rows:
        samplings = [("own, DPM-Solver++ 20", row.own)]
        samplings += [(f"+ {ADAPTERS[n]}", r) for n, r in row.adapters.items()]
        for i, (label, r) in enumerate(samplings):
            model = (f"{row.variant:<10} {100 * row.drift:>5.1f}%") if i == 0 else " " * 17
            cells = [r.quality, *(100 * r.accuracy[a] for a in ATTRIBUTES)]
            lines.append(f"{model}  {label:<22} " + " ".join(f"{c:>6.1f}" for c in cells))
    return "\n".join(lines)


def adapter_cost(row: DriftRow, name: str) -> float:
    """Points of the headline score adapter `name`'s 4 steps lose against the model's own
    20-step sampling (negative: it scores higher)."""
    return row.own.quality - row.adapters[name].quality


def cost_growth(first: DriftRow, last: DriftRow, name: str) -> tuple[float, float]:
    """95% interval, in points, of how much more adapter `name` costs on `last` than on
    `first`: each image's cost (own sampling right, the adapter's wrong: 1; the reverse: -1) on
    both models, compared image by image when both drew the same prompts and seeds (Student's
    t of the paired differences), Welch's otherwise (`fastgen_book.stats`)."""

    def costs(row: DriftRow) -> list[float]:
        own, adapter = row.own.samples(), row.adapters[name].samples()
        return [100.0 * (o - a) for o, a in zip(own, adapter, strict=True)]

    paired = first.own.paired_with(last.own) and first.adapters[name].paired_with(last.own)
    return mean_difference_interval(costs(last), costs(first), paired)


def served(rows: list[DriftRow], name: str, tolerance: float) -> list[DriftRow]:
    """The models on which adapter `name` costs at most `tolerance` points."""
    return [r for r in rows if adapter_cost(r, name) <= tolerance]


def _model(row: DriftRow) -> str:
    return "the base" if row.finetune_steps == 0 else f"the {row.finetune_steps}-step fine-tune"


def _and(parts: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def cost_text(rows: list[DriftRow], name: str) -> str:
    """'11 points at 75 steps, 20 at 150, 52 at 300 and 66 at 600'."""
    parts = [f"{adapter_cost(r, name):.0f} at {r.finetune_steps}" for r in rows]
    parts[0] = parts[0].replace(" at ", " points at ") + " steps"
    return _and(parts)


def served_text(rows: list[DriftRow], served_rows: list[DriftRow]) -> str:
    """'serves the base, the 75-step fine-tune and the 150-step fine-tune, and stops at the
    300-step fine-tune (4.8% drift)' (in the order of `rows`)."""
    text = "serves " + _and([_model(r) for r in served_rows]) if served_rows else "serves none"
    first_out = next((r for r in rows if r not in served_rows), None)
    if first_out is not None:
        text += f", and stops at {_model(first_out)} ({100 * first_out.drift:.1f}% drift)"
    return text


def paid_text(row: DriftRow, name: str) -> str:
    """What adapter `name` costs on `row`'s model, attribute by attribute, worded from the
    paired comparison (`Result.versus`): 'shape is right in 61.5% of the adapter's images
    against 88.0% in the model's own, and colour in ...', or that no attribute is clearly
    lower."""
    adapter = row.adapters[name]
    paid = [a for a in ATTRIBUTES if row.own.versus(adapter, a) == "higher than"]
    if not paid:
        return "no attribute is right clearly less often in the adapter's images than in its own"
    parts = [
        f"{a} is right in {100 * adapter.accuracy[a]:.1f}% of the adapter's images against "
        f"{100 * row.own.accuracy[a]:.1f}% in its own"
        for a in paid
    ]
    return "; ".join(parts)


def own_trend_text(rows: list[DriftRow]) -> str:
    """How the fine-tunes' own 20-step sampling moves along the axis, from the first to the
    last: '(the 75-step fine-tune scores 80.2%, lower than the 600-step one's 91.1%)'."""
    first, last = rows[0], rows[-1]
    return (
        f"the {first.finetune_steps}-step fine-tune scores {first.own.score_text()}, "
        f"{first.own.versus(last.own)} the {last.finetune_steps}-step one's "
        f"{last.own.score_text()}"
    )
