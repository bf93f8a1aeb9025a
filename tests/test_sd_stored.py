"""Stable Diffusion measurements through the results store: keyed on the weights, the device
and the adapter files as well as the code, and loaded back whole (images, scores, setting), so
the second page that shows one reads what the first measured."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest
import torch

from fastgen_book.sd import experiments as ex
from fastgen_book.sd import identity
from fastgen_book.sd import pipeline as sd
from fastgen_book.sd.tiers import TINY_ENV, tiny_model_dir
from fastgen_book.toy2d.experiments import compare_one_step_students, stored_one_step_students


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTGEN_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"


def test_the_composition_is_measured_once_and_loaded_whole(store):
    loaded = sd.load_pipeline("tiny")
    first, first_record = ex.stored_composition(loaded)
    again, again_record = ex.stored_composition(loaded)
    assert first_record["source"] == "measured now" and again_record["source"] == "build"
    assert again_record["inputs"]["adapters"].keys() == {"lcm", "style"}
    assert list(again) == list(first)
    for name, r in first.items():
        loaded_back = again[name]
        assert torch.equal(loaded_back.images, r.images) and loaded_back.images.dtype == torch.uint8
        assert loaded_back.setting == r.setting and loaded_back.prompts == r.prompts
        assert loaded_back.summary("style") == r.summary("style")
        assert loaded_back.record == r.record


def test_the_weights_identity_follows_the_files(tmp_path, monkeypatch):
    shipped = identity.weights_digest("tiny")
    copy = tmp_path / "tiny-sd"
    shutil.copytree(tiny_model_dir(), copy)
    monkeypatch.setenv(TINY_ENV, str(copy))
    assert identity.weights_digest("tiny") == shipped  # where the files lie does not matter
    card = copy / "card.json"
    card.write_text(json.dumps({**json.loads(card.read_text()), "edited": True}))
    assert identity.weights_digest("tiny") != shipped


def test_a_cached_hub_file_is_named_by_its_blob(tmp_path):
    """The Hugging Face cache keeps a file's content once, as blobs/<content hash>, and links
    snapshots/<revision>/<file> to it: the blob's name is the content id, no bytes read."""
    blob = tmp_path / "blobs" / ("ab" * 32)
    blob.parent.mkdir()
    blob.write_bytes(b"weights")
    link = tmp_path / "snapshots" / "rev" / "unet.safetensors"
    link.parent.mkdir(parents=True)
    os.symlink(os.path.relpath(blob, link.parent), link)
    plain = tmp_path / "plain.safetensors"
    plain.write_bytes(b"weights")
    assert identity.file_digest(link) == "ab" * 32
    assert identity.file_digest(plain) == hashlib.sha256(b"weights").hexdigest()


def test_an_identity_names_only_loaded_adapters():
    loaded = sd.load_pipeline("tiny")
    with pytest.raises(ValueError, match="not loaded"):
        identity.loaded_identity(loaded, ("style",))


def test_the_gpu_identity_reads_the_hub_files(gpu_standin):
    loaded = ex.ensure_adapters(sd.load_pipeline("gpu"), "lcm")
    found = identity.weight_files("gpu")
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5/unet/config.json" in found
    ident = identity.loaded_identity(loaded, ("lcm",))
    assert ident["tier"] == "gpu" and ident["dtype"] == "torch.float16"
    assert ident["weights"] != identity.weights_digest("tiny")


def test_the_one_step_students_come_back_as_measured(store):
    students, record = stored_one_step_students()
    again, again_record = stored_one_step_students()
    assert record["source"] == "measured now" and again_record["source"] == "build"
    for measured, loaded_back in zip(compare_one_step_students(), again, strict=True):
        assert torch.equal(loaded_back.samples, measured.samples)
        assert loaded_back.report == measured.report
        assert (loaded_back.name, loaded_back.nfe) == (measured.name, measured.nfe)
        assert loaded_back.distance == measured.distance
    assert [s.name for s in students] == [s.name for s in again]
