"""Content hashes of fastgen's source, so that a code change invalidates cached page runs: of
the whole package, or (what keys a page) of just the modules a page runs and their data."""

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


def digest(files: list[Path], root: Path = PACKAGE_DIR) -> str:
    """SHA-256 over the relative paths and bytes of `files`."""
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def source_hash(root: Path = PACKAGE_DIR) -> str:
    """The digest of every source file of the package."""
    return digest(package_files(root), root)


def page_files(text: str, root: Path = PACKAGE_DIR) -> list[Path]:
    """The files whose content can change what a page computes: every module its code imports,
    directly or not (`fastgen_book.book.imports`), and the data files (weights, configs) under the
    folder of each package those modules belong to (e.g. fastgen_book/sd/weights for
    fastgen_book.sd)."""
    from fastgen_book.book.imports import closure, import_graph, module_files, page_imports

    graph = import_graph(root)
    modules = closure(page_imports(text, graph), graph)
    files = module_files(root)
    folders = {files[m].parent for m in modules} - {root}
    data = {
        p for p in package_files(root) if p.suffix != ".py" and any(f in p.parents for f in folders)
    }
    return sorted({files[m] for m in modules} | data)


def page_hash(text: str, root: Path = PACKAGE_DIR) -> str:
    """The digest of `page_files(text)`: what keys the page's execution cache."""
    return digest(page_files(text, root), root)
