"""Trained toy models cached on disk, keyed by their config and the training code.

Same config and seed, same weights: pages and tests load a model instead of retraining it. The key
also covers the source of the modules that train and define the models and of everything they
import, so editing any of them retrains.
Files are written atomically (temporary file, then rename): an interrupted run leaves nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fastgen_book import runinfo
from fastgen_book.book.imports import code_files
from fastgen_book.book.source_hash import digest
from fastgen_book.paths import BUILD_DIR

#: The modules whose code trains and defines the models; the key covers them and everything
#: they import (`fastgen_book.book.imports.code_files`), shared math included.
_TRAINING_MODULES = ("fastgen_book.toy2d.trained",)


def store_dir() -> Path:
    """Where models live: $FASTGEN_MODEL_DIR, else `_build/models` in the repository."""
    return Path(os.environ.get("FASTGEN_MODEL_DIR", BUILD_DIR / "models"))


def config_key(config) -> str:
    """SHA-256 (first 16 hex digits) of the config and of the training code."""
    h = hashlib.sha256()
    h.update(json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    h.update(type(config).__name__.encode())
    h.update(digest(code_files(*_TRAINING_MODULES)).encode())
    return h.hexdigest()[:16]


def _paths(config) -> tuple[Path, Path]:
    stem = store_dir() / f"{type(config).__name__}-{config_key(config)}"
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def load(config, model: torch.nn.Module) -> dict | None:
    """Load weights for `config` into `model`; its record, or None when not stored yet."""
    weights, meta = _paths(config)
    if not (weights.exists() and meta.exists()):
        return None
    model.load_state_dict(load_file(weights))
    return json.loads(meta.read_text())


def save(config, model: torch.nn.Module, record: dict) -> dict:
    """Store weights and a record of what produced them; returns the record."""
    weights, meta = _paths(config)
    weights.parent.mkdir(parents=True, exist_ok=True)
    record = {**record, "config": dataclasses.asdict(config), **runinfo.record()}
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    tmp_w, tmp_m = weights.with_suffix(".tmp-w"), meta.with_suffix(".tmp-m")
    save_file(state, str(tmp_w))
    tmp_m.write_text(json.dumps(record, indent=2))
    os.replace(tmp_w, weights)
    os.replace(tmp_m, meta)
    return record
