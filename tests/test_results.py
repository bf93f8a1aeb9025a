"""The results store measures a study once and loads it after; its key follows the study's
config and code; the committed measurements match the code that would make them; and the
spread and claim helpers the pages use say what their numbers say."""

from __future__ import annotations

import math

import pytest
import torch

from fastgen_book import results
from fastgen_book.book.imports import code_files
from fastgen_book.claims import ClaimError, claim, compare_runs
from fastgen_book.stats import spread, wilson

CALLS = []


def _count(size: int = 1) -> dict:
    CALLS.append(size)
    return {"size": size}


def _fail() -> dict:
    raise RuntimeError("measurement failed")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTGEN_RESULTS_DIR", str(tmp_path))
    CALLS.clear()
    return tmp_path


def test_a_study_is_measured_once_then_loaded(store):
    study = results.Study("demo", _count, {"size": 3})
    first = results.measure(study)
    again = results.measure(study)
    assert CALLS == [3]
    assert first["source"] == "measured now" and again["source"] == "build"
    assert again["result"] == {"size": 3} and again["key"] == results.key(study)
    assert "measured in this build" in results.provenance(first)
    assert [p.name for p in store.iterdir()] == [results.file_name(study)]


def test_a_new_config_is_a_new_measurement(store):
    results.measure(results.Study("demo", _count, {"size": 1}))
    results.measure(results.Study("demo", _count, {"size": 2}))
    assert CALLS == [1, 2]


def test_a_failed_measurement_leaves_nothing(store):
    with pytest.raises(RuntimeError):
        results.measure(results.Study("demo", _fail))
    assert not list(store.iterdir())


def _tensors(size: int = 2) -> dict:
    CALLS.append(size)
    return {"images": torch.arange(size * 3, dtype=torch.uint8).reshape(size, 3), "rows": [(1, 2)]}


def _scaled(factor: int) -> dict:
    CALLS.append(factor)
    return {"x": torch.full((2,), float(factor))}


def _unstorable() -> dict:
    return {"x": torch.zeros(2), "bad": object()}


def test_tensors_are_stored_beside_the_record_and_come_back(store):
    study = results.Study("demo", _tensors, {"size": 4})
    first, again = results.measure(study), results.measure(study)
    assert CALLS == [4] and again["source"] == "build"
    for record in (first, again):  # measured or loaded, the same values and types
        assert torch.equal(record["result"]["images"], _tensors(4)["images"])
        assert record["result"]["rows"] == [[1, 2]]
    json_file = store / results.file_name(study)
    assert sorted(store.iterdir()) == [json_file, json_file.with_suffix(".safetensors")]


def test_a_record_without_its_tensors_is_measured_again(store):
    study = results.Study("demo", _tensors)
    results.measure(study)
    (store / results.file_name(study)).with_suffix(".safetensors").unlink()
    assert results.measure(study)["source"] == "measured now" and CALLS == [2, 2]


def test_a_record_that_cannot_be_written_leaves_no_tensors_behind(store):
    with pytest.raises(TypeError):
        results.measure(results.Study("demo", _unstorable))
    assert not list(store.iterdir())


def test_a_study_on_live_inputs_is_keyed_on_their_identity(store):
    study = results.Study("demo", _scaled, identity=lambda factor: {"factor": factor})
    results.measure(study, factor=2)
    again = results.measure(study, factor=2)
    other = results.measure(study, factor=3)
    assert CALLS == [2, 3] and again["source"] == "build" and again["inputs"] == {"factor": 2}
    assert float(other["result"]["x"][0]) == 3.0
    with pytest.raises(TypeError, match="no identity"):
        results.measure(results.Study("demo", _scaled), factor=2)


def test_the_key_covers_the_code_the_study_runs_and_nothing_else():
    files = {
        p.relative_to(results.PACKAGE_DIR).as_posix()
        for p in code_files("fastgen_book.toy2d.studies")
    }
    assert {"toy2d/distill.py", "toy2d/evaluate.py", "toy2d/studies.py"} <= files
    assert "consistency_math.py" in files  # shared math is training code too
    assert not any(f.startswith(("sd/", "viz/", "landscape/", "book/")) for f in files)


def test_every_committed_measurement_matches_todays_code():
    """Fails after an edit to code a study runs: `python -m fastgen_book results refresh`
    re-measures
    and commits (several minutes on 2 cores), so fresh clones never train for it."""
    stale = [
        name
        for name, study in results.studies().items()
        if (results.stored(study) or (None, ""))[1] != "committed"
    ]
    assert not stale, f"run `python -m fastgen_book results refresh {' '.join(stale)}`"
    names = {p.stem.rsplit("-", 1)[0] for p in results.COMMITTED_DIR.glob("*.json")}
    assert names == set(results.studies()), "a committed file no study makes: delete it"


def test_compare_runs_needs_the_ranges_apart():
    assert compare_runs([1.0, 1.1], [2.0, 2.5]) == "lower than"
    assert compare_runs([3.0, 2.6], [2.0, 2.5]) == "higher than"
    assert compare_runs([1.0, 2.2], [2.0, 2.5]) == "within the seed-to-seed spread of"


def test_a_contradicted_claim_fails_and_names_its_sentence():
    claim("A beats B", True, "unused")
    with pytest.raises(ClaimError, match="the page says 'A beats B', but this build measured 3"):
        claim("A beats B", False, "3")


def test_spread_is_mean_and_sample_standard_deviation():
    s = spread([1.0, 2.0, 3.0])
    assert s.mean == 2.0 and s.sd == 1.0 and (s.low, s.high) == (1.0, 3.0)
    assert s.format(1) == "2.0 ± 1.0 (3 seeds)"


def test_wilson_interval_closed_forms():
    z = 1.96
    low, high = wilson(0, 50)
    assert low == 0.0 and math.isclose(high, z * z / (50 + z * z))
    for k in (3, 17, 25):  # symmetric under successes <-> failures
        a, b = wilson(k, 50)
        c, d = wilson(50 - k, 50)
        assert math.isclose(a, 1 - d) and math.isclose(b, 1 - c)
    assert wilson(25, 50)[0] < 0.5 < wilson(25, 50)[1]
    with pytest.raises(ValueError):
        wilson(3, 2)
