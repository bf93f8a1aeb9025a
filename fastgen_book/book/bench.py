"""`python -m fastgen_book bench build`: how long each lesson page takes to execute from a cold
cache (trained toy models from the model store, as a rebuild has them), how long it takes to
come back from the cache, and its slowest cell; printed as a table, optionally as JSON."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fastgen_book.book.pages import execute_page, lesson_pages
from fastgen_book.runinfo import describe


@dataclass(frozen=True)
class PageTiming:
    """One page's execution times (seconds)."""

    page: str
    cold_seconds: float
    warm_seconds: float
    cells: int
    slowest_cell: int  # 1-based, among code cells
    slowest_seconds: float


def time_page(page: Path, cache_dir: Path) -> PageTiming:
    """Execute `page` into an empty cache at `cache_dir`, then read it back from there."""
    cold = execute_page(page, cache_path=cache_dir, record_timing=True)
    start = time.perf_counter()
    warm = execute_page(page, cache_path=cache_dir)
    warm_seconds = time.perf_counter() - start
    if not warm.from_cache:
        raise RuntimeError(
            f"{page.name} missed the cache it was just executed into: did the fastgen code "
            f"it runs change during the benchmark?"
        )
    seconds = cold.cell_seconds
    slowest = max(range(len(seconds)), key=seconds.__getitem__)
    return PageTiming(
        page.stem, cold.seconds, warm_seconds, len(seconds), slowest + 1, seconds[slowest]
    )


def run(pages: list[Path] | None = None, progress=print) -> dict:
    """Every page (default: all lessons), each into its own empty cache."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="fastgen-bench-build-") as tmp:
        for page in pages or lesson_pages():
            rows.append(time_page(Path(page), Path(tmp) / Path(page).stem))
            progress(format_row(rows[-1]))
    return {
        "machine": describe(),
        "pages": [asdict(r) for r in rows],
        "cold_total_seconds": sum(r.cold_seconds for r in rows),
        "warm_total_seconds": sum(r.warm_seconds for r in rows),
    }


HEADER = f"{'page':<30} {'cold s':>8} {'warm s':>7} {'slowest cell':>13} {'its s':>7}"


def format_row(row: PageTiming) -> str:
    return (
        f"{row.page:<30} {row.cold_seconds:>8.1f} {row.warm_seconds:>7.2f} "
        f"{f'{row.slowest_cell} of {row.cells}':>13} {row.slowest_seconds:>7.1f}"
    )


def main(json_path: Path | None, pages: list[Path] | None = None) -> int:
    print(HEADER, flush=True)
    result = run(pages, progress=lambda line: print(line, flush=True))
    print(
        f"{'all pages':<30} {result['cold_total_seconds']:>8.1f} "
        f"{result['warm_total_seconds']:>7.2f}"
    )
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {json_path}")
    return 0
