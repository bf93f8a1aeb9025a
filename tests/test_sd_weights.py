"""The shipped tiny model: it loads offline, `generate` works from the command line, and the
weights still meet the figures on their model card (card.json, written by the bench)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from fastgen_book.sd import pipeline as sd
from fastgen_book.sd.bench import base, lcm, turbo
from fastgen_book.sd.evaluate import evaluate, load_tiny_judge
from fastgen_book.sd.guidance import base_guidance, best_guidance
from fastgen_book.tinysd import targets
from fastgen_book.tinysd.recipe import STAGES, read_record

MODEL = sd.tiny_model_dir()
CARD = json.loads((MODEL / "card.json").read_text())
BASE = base(base_guidance("tiny"))


def card_row(label: str) -> dict:
    return next(r for r in CARD["rows"] if r["label"] == label)


def test_every_stage_is_shipped_with_its_record():
    record = read_record(MODEL)
    for stage, (path, _) in STAGES.items():
        assert (MODEL / path).exists(), path
        assert {"command", "seconds", "versions", "date"} <= set(record[stage]), stage
    files = [p for p in MODEL.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in {".bin", ".pt", ".ckpt", ".pkl"}]


def test_the_model_card_is_rendered_from_the_records():
    from fastgen_book.tinysd.card import render_card

    assert (MODEL / "MODEL_CARD.md").read_text() == render_card(MODEL)


def test_the_card_describes_the_shipped_architecture():
    model = read_record(MODEL)["tiny-sd"]["model"]  # the TinySDConfig the card is written from
    unet = json.loads((MODEL / "pipeline" / "unet" / "config.json").read_text())
    blocks = ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in model["unet_attention"]]
    assert unet["down_block_types"] == blocks
    assert unet["block_out_channels"] == model["unet_channels"]
    assert unet["attention_head_dim"] == model["unet_heads"]


@pytest.fixture(scope="module")
def loaded():
    torch.set_num_threads(2)
    pipe = sd.load_pipeline("tiny")
    sd.load_adapter(pipe, "lcm")
    return pipe


@pytest.mark.parametrize("setting", [BASE, lcm(4)], ids=lambda s: s.name)
def test_the_weights_meet_their_card(loaded, setting):
    """Same settings, seeds and judge as the card: accuracy within 2 points of it."""
    result = evaluate(loaded, load_tiny_judge(), setting, seeds=CARD["seeds"])
    row = card_row(setting.name)
    assert result.all_correct == pytest.approx(row["all_correct"], abs=0.02)
    for key in ("colour", "shape", "relation"):
        assert result.accuracy[key] == pytest.approx(row["accuracy"][key], abs=0.02), key


def test_tiny_turbo_meets_its_card():
    """The shipped student at one step, the card's seeds and judge: within 2 points of it."""
    torch.set_num_threads(2)
    student = sd.load_pipeline("tiny", variant="turbo")
    assert student.model_id == "fastgen tiny-turbo"
    result = evaluate(student, load_tiny_judge(), turbo(1), seeds=CARD["seeds"])
    row = card_row(turbo(1).name)
    assert result.all_correct == pytest.approx(row["all_correct"], abs=0.02)
    assert result.sharpness == pytest.approx(row["sharpness"], rel=0.02)


def test_the_base_model_runs_at_the_guidance_its_sweep_found_best():
    sweep = CARD["teacher_guidance"]["sweep"]
    assert best_guidance(sweep) == CARD["teacher_guidance"]["chosen"] == BASE.guidance
    assert {r["guidance"] for r in sweep} >= {1.0, 7.5}
    assert card_row(BASE.name)["guidance"] == BASE.guidance


#: targets the shipped weights miss, as the card says; issue 33 stays open on them. Strict: a
#: retrained model that meets one fails here until it leaves this list.
MISSED = {
    targets.TARGETS[1].text: "8.9 points below on 2026-12-05 (intervals apart)",
    targets.TARGETS[6].text: "7.8 points below the adapter on 2026-12-05",
}


def _target(t: targets.Target):
    if t.text in MISSED:
        return pytest.param(t, marks=pytest.mark.xfail(strict=True, reason=MISSED[t.text]))
    return t


@pytest.mark.parametrize("target", [_target(t) for t in targets.TARGETS], ids=lambda t: t.text)
def test_the_card_meets_the_targets_of_the_harder_world(target):
    """What lessons 2 and 3 need of the model: a few-step solver visibly fails where the
    distilled adapter does not (`fastgen_book.tinysd.targets`)."""
    met, measured = target.check(targets.Rows({row["label"]: row for row in CARD["rows"]}))
    assert met, f"{target.text}: measured {measured}"


def test_every_row_holds_its_images_scores():
    """The targets' paired intervals need each image's score in every row, in one order."""
    n = {len(row["per_image"]["all"]) for row in CARD["rows"]}
    assert n == {CARD["seeds"] * 48}


def test_lcm_lora_is_faster_than_the_full_sampler():
    """A tenth of the UNet calls; on the clock less, since the 64x64 decoder's cost is fixed
    (LCM-LoRA at 1 step is most of LCM-LoRA at 4)."""
    base, lcm4 = card_row(BASE.name), card_row(lcm(4).name)
    assert base["ms_per_image"] / lcm4["ms_per_image"] >= 2


def test_generate_says_what_was_wrong(tmp_path):
    cmd = [sys.executable, "-m", "fastgen_book", "generate", "--prompt", "a purple hexagon"]
    done = subprocess.run(cmd + ["--out", str(tmp_path / "x.png")], capture_output=True, text=True)
    assert done.returncode != 0 and "not one this data set can draw" in done.stderr
    assert not list(tmp_path.iterdir())
