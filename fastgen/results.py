"""Measurements stored once, with the record of what produced them, and loaded by every page or
test that asks for the same one.

A `Study` is a named function and its config. Its key covers the name, the config and the
source of every fastgen module the function's module runs (read with `fastgen.book.imports`),
so an edit to that code changes the key and a stale result is never read: it is measured again.
`measure` looks first in the committed folder `fastgen/measurements/` (shipped with the package
and refreshed by `python -m fastgen results refresh`, for measurements too slow for a page
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

from fastgen import atomic, runinfo
from fastgen.paths import BUILD_DIR

PACKAGE_DIR = Path(__file__).resolve().parent
COMMITTED_DIR = PACKAGE_DIR / "measurements"
#: Modules that define the studies `python -m fastgen results` lists and refreshes.
STUDY_MODULES = ("fastgen.toy2d.studies",)


@dataclass(frozen=True)
class Study:
    """A measurement: `run(**config)` returns a JSON-able dict."""

    name: str
    run: Callable[..., dict]
    config: Mapping = field(default_factory=dict)
    what: str = ""


def results_dir() -> Path:
    """Where measurements made by a build live: $FASTGEN_RESULTS_DIR, else `_build/results`."""
    return Path(os.environ.get("FASTGEN_RESULTS_DIR", BUILD_DIR / "results"))


def key(study: Study) -> str:
    """SHA-256 (first 16 hex digits) of the study's name, config and code."""
    from fastgen.book.imports import code_files
    from fastgen.book.source_hash import digest

    h = hashlib.sha256()
    h.update(study.name.encode())
    h.update(json.dumps(dict(study.config), sort_keys=True).encode())
    h.update(digest(code_files(study.run.__module__)).encode())
    return h.hexdigest()[:16]


def file_name(study: Study, study_key: str | None = None) -> str:
    return f"{study.name}-{study_key or key(study)}.json"


def stored(study: Study, study_key: str | None = None) -> tuple[dict, str] | None:
    """(the stored record, 'committed' or 'build') for the study's current key, or None."""
    name = file_name(study, study_key)
    for folder, where in ((COMMITTED_DIR, "committed"), (results_dir(), "build")):
        path = folder / name
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8")), where
    return None


def run(study: Study, study_key: str | None = None) -> dict:
    """Run the study now; its record (result, config, key, seconds, what ran it)."""
    start = time.perf_counter()
    result = study.run(**study.config)
    return {
        "name": study.name,
        "what": study.what,
        "key": study_key or key(study),
        "config": dict(study.config),
        "seconds": round(time.perf_counter() - start, 1),
        **runinfo.record(),
        "result": result,
    }


def measure(study: Study) -> dict:
    """The study's record: stored if its key is, else measured now and stored in the build.
    `record["source"]` says which: 'committed', 'build' or 'measured now'."""
    study_key = key(study)  # hashes the code the study runs: once per call
    found = stored(study, study_key)
    if found is not None:
        record, where = found
        return {**record, "source": where}
    record = run(study, study_key)
    atomic.write_json(results_dir() / file_name(study, study_key), record)
    return {**record, "source": "measured now"}


def provenance(record: dict) -> str:
    """One line saying where a record came from and what produced it."""
    made = (
        f"{record['seconds']:.0f} s on {record['machine']} with {record['threads']} torch "
        f"threads, torch {record['torch']}, {record['created'][:10]}"
    )
    if record.get("source") == "committed":
        return (
            f"{record['name']}: the committed measurement fastgen/measurements/"
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
            atomic.write_json(path, run(study, study_key))
        for old in COMMITTED_DIR.glob(f"{name}-*.json"):
            if old != path and old.stem.rsplit("-", 1)[0] == name:
                old.unlink()
        written.append(path)
    return written
