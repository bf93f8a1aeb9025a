"""The base model's guidance per tier: the sweep's rule and where each tier's scale comes from."""

from __future__ import annotations

import json

import pytest

from fastgen_book.sd import guidance
from fastgen_book.sd.tiers import TINY_ENV


def row(g: float, all_correct: float | None, distance: float | None, clip: float | None = None):
    return {"guidance": g, "all_correct": all_correct, "distance": distance, "clip_score": clip}


def test_the_best_scale_has_the_highest_score_then_the_lowest_distance():
    rows = [row(1.0, 0.90, 80), row(1.5, 0.99, 88), row(2.0, 0.99, 86), row(7.5, 0.94, 120)]
    assert guidance.best_guidance(rows) == 2.0
    assert guidance.best_guidance(rows[:2]) == 1.5
    tied = [row(3.0, 0.99, 86), row(2.0, 0.99, 86)]
    assert guidance.best_guidance(tied) == 2.0  # a full tie: the smaller scale


def test_without_a_judge_the_clip_score_decides():
    rows = [row(5.0, None, None, 30.1), row(7.5, None, None, 31.4)]
    assert guidance.best_guidance(rows) == 7.5
    with pytest.raises(ValueError):
        guidance.best_guidance([])


def test_gpu_runs_at_diffusers_default_and_tiny_reads_its_card(tmp_path, monkeypatch):
    import inspect

    from diffusers import StableDiffusionPipeline

    default = inspect.signature(StableDiffusionPipeline.__call__).parameters["guidance_scale"]
    assert guidance.base_guidance("gpu") == guidance.GPU_GUIDANCE == default.default
    monkeypatch.setenv(TINY_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="bench sd --tier tiny --card"):
        guidance.base_guidance("tiny")
    (tmp_path / "card.json").write_text(json.dumps({guidance.CARD_KEY: {"chosen": 3.0}}))
    assert guidance.base_guidance("tiny") == 3.0
