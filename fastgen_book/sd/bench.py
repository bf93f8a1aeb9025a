"""`python -m fastgen_book bench sd`: quality and latency of the tiny model (or SD v1.5 on a GPU)
across schedulers, step counts and adapters, printed as a table and optionally written as JSON.
Every row with adapters runs them fused into the UNet (`fuse_lora`), as one deploys a LoRA: an
unfused LoRA adds its own matrix products to every adapted layer at every step.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from fastgen_book import atomic
from fastgen_book._checks import check_steps
from fastgen_book.sd import pipeline as sd
from fastgen_book.sd.budget import budget_for
from fastgen_book.sd.evaluate import Setting, evaluate, load_tiny_judge
from fastgen_book.sd.guidance import CARD_KEY, RULE, SWEEP, base_guidance, best_guidance
from fastgen_book.sd.table import GPU_HEADER, HEADER, format_row

#: LCM-LoRA runs at guidance 1 (no CFG: the guidance is distilled into the adapter, Luo et al.
#: 2023a, sec. 4.2); the base model and the style LoRA at the tier's `fastgen_book.sd.guidance`
BASE_LCM4 = Setting("lcm", 4, 1.0, label="base, LCMScheduler 4, no adapter")
#: the few-step solver rows of the suite: DPM-Solver++ (2 UNet calls a step with guidance)
FEW_SOLVER_STEPS = (2, 4, 8)


def base(guidance: float, steps: int = 20) -> Setting:
    """The base model with DPM-Solver++ at `steps` and classifier-free guidance `guidance`."""
    return Setting("dpmpp_2m", steps, guidance, label=f"base, DPM-Solver++ {steps}")


def lcm(steps: int, **extra: float) -> Setting:
    """LCM-LoRA at `steps` (plus other adapters at the given weights), fused as deployed."""
    names = " + ".join(["LCM-LoRA", *extra])
    return Setting(
        "lcm", steps, 1.0, {"lcm": 1.0, **extra}, label=f"{names}, {steps} step(s)", fused=True
    )


#: tiny-turbo's step counts in the suite (it was distilled for 1 to 4)
TURBO_STEPS = (1, 2, 4)


def turbo(steps: int, **adapters: float) -> Setting:
    """tiny-turbo (the `turbo` variant) at `steps` Euler-ancestral steps on the trailing
    timesteps, no guidance: how SDXL-Turbo is run (its model card: guidance_scale=0.0)."""
    names = " + ".join(["tiny-turbo", *adapters])
    return Setting(
        "euler_a",
        steps,
        0.0,
        dict(adapters),
        label=f"{names}, {steps} step(s)",
        fused=bool(adapters),
    )


def style(guidance: float) -> Setting:
    """The style LoRA with DPM-Solver++ 20 at the base model's guidance, fused as deployed."""
    return Setting(
        "dpmpp_2m", 20, guidance, {"style": 1.0}, label="style LoRA, DPM-Solver++ 20", fused=True
    )


def suite_rows(tier: str, guidance: float) -> list[tuple[str, Setting, str, str]]:
    """(variant, setting, expected style, expected background) of every row the tier runs,
    the base model at `guidance` (the paper fine-tune is the tiny model's own)."""
    rows = [
        ("base", base(guidance), "filled", "dark"),
        # the same solver with few steps: what a distilled model is measured against
        *[("base", base(guidance, n), "filled", "dark") for n in FEW_SOLVER_STEPS],
        ("base", BASE_LCM4, "filled", "dark"),
        *[("base", lcm(n), "filled", "dark") for n in (1, 2, 4, 8)],
        ("base", style(guidance), "outlined", "dark"),
        ("base", lcm(4, style=1.0), "outlined", "dark"),
        (
            "paper",
            replace(base(guidance), label="paper fine-tune, DPM-Solver++ 20"),
            "filled",
            "paper",
        ),
        ("paper", replace(lcm(4), label="paper fine-tune + LCM-LoRA, 4 steps"), "filled", "paper"),
        # level 3b: the adversarially distilled student, and whether the style LoRA (trained
        # for the base model) carries over to it
        *[("turbo", turbo(n), "filled", "dark") for n in TURBO_STEPS],
        ("turbo", turbo(1, style=1.0), "outlined", "dark"),
    ]
    return [row for row in rows if tier == "tiny" or row[0] == "base"]


