"""Which Stable Diffusion runs: the shipped tiny model on the CPU (`tiny`) or SD v1.5 with the
published LCM-LoRA on an accelerator (`gpu`). `auto` picks gpu only when the accelerator and
every file the pages read are present, and says so when it falls back."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastgen_book._checks import check_choice
from fastgen_book.sd import device, hub

TIERS = ("tiny", "gpu", "auto")
TIER_ENV = "FASTGEN_SD_TIER"
TINY_ENV = "FASTGEN_TINY_SD"


def tiny_model_dir() -> Path:
    """The shipped tiny model: $FASTGEN_TINY_SD, else fastgen_book/sd/weights/tiny-sd."""
    default = Path(__file__).parent / "weights" / "tiny-sd"
    return Path(os.environ.get(TINY_ENV, default))


def fallback_notice() -> str:
    """Why `auto` runs the tiny model on a machine that has the accelerator ('' when it
    would not fall back)."""
    if not device.gpu_available():
        return ""
    report = hub.missing_report()
    if not report:
        return ""
    return (
        f"note: {device.gpu_device()} is available but the SD v1.5 files are not all in the "
        f"Hugging Face cache, so this runs tiny-sd on the CPU; `{hub.FETCH_COMMAND}` downloads "
        f"them ({report.splitlines()[0]}{' ...' if len(report.splitlines()) > 1 else ''})"
    )


def resolve_tier(tier: str = "auto") -> str:
    """`auto` (or $FASTGEN_SD_TIER) -> `gpu` when the accelerator and every gpu-tier file are
    present, else `tiny`."""
    tier = os.environ.get(TIER_ENV, tier) if tier == "auto" else tier
    check_choice(tier, TIERS, "tier")
    if tier != "auto":
        return tier
    return "gpu" if device.gpu_available() and not hub.missing_report() else "tiny"


def read_record(model_dir: Path) -> dict:
    """Every training stage's record in a tiny model folder ({} for one with none): here, not
    with the training code, so that pages reading it are not keyed on the factory."""
    path = Path(model_dir) / "record.json"
    return json.loads(path.read_text()) if path.exists() else {}
