"""Lesson pages as notebooks: read a MyST page the way the book build does, execute it with a
report that names the page and the failing cell, and warm the build's execution cache.

The book build (myst-nb, `execute_notebooks: cache`) and the test suite share one jupyter-cache,
so a page that the tests executed is not executed again by `make book`, and vice versa.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from fastgen_book.book.kernel_env import prepare_kernel_env
from fastgen_book.book.source_hash import page_hash
from fastgen_book.book.sphinx_ext import add_source_hash
from fastgen_book.paths import BUILD_DIR, REPO_ROOT

LESSONS_DIR = REPO_ROOT / "lessons"
DEFAULT_CACHE = BUILD_DIR / ".jupyter_cache"
#: Seconds a single cell may run (the same limit as `execute.timeout` in _config.yml).
CELL_TIMEOUT = 600


class PageExecutionError(RuntimeError):
    """A cell of a lesson page raised; the message names the page, the cell and the error."""


@dataclass(frozen=True)
class ExecutedPage:
    """A page that ran to the end."""

    path: Path
    notebook: nbformat.NotebookNode
    seconds: float
    from_cache: bool
    #: each code cell's run time, when executed with `record_timing`
    cell_seconds: tuple[float, ...] = ()


def lesson_pages() -> list[Path]:
    """The MyST lesson pages, in file-name order."""
    return sorted(LESSONS_DIR.glob("*.md"))


def read_page(path: Path | str) -> nbformat.NotebookNode:
    """The notebook myst-nb builds from a page, hash cell included (so cache keys agree)."""
    from myst_nb.core.read import read_myst_markdown_notebook

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    text = add_source_hash(text, page_hash(text))
    return read_myst_markdown_notebook(text, path=path)


def _failing_cell(nb: nbformat.NotebookNode) -> tuple[int, str]:
    """(number among code cells, source) of the cell whose output is an error."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return number, cell.source
    return 0, ""


def _pop_cell_seconds(nb: nbformat.NotebookNode) -> tuple[float, ...]:
    """Each code cell's run time from nbclient's timing metadata, which is then removed:
    jupyter-cache hashes cell metadata, and a cached page must match the page as read."""
    from datetime import datetime

    def when(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    out = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            timing = cell.metadata.pop("execution", {})
            start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
            out.append((when(end) - when(start)).total_seconds() if start and end else 0.0)
    return tuple(out)


def execute_page(
    path: Path | str,
    cache_path: Path | str | None = DEFAULT_CACHE,
    record_timing: bool = False,
) -> ExecutedPage:
    """Execute a lesson page top to bottom in a fresh kernel, using and filling the cache;
    `record_timing` measures each cell's run time (`ExecutedPage.cell_seconds`).

    Raises PageExecutionError naming the page, the code cell (1-based) and the traceback.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    path = Path(path).resolve()
    nb = read_page(path)
    cache = get_cache(str(cache_path)) if cache_path is not None else None
    if cache is not None:
        try:
            record = cache.match_cache_notebook(nb)
        except KeyError:
            record = None
        if record is not None:
            _, merged = cache.merge_match_into_notebook(nb)
            return ExecutedPage(path, merged, record.data.get("execution_seconds", 0.0), True)

    prepare_kernel_env()
    result = single_nb_execution(
        nb,
        cwd=str(path.parent),
        timeout=CELL_TIMEOUT,
        allow_errors=False,
        meta_override=True,
        record_timing=record_timing,
    )
    if result.err is not None:
        number, source = _failing_cell(nb)
        where = f"code cell {number}" if number else "a cell"
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        raise PageExecutionError(
            f"{shown}: {where} raised "
            f"{result.err.__class__.__name__}\n--- cell source ---\n{source}\n"
            f"--- traceback ---\n{result.exc_string}"
        )
    cell_seconds = _pop_cell_seconds(nb) if record_timing else ()
    if cache is not None:
        cache.cache_notebook_bundle(
            CacheBundleIn(nb, str(path), data={"execution_seconds": result.time}),
            check_validity=False,
            overwrite=True,
        )
    return ExecutedPage(path, nb, result.time, False, cell_seconds)
