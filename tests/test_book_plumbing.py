"""Unit tests for the book plumbing: cache keys, Plotly output, links. The Colab notebooks are
tested in test_run_paths.py."""

from __future__ import annotations

import shutil

import plotly.graph_objects as go
import pytest

from fastgen_book.book.pages import lesson_pages, read_page
from fastgen_book.book.plotly_mime import PLOTLY_MIME, PlotlyMimeRenderer, figure_html
from fastgen_book.book.source_hash import PACKAGE_DIR, page_hash, source_hash
from fastgen_book.book.sphinx_ext import (
    HASH_MARKER,
    _dedupe_scripts,
    add_source_hash,
    is_notebook_page,
)
from fastgen_book.viz import new_figure

HEADER = (
    "---\njupytext:\n  text_representation:\n    format_name: myst\n"
    "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n"
)
PAGE = HEADER + "\n# T\n\n```{code-cell} ipython3\n1 + 1\n```\n"


def test_hash_cell_is_added_once_and_only_to_notebook_pages():
    once = add_source_hash(PAGE, "abc")
    assert once.count(HASH_MARKER) == 1 and "abc" in once and ":tags: [remove-cell]" in once
    assert add_source_hash(once, "abc") == once
    plain = "# Just prose\n"
    assert not is_notebook_page(plain) and add_source_hash(plain, "abc") == plain


