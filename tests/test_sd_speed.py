"""The machine-speed probe that makes recorded training times comparable across machines."""

from __future__ import annotations

import json
import math

import pytest
import torch

from fastgen_book.tinysd import machine, speed


def test_a_recorded_time_scales_with_the_reference_step():
    # twice as slow a reference step: twice the wall time; the same speed: the same time
    assert speed.expected_seconds(600.0, 100.0, 200.0) == pytest.approx(1200.0)
    assert speed.expected_seconds(600.0, 150.0, 150.0) == pytest.approx(600.0)


def test_scaled_record_uses_the_mean_of_before_and_after_and_skips_unmeasured_stages():
    record = {
        "tiny-sd": {"seconds": 1000.0, "reference_step_ms": [100.0, 300.0]},
        "judge": {"seconds": 50.0},  # trained before speeds were recorded
    }
    rows = speed.scaled_record(record, here_ms=100.0)
    assert list(rows) == ["tiny-sd"]
    assert rows["tiny-sd"]["reference_step_ms"] == pytest.approx(200.0)
    assert rows["tiny-sd"]["expected_seconds"] == pytest.approx(500.0)


def test_the_reference_step_is_timed_without_touching_the_global_generator():
    before = torch.get_rng_state()
    ms = speed.reference_step_ms(steps=1, warmup=0, batch=2)
    assert math.isfinite(ms) and ms > 0
    assert torch.equal(torch.get_rng_state(), before)
    with pytest.raises(ValueError, match="steps"):
        speed.reference_step_ms(steps=0)


def test_bench_machine_prints_and_writes_the_scaled_record(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(machine, "reference_step_ms", lambda: 50.0)
    (tmp_path / "record.json").write_text(
        json.dumps({"lcm-lora": {"seconds": 200.0, "reference_step_ms": [100.0, 100.0]}})
    )
    assert machine.main(2, tmp_path / "m.json", model_dir=tmp_path) == 0
    out = capsys.readouterr().out
    assert "reference step here: 50.0 ms" in out and "about 1.7 minutes" in out
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["stages"]["lcm-lora"]["expected_seconds"] == pytest.approx(100.0)


def test_every_stage_records_the_speed_before_and_after_it(tmp_path, monkeypatch):
    from fastgen_book.tinysd.recipe import read_record, run_stage

    times = iter([120.0, 140.0])
    monkeypatch.setattr(speed, "reference_step_ms", lambda: next(times))
    run_stage("judge", tmp_path / "model", tmp_path / "work", steps=2, progress=False)
    assert read_record(tmp_path / "model")["judge"]["reference_step_ms"] == [120.0, 140.0]
