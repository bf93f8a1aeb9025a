"""The drift axis of lesson 2: weight drift against its closed form, the words built from the
rows, and the shipped fine-tunes ordered by how far they drifted."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from fastgen_book.sd import drift as dr


def test_weight_drift_is_the_relative_distance_of_all_weights_as_one_vector():
    ref = {"a": torch.tensor([3.0, 0.0]), "b": torch.tensor([[0.0, 4.0]])}
    scaled = {k: 1.1 * v for k, v in ref.items()}
    assert dr.weight_drift(scaled, ref) == pytest.approx(0.1)
    moved = {"a": torch.tensor([3.0, 5.0]), "b": ref["b"]}  # |(0, 5)| / |(3, 4)| = 1
    assert dr.weight_drift(moved, ref) == pytest.approx(1.0)
    assert dr.weight_drift(ref, ref) == 0.0


def row(steps: int, own: float, lcm: float, drift: float = 0.0) -> dr.DriftRow:
    def result(q):
        return SimpleNamespace(quality=q)

    return dr.DriftRow(f"paper-{steps}", steps, drift, result(own), {"lcm": result(lcm)})


def test_costs_and_the_models_an_adapter_serves_in_words():
    rows = [row(0, 99, 96), row(75, 26, 15, 0.03), row(300, 86, 35, 0.048), row(600, 98, 32)]
    assert [dr.adapter_cost(r, "lcm") for r in rows] == [3, 11, 51, 66]
    assert dr.cost_text(rows[1:], "lcm") == "11 points at 75 steps, 51 at 300 and 66 at 600"
    assert dr.cost_text(rows[3:], "lcm") == "66 points at 600 steps"
    served = dr.served(rows, "lcm", 20)
    assert served == rows[:2]  # rows compare by identity
    assert dr.served_text(rows, served) == (
        "serves the base and the 75-step fine-tune, and stops at the 300-step fine-tune "
        "(4.8% drift)"
    )
    assert dr.served_text(rows, rows) == (
        "serves the base, the 75-step fine-tune, the 300-step fine-tune and the 600-step fine-tune"
    )


def test_the_shipped_fine_tunes_drift_further_with_every_step():
    from safetensors.torch import load_file

    from fastgen_book.sd.pipeline import TINY_VARIANTS, tiny_model_dir

    unet = "diffusion_pytorch_model.safetensors"
    base = load_file(str(tiny_model_dir() / "pipeline" / "unet" / unet))
    drifts = [0.0]
    for variant, _ in dr.VARIANTS[1:]:
        assert TINY_VARIANTS[variant] is not None, variant
        weights = load_file(str(tiny_model_dir() / TINY_VARIANTS[variant] / unet))
        drifts.append(dr.weight_drift(weights, base))
    assert drifts == sorted(drifts) and len(set(drifts)) == len(drifts)


def test_the_measured_drift_is_the_shipped_weights_drift(monkeypatch):
    """`measure_drift` reads each UNet's drift before its adapters are loaded: the page's
    number is the weight files' own (scoring is stubbed: only the weights matter here)."""
    from types import SimpleNamespace

    from safetensors.torch import load_file

    from fastgen_book.sd.pipeline import TINY_VARIANTS, tiny_model_dir

    monkeypatch.setattr(dr, "evaluate", lambda *a, **k: SimpleNamespace(quality=0.0))
    monkeypatch.setattr(dr, "load_tiny_judge", lambda: None)
    unet = "diffusion_pytorch_model.safetensors"
    base = load_file(str(tiny_model_dir() / "pipeline" / "unet" / unet))
    for row in dr.measure_drift():
        folder = TINY_VARIANTS[row.variant]
        weights = base if folder is None else load_file(str(tiny_model_dir() / folder / unet))
        assert row.drift == pytest.approx(dr.weight_drift(weights, base), rel=1e-6), row.variant


def _result(quality: float) -> dr.Result:
    setting = dr.Setting("lcm", 4, 1.0, {"lcm": 1.0}, label="LCM-LoRA, 4 steps")
    images = torch.full((2, 3, 4, 4), int(quality), dtype=torch.uint8)
    return dr.Result(
        setting,
        images,
        ["a", "b"],
        {"nfe_per_image": 4},
        {"colour": 0.5},
        quality / 100,
        None,
        None,
    )


def test_the_stored_drift_is_the_measured_drift_and_follows_the_weights(tmp_path, monkeypatch):
    """`stored_drift` measures once and loads after, the same rows back (images included);
    other tiny-model files are another measurement (its key covers their digest)."""
    monkeypatch.setenv("FASTGEN_RESULTS_DIR", str(tmp_path))
    calls = []

    def fake_rows():
        calls.append(1)
        return [
            dr.DriftRow("base", 0, 0.0, _result(90), {"lcm": _result(80)}),
            dr.DriftRow("paper", 600, 0.09, _result(85), {"lcm": _result(60)}),
        ]

    monkeypatch.setattr(dr, "measure_drift", fake_rows)
    measured, first = dr.stored_drift()
    loaded, again = dr.stored_drift()
    assert len(calls) == 1 and first["source"] == "measured now" and again["source"] == "build"
    for m, s in zip(measured, loaded, strict=True):
        assert (m.variant, m.finetune_steps, m.drift) == (s.variant, s.finetune_steps, s.drift)
        pairs = zip(m.adapters.values(), s.adapters.values(), strict=True)
        for a, b in [(m.own, s.own), *pairs]:
            assert torch.equal(a.images, b.images) and a.setting == b.setting
            assert (a.quality, a.accuracy, a.record) == (b.quality, b.accuracy, b.record)
        assert list(m.adapters) == list(s.adapters)
    monkeypatch.setattr(dr, "weights_digest", lambda tier: "other weights")
    assert dr.stored_drift()[1]["source"] == "measured now" and len(calls) == 2
