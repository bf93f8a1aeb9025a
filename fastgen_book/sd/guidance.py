"""The base model's classifier-free guidance scale on each tier (Ho & Salimans 2022, eq. 6, in
diffusers' convention: scale s, eps_u + s (eps_c - eps_u)). SD v1.5 runs at 7.5, the default
of diffusers' `StableDiffusionPipeline`; tiny-sd runs at the scale its own sweep picked, which
`bench sd --tier tiny --card` measures and keeps in the model's card.json (`teacher_guidance`).
The base model and the style LoRA run at this scale wherever a page or the bench uses them."""

from __future__ import annotations

import json

from fastgen_book.sd.tiers import tiny_model_dir

#: diffusers' `StableDiffusionPipeline.__call__(guidance_scale=7.5)`, Stable Diffusion's
#: customary scale
GPU_GUIDANCE = 7.5

#: the scales the sweep tries: 1 is no guidance (one UNet call per step), the rest cost two
SWEEP = (1.0, 1.5, 2.0, 3.0, 5.0, 7.5)

RULE = (
    "the highest headline score (share of images fully correct); among equal scores the lowest "
    "Fréchet distance, then the smaller scale"
)

CARD_KEY = "teacher_guidance"


def best_guidance(rows: list[dict]) -> float:
    """The scale of the best sweep row (`Result.row()` dicts), by `RULE`: highest quality
    (all-correct share, or the CLIP score where there is no judge), then lowest distance, then
    smallest guidance."""
    if not rows:
        raise ValueError("best_guidance needs at least one sweep row")

    def rank(row: dict) -> tuple:
        quality = row["all_correct"] if row["all_correct"] is not None else row["clip_score"]
        distance = row["distance"] if row["distance"] is not None else 0.0
        return (-quality, distance, row["guidance"])

    return min(rows, key=rank)["guidance"]


def base_guidance(tier: str) -> float:
    """The guidance scale the base model runs at on `tier` ('tiny' or 'gpu')."""
    if tier == "gpu":
        return GPU_GUIDANCE
    path = tiny_model_dir() / "card.json"
    card = json.loads(path.read_text()) if path.is_file() else {}
    if CARD_KEY not in card:
        raise FileNotFoundError(
            f"{path} records no guidance sweep for the base model; run "
            "`python -m fastgen_book bench sd --tier tiny --card` to measure it"
        )
    return float(card[CARD_KEY]["chosen"])
