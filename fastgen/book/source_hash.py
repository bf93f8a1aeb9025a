"""A content hash of the fastgen package, so that a code change invalidates cached page runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: What counts as source: code and the data files that change what a page computes.
SOURCE_SUFFIXES = (".py", ".json", ".txt", ".safetensors")


def package_files(root: Path = PACKAGE_DIR) -> list[Path]:
    """Every file of the package whose content can change what a page computes, sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts
    )


def source_hash(root: Path = PACKAGE_DIR) -> str:
    """SHA-256 over the relative paths and bytes of the package's source files."""
    h = hashlib.sha256()
    for path in package_files(root):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()
