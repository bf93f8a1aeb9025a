"""The whole book: it builds with warnings as errors, reuses the cache, draws in a browser, and a
broken page fails the build loudly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT, run_build
from test_book_plumbing import HEADER

from fastgen_book.book import readability
from fastgen_book.book.pages import lesson_pages
from fastgen_book.book.site_check import check_site

pytestmark = pytest.mark.book


def test_book_builds_from_the_cache_the_page_tests_filled(built_book):
    html, log = built_book
    for page in lesson_pages():
        assert (html / "lessons" / f"{page.stem}.html").exists()
    # The page tests ran first and filled the cache: an unchanged build executes nothing.
    assert "Executing notebook" not in log, log[-4000:]
    assert (html / "_static" / "plotly.min.js").exists()


def test_the_built_links_open_this_release_in_colab_and_name_its_repository(built_book):
    from fastgen_book.book.release import release

    html, _ = built_book
    published = release()
    for page in lesson_pages():
        text = (html / "lessons" / f"{page.stem}.html").read_text()
        assert f'href="{published.colab_url(f"notebooks/{page.stem}.ipynb")}"' in text
        assert f'href="{published.repository}"' in text  # the repository button


#: pages not yet rewritten as lessons (issue 35); a strict xfail, so a page that meets every
#: bound fails here until it leaves this set
NOT_YET_READABLE = {"consistency-models", "latent-consistency-and-turbo", "the-speed-landscape"}


def _readable(page):
    if page.stem in NOT_YET_READABLE:
        return pytest.param(page, marks=pytest.mark.xfail(strict=True, reason="issue 35"))
    return page


@pytest.mark.parametrize("page", [_readable(p) for p in lesson_pages()], ids=lambda p: p.stem)
def test_a_page_reads_as_a_lesson(built_book, page):
    """Prose length, numbers per word, visible cell lengths and widths, no plumbing on show
    (`python -m fastgen_book bench pages` prints the same table)."""
    html, _ = built_book
    misses = readability.report(page, html).failures()
    assert not misses, f"{page.stem}: " + "; ".join(misses)


def test_every_page_reads_right_in_a_browser(built_book, tmp_path):
    html, _ = built_book
    reports = check_site(html, screenshot_dir=tmp_path / "shots")
    problems = {r.path: r.problems for r in reports if r.problems}
    assert not problems, problems
    charts = {r.path: r.charts for r in reports}
    for page in lesson_pages():
        assert charts[f"lessons/{page.stem}.html"] >= 1, f"{page.name} shows no chart"
    assert "book/intro.html" in charts


def _tiny_book(tmp_path: Path, cell: str) -> Path:
    """A one-page book with the real configuration and the given code cell."""
    book = tmp_path / "book"
    (book / "book").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "_config.yml", book / "_config.yml")
    shutil.copy(REPO_ROOT / "book" / "references.bib", book / "book" / "references.bib")
    (book / "book" / "_static").mkdir()
    (book / "_toc.yml").write_text("format: jb-book\nroot: broken\n")
    (book / "broken.md").write_text(
        HEADER
        + "\n# Broken\n\n```{code-cell} ipython3\nx = 1\n```\n\n"
        + f"```{{code-cell}} ipython3\n{cell}\n```\n"
    )
    return book


def test_a_raising_cell_fails_the_build_and_names_page_cell_and_traceback(tmp_path):
    book = _tiny_book(tmp_path, "def explode():\n    return 1 / 0\n\nexplode()")
    result = run_build(book)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "broken.md" in log and "explode()" in log and "ZeroDivisionError" in log
    assert "Traceback" in log or "----> " in log


def test_a_dropped_output_fails_the_build(tmp_path):
    cell = (
        "from IPython.display import display\n"
        "display({'application/x-not-renderable': 'lost'}, raw=True)"
    )
    result = run_build(_tiny_book(tmp_path, cell))
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "unknown output mime type" in log


def test_make_book_uses_the_flags_the_tests_build_with():
    """`make book` must fail as loudly as the test build does (and re-read every page)."""
    from conftest import BUILD_FLAGS

    line = next(
        ln for ln in (REPO_ROOT / "Makefile").read_text().splitlines() if "jupyter-book build" in ln
    )
    assert set(BUILD_FLAGS) <= set(line.split()), line


def test_a_warning_or_machine_path_in_an_output_fails_the_site_check(tmp_path):
    """The build passes such a page (stderr is shown, not an error); the site check does not."""
    cell = (
        "import sys, warnings\n"
        "warnings.warn('something the reader should not see')\n"
        "print(sys.executable)"
    )
    book = _tiny_book(tmp_path, cell)
    result = run_build(book)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    (report,) = [r for r in check_site(book / "_build" / "html") if r.path == "broken.html"][:1]
    text = " ".join(report.problems)
    assert "stderr in cell outputs" in text and "UserWarning" in text
    assert "the build machine's paths" in text
