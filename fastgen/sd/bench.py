"""`python -m fastgen bench sd`: quality and latency of the tiny model (or SD v1.5 on a GPU)
across schedulers, step counts and adapters, printed as a table and optionally written as JSON.
Every row with adapters runs them fused into the UNet (`fuse_lora`), as one deploys a LoRA: an
unfused LoRA adds its own matrix products to every adapted layer at every step.
"""

from __future__ import annotations

import json
import platform
from dataclasses import replace
from pathlib import Path

import torch

from fastgen.sd import pipeline as sd
from fastgen.sd.evaluate import Setting, evaluate, load_tiny_judge

#: classifier-free guidance for the base model and the style LoRA; LCM-LoRA runs at 1 (no CFG:
#: the guidance is distilled into the adapter, Luo et al. 2023a, sec. 4.2)
CFG = 7.5
BASE = Setting("dpmpp_2m", 20, CFG, label="base, DPM-Solver++ 20")
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


def run_suite(tier: str = "auto", seeds: int = 4, progress=print) -> dict:
    """Every row of the suite on one tier: {"tier", "model", "device", "rows": [...]}."""
    tier = sd.resolve_tier(tier)
    judge = load_tiny_judge() if tier == "tiny" else None
    rows, loaded = [], {}
    for variant, setting, style, background in SUITE:
        if tier == "gpu" and variant != "base":
            continue  # the GPU tier has no paper fine-tune of SD v1.5 to compare
        if variant not in loaded:
            loaded[variant] = sd.load_pipeline(tier, variant=variant)
            for name in SUITE_ADAPTERS:
                sd.load_adapter(loaded[variant], name)
        result = evaluate(
            loaded[variant], judge, setting, seeds=seeds, style=style, background=background
        )
        rows.append(result.row())
        progress(format_row(rows[-1]))
    first = next(iter(loaded.values()))
    return {
        "tier": tier,
        "model": first.model_id,
        "device": "cuda" if tier == "gpu" else f"CPU ({platform.machine()})",
        "threads": torch.get_num_threads(),
        "seeds": seeds,
        "rows": rows,
    }


HEADER = (
    f"{'setting':<42} {'NFE':>4} {'colour':>7} {'shape':>6} {'pos.':>6} {'style':>6} "
    f"{'bg':>6} {'all':>6} {'dist.':>7} {'floor':>6} {'ms/img':>7}"
)


def format_row(row: dict) -> str:
    """One line of the table (accuracies in %)."""
    if row["all_correct"] is None:
        return f"{row['label']:<42} {row['nfe_per_image']:>4} CLIP score {row['clip_score']:.2f}"
    a = row["accuracy"]
    cells = " ".join(
        f"{100 * a[k]:>{w}.1f}"
        for k, w in [("colour", 7), ("shape", 6), ("position", 6), ("style", 6), ("background", 6)]
    )
    return (
        f"{row['label']:<42} {row['nfe_per_image']:>4} {cells} {100 * row['all_correct']:>6.1f} "
        f"{row['distance']:>7.3f} {row['distance_floor']:>6.3f} {row['ms_per_image']:>7.2f}"
    )


def main(json_path: Path | None, tier: str, seeds: int, threads: int, card: bool = False) -> int:
    """Print the table; `--json` writes it, `--card` also stores it as the shipped model's
    card.json and renders MODEL_CARD.md (tiny tier only)."""
    torch.set_num_threads(threads)
    if card and sd.resolve_tier(tier) != "tiny":
        raise SystemExit("--card describes the shipped tiny model; run it with --tier tiny")
    print(HEADER)
    result = run_suite(tier, seeds)
    text = json.dumps(result, indent=2) + "\n"
    if json_path is not None:
        json_path.write_text(text)
        print(f"wrote {json_path}")
    if card:
        from fastgen.sd.card import write_card

        (sd.tiny_model_dir() / "card.json").write_text(text)
        print(f"wrote {write_card(sd.tiny_model_dir())}")
    return 0
