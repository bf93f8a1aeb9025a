"""`python -m fastgen_book bench machine`: this machine's training speed
(`fastgen_book.tinysd.speed`'s
reference step) and how long each recorded training stage of the shipped model should take
here."""

from __future__ import annotations

import json

import torch

from fastgen_book.sd.tiers import tiny_model_dir
from fastgen_book.tinysd.recipe import MODEL_STAGES, read_record
from fastgen_book.tinysd.speed import reference_step_ms, scaled_record


def main(threads: int, json_path=None, model_dir=None) -> int:
    """`python -m fastgen_book bench machine`: the reference step here, and every recorded training
    stage of the shipped model scaled to it; `json_path` also gets them as JSON."""
    torch.set_num_threads(threads)
    here = reference_step_ms()
    rows = scaled_record(read_record(model_dir or tiny_model_dir()), here)
    print(f"reference step here: {here:.1f} ms ({threads} torch threads)")
    print(f"{'stage':12s} {'recorded s':>10s} {'ref. ms then':>12s} {'expected here s':>15s}")
    for stage, row in rows.items():
        print(
            f"{stage:12s} {row['seconds']:10.0f} {row['reference_step_ms']:12.1f} "
            f"{row['expected_seconds']:15.0f}"
        )
    model = sum(r["expected_seconds"] for s, r in rows.items() if s in MODEL_STAGES)
    print(f"the model (the stages above but the judge) here: about {model / 60:.1f} minutes")
    if json_path is not None:
        result = {"threads": threads, "reference_step_ms": here, "stages": rows}
        json_path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {json_path}")
    return 0
