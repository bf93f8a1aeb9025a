"""Measurements stored once, with the record of what produced them, and loaded by every page or
test that asks for the same one.

A `Study` is a named function and its config. Its key covers the name, the config and the
source of every fastgen module the function's module runs (read with `fastgen_book.book.imports`),
so an edit to that code changes the key and a stale result is never read: it is measured again.
A study that runs on live objects (a loaded pipeline) gets them as keyword inputs of `measure`,
and its `identity` names what they are (weights, device) for the key. A result may hold tensors
(images, samples): they go to a safetensors file beside the JSON record.

`measure` looks first in the committed folder `fastgen_book/measurements/` (shipped with the package
and refreshed by `python -m fastgen_book results refresh`, for measurements too slow for a page
cell), then in the build's store (`_build/results`); on a miss it runs the study and stores it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from fastgen_book import atomic, runinfo
from fastgen_book.paths import BUILD_DIR

PACKAGE_DIR = Path(__file__).resolve().parent
COMMITTED_DIR = PACKAGE_DIR / "measurements"
#: Modules that define the studies `python -m fastgen_book results` lists and refreshes.
STUDY_MODULES = ("fastgen_book.toy2d.studies",)


#: how a record's JSON marks a tensor kept in the safetensors file beside it
_TENSOR = "__tensor__"


@dataclass(frozen=True)
class Study:
    """A measurement: `run(**config, **inputs)` returns a dict of JSON values and tensors.

    `identity(**inputs)`: what the live inputs are, as JSON (which weights, which device), for
    the key; a study with inputs must have one, so that other weights are another measurement.
    A study without inputs that reads files its code does not name (a model's weights) has one
    too, called with no arguments: a digest of those files."""

    name: str
    run: Callable[..., dict]
    config: Mapping = field(default_factory=dict)
    what: str = ""
    identity: Callable[..., Mapping] | None = None


def results_dir() -> Path:
    """Where measurements made by a build live: $FASTGEN_RESULTS_DIR, else `_build/results`."""
    return Path(os.environ.get("FASTGEN_RESULTS_DIR", BUILD_DIR / "results"))


def identity(study: Study, inputs: Mapping) -> dict | None:
    """What the study's live inputs are (None for a study without inputs)."""
    if study.identity is None:
        if inputs:
            raise TypeError(f"study {study.name} takes inputs but has no identity for its key")
        return None
    return dict(study.identity(**inputs))


def key(study: Study, ident: Mapping | None = None) -> str:
    """SHA-256 (first 16 hex digits) of the study's name, config, code and its inputs'
    identity (`identity(study, inputs)`, None for a study without inputs)."""
    from fastgen_book.book.imports import code_files
    from fastgen_book.book.source_hash import digest

    h = hashlib.sha256()
    h.update(study.name.encode())
    h.update(json.dumps(dict(study.config), sort_keys=True).encode())
    h.update(digest(code_files(study.run.__module__)).encode())
    if ident is not None:
        h.update(json.dumps(dict(ident), sort_keys=True).encode())
    return h.hexdigest()[:16]


def file_name(study: Study, study_key: str | None = None) -> str:
    return f"{study.name}-{study_key or key(study)}.json"


def _split(value, tensors: dict[str, torch.Tensor]):
    """`value` as JSON, each tensor replaced by a reference into `tensors`."""
    if isinstance(value, torch.Tensor):
        name = str(len(tensors))
        tensors[name] = value.detach().cpu().contiguous().clone()
        return {_TENSOR: name}
    if isinstance(value, Mapping):
        return {str(k): _split(v, tensors) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_split(v, tensors) for v in value]
    return value


def _join(value, tensors: Mapping[str, torch.Tensor]):
    """The inverse of `_split`."""
    if isinstance(value, dict):
        if set(value) == {_TENSOR}:
            return tensors[value[_TENSOR]]
        return {k: _join(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, tensors) for v in value]
    return value


def _read(path: Path) -> dict | None:
    """A record and its tensors; None when its tensors' file is missing (never written whole)."""
    record = json.loads(path.read_text(encoding="utf-8"))
    if not record.get("tensors"):
        return record
    sidecar = path.with_suffix(".safetensors")
    if not sidecar.exists():
        return None
    return _join(record, load_tensors(sidecar.read_bytes()))


def stored(study: Study, study_key: str | None = None) -> tuple[dict, str] | None:
    """(the stored record, 'committed' or 'build') for the study's current key, or None."""
    name = file_name(study, study_key)
    for folder, where in ((COMMITTED_DIR, "committed"), (results_dir(), "build")):
        path = folder / name
        if path.exists() and (record := _read(path)) is not None:
            return record, where
    return None


def run(
    study: Study,
    study_key: str | None = None,
    inputs: Mapping | None = None,
    ident: Mapping | None = None,
) -> dict:
    """Run the study now; its record (result, config, key, seconds, what ran it). `ident`:
    the inputs' identity when the caller has it (it is computed here otherwise)."""
    inputs = dict(inputs or {})
    if ident is None:
        ident = identity(study, inputs)
    study_key = study_key or key(study, ident)
    start = time.perf_counter()
    result = study.run(**study.config, **inputs)
    return {
        "name": study.name,
        "what": study.what,
        "key": study_key,
        "config": dict(study.config),
        **({"inputs": dict(ident)} if ident is not None else {}),
        "seconds": round(time.perf_counter() - start, 1),
        **runinfo.record(),
        "result": result,
    }


def _write(path: Path, record: dict) -> dict:
    """Store the record (its tensors first, the JSON that names them last, so a record is
    never read without them); returns it as a later read will give it back (dict keys sorted,
    tuples as lists: keep an order in a list)."""
    tensors: dict[str, torch.Tensor] = {}
    data = _split(record, tensors)
    sidecar = path.with_suffix(".safetensors")
    try:
        if tensors:
            atomic.write_bytes(sidecar, save_tensors(tensors))
        data = {**data, "tensors": len(tensors)}
        atomic.write_json(path, data)
    except BaseException:
        sidecar.unlink(missing_ok=True)
        raise
    return _join(json.loads(json.dumps(data, sort_keys=True)), tensors)


def measure(study: Study, **inputs) -> dict:
    """The study's record: stored if its key is, else measured now and stored in the build.
    `inputs`: the live objects it runs on, passed to `run` beside its config.
    `record["source"]` says which: 'committed', 'build' or 'measured now'."""
    ident = identity(study, inputs)  # hashes the weights a study runs on: once per call
    study_key = key(study, ident)  # hashes the code the study runs: once per call
    found = stored(study, study_key)
    if found is not None:
        record, where = found
        return {**record, "source": where}
    record = run(study, study_key, inputs, ident)
    record = _write(results_dir() / file_name(study, study_key), record)
    return {**record, "source": "measured now"}


def provenance(record: dict) -> str:
    """One line saying where a record came from and what produced it."""
    made = (
        f"{record['seconds']:.0f} s on {record['machine']} with {record['threads']} torch "
        f"threads, torch {record['torch']}, {record['created'][:10]}"
    )
    if record.get("source") == "committed":
        return (
            f"{record['name']}: the committed measurement fastgen_book/measurements/"
            f"{record['name']}-{record['key']}.json, whose key matches this build's code ({made})"
        )
    if record.get("source") == "build":
        return f"{record['name']}: loaded from this checkout's results store ({made})"
    return f"{record['name']}: measured in this build ({made})"


def studies() -> dict[str, Study]:
    """Every study of `STUDY_MODULES`, by name."""
    out = {}
    for module in STUDY_MODULES:
        for item in vars(importlib.import_module(module)).values():
            if isinstance(item, Study):
                out[item.name] = item
    return out


def refresh(names: list[str] | None = None) -> list[Path]:
    """Measure the named studies (all when None) and commit them to `COMMITTED_DIR`, removing
    their stale files; returns the paths written."""
    registry = studies()
    written = []
    for name in names or sorted(registry):
        study = registry[name]
        study_key = key(study)
        path = COMMITTED_DIR / file_name(study, study_key)
        if not path.exists():
            _write(path, run(study, study_key))
        for old in COMMITTED_DIR.glob(f"{name}-*.json"):
            if old != path and old.stem.rsplit("-", 1)[0] == name:
                old.with_suffix(".safetensors").unlink(missing_ok=True)
                old.unlink()
        written.append(path)
    return written