def test_source_hash_follows_package_content(tmp_path):
    pkg = tmp_path / "fastgen_book"
    shutil.copytree(PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before = source_hash(pkg)
    assert before == source_hash(pkg)
    module = pkg / "viz" / "theme.py"
    module.write_text(module.read_text() + "\n# a change\n")
    assert source_hash(pkg) != before


def test_a_package_change_misses_the_execution_cache(tmp_path):
    """jupyter-cache keys on cell sources; the hash cell makes a package change a source change."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from myst_nb.core.read import read_myst_markdown_notebook

    cache = get_cache(str(tmp_path / "cache"))
    nb_a = read_myst_markdown_notebook(add_source_hash(PAGE, "a" * 64))
    cache.cache_notebook_bundle(CacheBundleIn(nb_a, "page.md"), check_validity=False)
    assert cache.match_cache_notebook(read_myst_markdown_notebook(add_source_hash(PAGE, "a" * 64)))
    with pytest.raises(KeyError):
        cache.match_cache_notebook(read_myst_markdown_notebook(add_source_hash(PAGE, "b" * 64)))


def test_pages_are_read_with_the_current_hash():
    for page in lesson_pages():
        nb = read_page(page)
        assert page_hash(page.read_text()) in nb.cells[-1].source


def test_a_page_is_keyed_on_the_code_it_runs_and_nothing_else(tmp_path):
    """Per-page invalidation, both directions, on a copy of the package: a change to code or
    data a page runs changes its key; a change elsewhere in the package does not."""
    pkg = tmp_path / "fastgen_book"
    shutil.copytree(PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    texts = {p.stem: p.read_text() for p in lesson_pages()}

    def keys():
        return {name: page_hash(text, pkg) for name, text in texts.items()}

    def edit(relative: str, changes: set[str]):
        before = keys()
        path = pkg / relative
        path.write_bytes(path.read_bytes() + b"\n")
        after = keys()
        assert {n for n in texts if before[n] != after[n]} == changes, relative

    sd_pages = {"latent-consistency-and-turbo", "the-speed-landscape"}
    edit("sd/budget.py", sd_pages)  # SD code: not lesson 1
    edit("sd/weights/tiny-sd/card.json", sd_pages)  # a data file the SD code reads
    edit("viz/toy2d.py", {"consistency-models", "latent-consistency-and-turbo"})  # who draws
    edit("toy2d/metrics.py", set(texts))  # every page runs the toy stack
    edit("cli/commands.py", set())  # no page runs the command line
    edit("tinysd/loop.py", set())  # nor the factory that trained the shipped model


def test_figure_html_draws_without_inlining_plotly():
    fig = new_figure(title="t")
    fig.add_scatter(x=[1, 2], y=[3, 4])
    html = figure_html(fig.to_plotly_json())
    assert "Plotly.newPlot" in html and "fastgenPlotlyTheme" in html
    assert len(html) < 20_000, "plotly.js must be served once from _static, not inlined"


def test_mime_renderer_handles_plotly_only():
    class Data:
        def __init__(self, mime_type, content):
            self.mime_type, self.content = mime_type, content

    fig = go.Figure(go.Scatter(x=[0], y=[0]))
    nodes = PlotlyMimeRenderer.handle_mime(None, Data(PLOTLY_MIME, fig.to_plotly_json()), False)
    assert nodes and "Plotly.newPlot" in nodes[0].astext()
    assert PlotlyMimeRenderer.handle_mime(None, Data("text/plain", "x"), False) is None
    assert ("html", PLOTLY_MIME, 5) in PlotlyMimeRenderer.mime_priority_overrides


def test_theme_backgrounds_are_transparent_for_light_and_dark_pages():
    layout = new_figure().layout.template.layout
    assert layout.paper_bgcolor == "rgba(0,0,0,0)" and layout.plot_bgcolor == "rgba(0,0,0,0)"


def test_duplicate_inline_scripts_are_dropped():
    from sphinx.builders.html._assets import _JavaScript

    scripts = [
        _JavaScript(None, body="const A = 1"),
        _JavaScript("", body="const A = 1"),
        _JavaScript("x.js"),
    ]
    _dedupe_scripts(scripts)
    assert [s.filename for s in scripts] == [None, "x.js"]


def test_an_installed_package_keeps_its_outputs_in_the_user_cache(tmp_path, monkeypatch):
    from fastgen_book.paths import _build_dir

    (tmp_path / "checkout").mkdir()
    (tmp_path / "checkout" / "_config.yml").write_text("title: t\n")
    assert _build_dir(tmp_path / "checkout") == tmp_path / "checkout" / "_build"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert _build_dir(tmp_path / "site-packages") == tmp_path / "cache" / "fastgen"


def test_bench_build_times_cold_warm_and_the_slowest_cell(tmp_path):
    from fastgen_book.book.bench import PageTiming, format_row, run

    page = tmp_path / "timed.md"
    page.write_text(
        HEADER
        + "\n# T\n\n```{code-cell} ipython3\nx = 1\n```\n\n"
        + "```{code-cell} ipython3\nimport time\ntime.sleep(0.5)\n```\n"
    )
    result = run([page], progress=lambda line: None)
    (row,) = result["pages"]
    assert row["page"] == "timed" and row["cold_seconds"] >= 0.5
    assert row["slowest_cell"] == 2 and 0.5 <= row["slowest_seconds"] < row["cold_seconds"] + 1
    assert row["warm_seconds"] < row["cold_seconds"]
    assert row["cells"] == 3  # the two cells and the hash cell the build adds
    assert "2 of 3" in format_row(PageTiming(**row))


def test_page_kernels_start_with_a_short_openmp_spin(tmp_path, monkeypatch):
    """A page kernel sharing 2 cores with a second torch job must not spend its time slices
    spinning in OpenMP (`fastgen_book.book.kernel_env`): the kernel sees GOMP_SPINCOUNT, and an
    author's own value is kept."""
    from fastgen_book.book.kernel_env import SPIN_COUNT
    from fastgen_book.book.pages import execute_page

    page = tmp_path / "page.md"
    page.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
        "# A page\n\n```{code-cell} ipython3\nimport os\nprint(os.environ.get('GOMP_SPINCOUNT'))\n"
        "```\n"
    )
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    executed = execute_page(page, cache_path=None)
    printed = [o["text"] for c in executed.notebook.cells for o in c.get("outputs", [])]
    assert printed == [f"{SPIN_COUNT}\n"]
    monkeypatch.setenv("GOMP_SPINCOUNT", "42")
    executed = execute_page(page, cache_path=None)
    assert [o["text"] for c in executed.notebook.cells for o in c.get("outputs", [])] == ["42\n"]


def test_the_readability_report_sees_what_a_reader_sees():
    """Hidden cells do not count; plumbing and sentence tables in visible ones do; prose
    leaves code cells and tables out and counts the numbers glued into it."""
    from fastgen_book.book.readability import PLUMBING, SENTENCE_TABLE, code_cells, prose

    page = (
        HEADER + "```{code-cell} ipython3\n:tags: [remove-cell]\nglue('x', 1)\n```\n"
        "```{code-cell} ipython3\nr = run(3)\nr.figure()\n```\n"
    )
    hidden, shown = code_cells(page)
    assert not hidden.visible and hidden.lines == ("glue('x', 1)",)
    assert shown.visible and shown.lines == ("r = run(3)", "r.figure()")
    assert PLUMBING.search("claim('a', True)") and not PLUMBING.search("r.figure()")
    assert SENTENCE_TABLE.match('    "within the noise of": "..."')
    html = (
        "<article><p>It took <strong>12.5</strong> ms, 3% less.</p>"
        "<div class='cell'><pre>99 99 99</pre></div><table><td>7</td></table></article>"
    )
    from bs4 import BeautifulSoup

    text = prose(BeautifulSoup(html, "html.parser"))
    assert "99" not in text and "7" not in text and "12.5" in text