def suite_adapters(rows: list[tuple[str, Setting, str, str]]) -> list[str]:
    """Every adapter some row activates, in the order the tier defines them."""
    return [n for n in sd.TINY_ADAPTERS if any(n in s.adapters for _, s, _, _ in rows)]


def sweep_settings(guidances=SWEEP) -> list[Setting]:
    """The base model with DPM-Solver++ 20 at each guidance scale (`fastgen_book.sd.guidance`)."""
    return [replace(base(g), label=f"base, DPM-Solver++ 20, guidance {g:g}") for g in guidances]


def sweep_rows(loaded: sd.Loaded, judge, seeds: int | None, progress=print) -> list[dict]:
    """`sweep_settings` measured: one `Result.row()` per scale."""
    rows = []
    for setting in sweep_settings():
        rows.append(evaluate(loaded, judge, setting, seeds=seeds).row())
        progress(format_row(rows[-1]))
    return rows


def run_suite(
    tier: str = "auto", seeds: int | None = None, progress=print, calibrate: bool = False
) -> dict:
    """Every row of the suite on one tier: {"tier", "model", "device", "teacher_guidance",
    "rows": [...]}; `seeds` defaults to the tier's budget (`fastgen_book.sd.budget`). `calibrate`
    first sweeps the base model's guidance and runs the suite at the best scale (`RULE`),
    recording the sweep; otherwise the suite runs at the tier's `base_guidance`."""
    tier = sd.resolve_tier(tier)
    judge = load_tiny_judge() if tier == "tiny" else None
    loaded = {"base": sd.load_pipeline(tier)}
    calibration = {"rule": RULE}
    if calibrate:
        calibration["sweep"] = sweep_rows(loaded["base"], judge, seeds, progress)
        calibration["chosen"] = best_guidance(calibration["sweep"])
        progress(f"guidance {calibration['chosen']:g} is best by the rule: {RULE}")
    else:
        calibration["chosen"] = base_guidance(tier)
    suite = suite_rows(tier, calibration["chosen"])
    adapters = suite_adapters(suite)
    for name in adapters:
        sd.load_adapter(loaded["base"], name)
    rows = []
    for variant, setting, style_, background in suite:
        if variant not in loaded:
            loaded[variant] = sd.load_pipeline(tier, variant=variant)
            for name in adapters:
                sd.load_adapter(loaded[variant], name)
        result = evaluate(
            loaded[variant], judge, setting, seeds=seeds, style=style_, background=background
        )
        rows.append({**result.row(), "device": result.record["device"]})
        progress(format_row(rows[-1]))
    return {
        "tier": tier,
        "model": loaded["base"].model_id,
        "device": "cuda" if tier == "gpu" else f"CPU ({platform.machine()})",
        "device_name": rows[-1].get("device", ""),
        "threads": torch.get_num_threads(),
        "seeds": seeds if seeds is not None else budget_for(tier).seeds,
        "prompts": len(budget_for(tier).prompts),
        CARD_KEY: calibration,
        "rows": rows,
    }


def main(
    json_path: Path | None,
    tier: str,
    seeds: int | None,
    threads: int,
    store_card: Callable[[str], Path] | None = None,
    quick: bool = False,
) -> int:
    """Print the table; `--json` writes it; `store_card` (given for `--card`: the factory's
    `fastgen_book.tinysd.card.store_card`) also keeps it as the shipped model's card (tiny tier
    only). `--quick`: one seed, and the JSON goes to bench-sd-<tier>.json unless `--json` names
    a file."""
    torch.set_num_threads(threads)
    tier = sd.resolve_tier(tier)
    if store_card and tier != "tiny":
        raise SystemExit("error: --card describes the shipped tiny model; run it with --tier tiny")
    if store_card and quick:
        raise SystemExit("error: --card needs the full suite; drop --quick")
    if seeds is not None:
        check_steps(seeds, "--seeds")
    if quick:
        seeds = 1
        json_path = json_path or Path(f"bench-sd-{tier}.json")
    if json_path is not None and not json_path.parent.is_dir():
        raise SystemExit(f"error: --json {json_path}: no folder {json_path.parent}")
    print(GPU_HEADER if tier == "gpu" else HEADER)
    result = run_suite(tier, seeds, calibrate=store_card is not None)
    text = json.dumps(result, indent=2) + "\n"
    if json_path is not None:
        atomic.write_text(json_path, text)
        print(f"wrote {json_path}")
    if store_card:
        print(f"wrote {store_card(text)}")
    return 0
