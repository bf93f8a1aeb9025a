"""`python -m fastgen bench sd`: quality and latency of the tiny model (or SD v1.5 on a GPU)
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

from fastgen import atomic
from fastgen._checks import check_steps
from fastgen.sd import pipeline as sd
from fastgen.sd.budget import budget_for
from fastgen.sd.evaluate import Setting, evaluate, load_tiny_judge
from fastgen.sd.table import GPU_HEADER, HEADER, format_row

#: classifier-free guidance for the base model and the style LoRA; LCM-LoRA runs at 1 (no CFG:
#: the guidance is distilled into the adapter, Luo et al. 2023a, sec. 4.2)
CFG = 7.5
BASE = Setting("dpmpp_2m", 20, CFG, label="base, DPM-Solver++ 20")
BASE_DPM4 = Setting("dpmpp_2m", 4, CFG, label="base, DPM-Solver++ 4")
BASE_LCM4 = Setting("lcm", 4, 1.0, label="base, LCMScheduler 4, no adapter")


def lcm(steps: int, **extra: float) -> Setting:
    """LCM-LoRA at `steps` (plus other adapters at the given weights), fused as deployed."""
    names = " + ".join(["LCM-LoRA", *extra])
    return Setting(
        "lcm", steps, 1.0, {"lcm": 1.0, **extra}, label=f"{names}, {steps} step(s)", fused=True
    )


STYLE = Setting(
    "dpmpp_2m", 20, CFG, {"style": 1.0}, label="style LoRA, DPM-Solver++ 20", fused=True
)

#: (variant, setting, expected style, expected background)
SUITE = [
    ("base", BASE, "filled", "black"),
    ("base", BASE_LCM4, "filled", "black"),
    *[("base", lcm(n), "filled", "black") for n in (1, 2, 4, 8)],
    ("base", STYLE, "outlined", "black"),
    ("base", lcm(4, style=1.0), "outlined", "black"),
    (
        "paper",
        Setting("dpmpp_2m", 20, CFG, label="paper fine-tune, DPM-Solver++ 20"),
        "filled",
        "paper",
    ),
    (
        "paper",
        replace(lcm(4), label="paper fine-tune + LCM-LoRA, 4 steps"),
        "filled",
        "paper",
    ),
]

#: every adapter some row of the suite activates, in the order the tier defines them
SUITE_ADAPTERS = [n for n in sd.TINY_ADAPTERS if any(n in s.adapters for _, s, _, _ in SUITE)]


def suite_rows(tier: str) -> list[tuple[str, Setting, str, str]]:
    """The suite's rows a tier runs (the paper fine-tune is the tiny model's own)."""
    return [row for row in SUITE if tier == "tiny" or row[0] == "base"]


def run_suite(tier: str = "auto", seeds: int | None = None, progress=print) -> dict:
    """Every row of the suite on one tier: {"tier", "model", "device", "rows": [...]};
    `seeds` defaults to the tier's budget (`fastgen.sd.budget`)."""
    tier = sd.resolve_tier(tier)
    judge = load_tiny_judge() if tier == "tiny" else None
    rows, loaded = [], {}
    for variant, setting, style, background in suite_rows(tier):
        if variant not in loaded:
            loaded[variant] = sd.load_pipeline(tier, variant=variant)
            for name in SUITE_ADAPTERS:
                sd.load_adapter(loaded[variant], name)
        result = evaluate(
            loaded[variant], judge, setting, seeds=seeds, style=style, background=background
        )
        rows.append({**result.row(), "device": result.record["device"]})
        progress(format_row(rows[-1]))
    first = next(iter(loaded.values()))
    return {
        "tier": tier,
        "model": first.model_id,
        "device": "cuda" if tier == "gpu" else f"CPU ({platform.machine()})",
        "device_name": rows[-1].get("device", ""),
        "threads": torch.get_num_threads(),
        "seeds": seeds if seeds is not None else budget_for(tier).seeds,
        "prompts": len(budget_for(tier).prompts),
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
    `fastgen.tinysd.card.store_card`) also keeps it as the shipped model's card (tiny tier
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
    result = run_suite(tier, seeds)
    text = json.dumps(result, indent=2) + "\n"
    if json_path is not None:
        atomic.write_text(json_path, text)
        print(f"wrote {json_path}")
    if store_card:
        print(f"wrote {store_card(text)}")
    return 0
