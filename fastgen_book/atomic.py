"""Files written whole or not at all: into a temporary file beside the target, then renamed
(`os.replace` is atomic on one file system), so an interrupted run leaves nothing half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically, creating its folder; returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically, creating its folder; returns `path`."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj) -> Path:
    """`obj` as indented JSON (keys sorted, so reruns diff cleanly), written atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
