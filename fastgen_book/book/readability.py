"""`python -m fastgen_book bench pages`: what a reader meets on each lesson page, against the
bounds the book holds itself to (a page is a lesson, not a report).

Read from two places: the page's source for its code cells (which a reader sees, how long they
are, whether they call the book's plumbing) and the built HTML for its prose (the words and the
numbers a reader reads, glued values included, with code cells, tables and figures left out:
those carry numbers by design).
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from fastgen_book.book.pages import lesson_pages
from fastgen_book.paths import BUILD_DIR

#: the most prose words each page may have
MAX_WORDS = {
    "consistency-models": 3200,
    "latent-consistency-and-turbo": 3500,
    "the-speed-landscape": 3000,
}
MIN_WORDS_PER_NUMBER = 40  # at most one number per 40 words of prose
MAX_MEDIAN_LINES = 5  # visible code cells: median length
MAX_LINES = 12  # visible code cells: longest
MAX_COLUMNS = 80  # code and output lines fit the code box
#: calls that check or publish the book, which a reader should not see
PLUMBING = re.compile(r"\b(glue|glue_values|claim|provenance|describe)\s*\(")
#: a dictionary of sentences keyed on a comparison's verdict: prose written in code
SENTENCE_TABLE = re.compile(r'^\s*"(higher than|lower than|within the noise of)"\s*:')
_HIDDEN = ("remove-cell", "remove-input")
_NUMBER = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(\.\d+)?\s*%?(?![\w])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d[\d,.]*")


@dataclass(frozen=True)
class Cell:
    """A code cell of a page's source: its code lines (options left out) and its tags."""

    lines: tuple[str, ...]
    tags: tuple[str, ...]

    @property
    def visible(self) -> bool:
        return not any(t in self.tags for t in _HIDDEN)


@dataclass(frozen=True)
class PageReport:
    """What one page puts before its reader."""

    page: str
    words: int  # prose words in the built page
    numbers: int  # numbers in that prose
    visible_cells: int
    median_lines: float  # of the visible code cells
    max_lines: int
    wide_lines: int  # visible code and output lines over MAX_COLUMNS
    plumbing: int  # plumbing calls and sentence tables in visible cells

    @property
    def words_per_number(self) -> float:
        return self.words / self.numbers if self.numbers else float("inf")

    def failures(self) -> list[str]:
        """Each bound the page misses, in words (empty when it meets them all)."""
        out = []
        if self.words > MAX_WORDS[self.page]:
            out.append(f"{self.words} prose words (at most {MAX_WORDS[self.page]})")
        if self.words_per_number < MIN_WORDS_PER_NUMBER:
            out.append(
                f"a number every {self.words_per_number:.0f} words (at most one per "
                f"{MIN_WORDS_PER_NUMBER})"
            )
        if self.median_lines > MAX_MEDIAN_LINES:
            out.append(
                f"median visible cell {self.median_lines:g} lines (at most {MAX_MEDIAN_LINES})"
            )
        if self.max_lines > MAX_LINES:
            out.append(f"a visible cell of {self.max_lines} lines (at most {MAX_LINES})")
        if self.wide_lines:
            out.append(f"{self.wide_lines} lines wider than {MAX_COLUMNS} columns")
        if self.plumbing:
            out.append(f"{self.plumbing} plumbing calls or sentence tables in visible cells")
        return out


def code_cells(text: str) -> list[Cell]:
    """The code cells of a MyST page, in order, as myst-nb reads them."""
    from myst_nb.core.read import read_myst_markdown_notebook

    nb = read_myst_markdown_notebook(text)
    return [
        Cell(tuple(c.source.splitlines()), tuple(c.metadata.get("tags", ())))
        for c in nb.cells
        if c.cell_type == "code"
    ]


def prose(soup) -> str:
    """The text a reader reads in a built page's article (a BeautifulSoup tree, which this
    edits): paragraphs, lists, headings and notes, without code cells, tables, figures and
    the page's navigation."""
    article = soup.find("article") or soup
    for junk in article.select(
        "div.cell, table, figure, .plotly-graph-div, script, style, .headerlink, "
        ".notebook-links, .toctree-wrapper, div.highlight, pre"
    ):
        junk.decompose()
    return article.get_text(" ")


def output_lines(soup) -> list[str]:
    """The lines of every text output of the built page's code cells."""
    return [
        line for pre in soup.select("div.cell_output pre") for line in pre.get_text().splitlines()
    ]


def report(page: Path, html_dir: Path) -> PageReport:
    """Measure one page: its source, and its built HTML under `html_dir`."""
    built = html_dir / "lessons" / f"{page.stem}.html"
    if not built.exists():
        raise FileNotFoundError(f"{built} is missing: build the book first (`make book`)")
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(built.read_text(), "html.parser")
    outputs = output_lines(soup)
    text = prose(soup)  # after the outputs: it removes the cells
    visible = [c for c in code_cells(page.read_text()) if c.visible]
    sizes = [len([x for x in c.lines if x.strip()]) for c in visible] or [0]
    code = [x for c in visible for x in c.lines]
    wide = [x for x in code + outputs if len(x.rstrip()) > MAX_COLUMNS]
    plumbing = sum(len(PLUMBING.findall(x)) + bool(SENTENCE_TABLE.match(x)) for x in code)
    return PageReport(
        page=page.stem,
        words=len(_WORD.findall(text)),
        numbers=len(_NUMBER.findall(text)),
        visible_cells=len(visible),
        median_lines=statistics.median(sizes),
        max_lines=max(sizes),
        wide_lines=len(wide),
        plumbing=plumbing,
    )


def table(reports: list[PageReport]) -> str:
    """The reports as a plain-text table, with each page's missed bounds under it."""
    head = (
        f"{'page':<30} {'words':>6} {'words/number':>12} {'cells':>5} {'median':>6} "
        f"{'max':>4} {'wide':>5} {'plumbing':>8}"
    )
    rows = [head]
    for r in reports:
        rows.append(
            f"{r.page:<30} {r.words:>6} {r.words_per_number:>12.1f} {r.visible_cells:>5} "
            f"{r.median_lines:>6g} {r.max_lines:>4} {r.wide_lines:>5} {r.plumbing:>8}"
        )
        rows += [f"    misses: {f}" for f in r.failures()]
    return "\n".join(rows)


def main(json_path: Path | None = None, html_dir: Path | None = None) -> int:
    """Print the table for every lesson page; exit status 1 when a page misses a bound."""
    reports = [report(p, html_dir or BUILD_DIR / "html") for p in lesson_pages()]
    print(table(reports))
    if json_path is not None:
        json_path.write_text(json.dumps([asdict(r) for r in reports], indent=2) + "\n")
    return 1 if any(r.failures() for r in reports) else 0
