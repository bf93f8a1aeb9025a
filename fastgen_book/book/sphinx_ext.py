"""Sphinx extension for the fastgen book (listed in `_config.yml` under `sphinx.extra_extensions`).

It closes three traps of Jupyter Book 1:

* **Stale cache.** jupyter-cache keys on cell sources only, so a change to `fastgen` would not
  re-execute the pages that use it. On `source-read` every notebook page gets one more hidden
  cell holding the hash of the fastgen code that page runs (`source_hash.page_hash`: the
  modules it imports, directly or not, and their data): a change to that code is a changed
  notebook, and a change elsewhere in the package leaves the page's cache entry valid.
* **Plotly offline.** `plotly.min.js` is written once into `_static` and loaded only by the pages
  that hold a chart (never inlined per figure, never from a CDN); `fastgen-plotly.js` gives the
  charts the page's light/dark colours.
* **Download and launch.** The `notebook-links` directive links the executed `.ipynb` of the
  page and opens the generated notebook (`notebooks/<name>.ipynb`) in Colab, at the release's
  tag (`release.Release`).
"""

from __future__ import annotations

import os
from pathlib import Path

from docutils import nodes
from sphinx.addnodes import download_reference
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from fastgen_book.book.kernel_env import prepare_kernel_env
from fastgen_book.book.release import Release, version
from fastgen_book.book.source_hash import page_hash

STATIC_DIR = Path(__file__).with_name("static")
HASH_MARKER = "# fastgen source sha256:"
PLOTLY_JS = "plotly.min.js"


def is_notebook_page(text: str) -> bool:
    """True for a MyST notebook page, by the same test myst-nb applies (front matter)."""
    from myst_nb.core.read import is_myst_markdown_notebook

    return is_myst_markdown_notebook(text)


def hash_cell(digest: str) -> str:
    """The hidden code cell appended to every notebook page (keys the execution cache)."""
    return (
        "\n\n```{code-cell} ipython3\n:tags: [remove-cell]\n\n"
        f"{HASH_MARKER} {digest} (added by fastgen_book.book.sphinx_ext)\n```\n"
    )


def add_source_hash(text: str, digest: str) -> str:
    """Return `text` with the hash cell appended when it is a notebook page."""
    if not is_notebook_page(text) or HASH_MARKER in text:
        return text
    return text.rstrip("\n") + hash_cell(digest)


def _on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if is_notebook_page(source[0]):
        source[0] = add_source_hash(source[0], page_hash(source[0]))


def _page_has_plotly(doctree: nodes.document | None) -> bool:
    if doctree is None:
        return False
    return any("Plotly.newPlot" in node.astext() for node in doctree.findall(nodes.raw))


def _dedupe_scripts(scripts: list) -> None:
    """Drop repeated inline scripts, in place.

    Sphinx 7.4 registers an inline script added by an extension (`add_js_file(None, body=...)`)
    once with filename None and once more with filename '' when it prepares writing, so every
    page declared sphinx-thebe's `const THEBE_JS_URL` twice: a JavaScript error on every page.
    """
    seen = set()
    unique = []
    for js in scripts:
        key = (js.filename or "", js.priority, tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def _on_html_page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if _page_has_plotly(doctree):
        # Called from html-page-context, this adds the script to this page only.
        app.add_js_file(PLOTLY_JS, priority=400)
    _dedupe_scripts(context["script_files"])


def _on_build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from plotly.offline import get_plotlyjs

    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    (static / PLOTLY_JS).write_text(get_plotlyjs(), encoding="utf-8")


class NotebookLinks(SphinxDirective):
    """`{notebook-links}`: download the executed notebook, or open the page in Colab."""

    has_content = False

    def run(self):
        env = self.env
        docname = env.docname
        name = Path(docname).name
        # myst-nb writes each executed notebook to <outdir>/../jupyter_execute/<docname>.ipynb.
        executed = Path(env.mystnb_config.output_folder) / f"{docname}.ipynb"
        download = download_reference(
            "",
            "",
            reftarget="/" + os.path.relpath(executed, env.srcdir),
            refdoc=docname,
        )
        download += nodes.literal("", f"{name}.ipynb", classes=["download"])
        # Jupyter Book hands `repository.url` of _config.yml to the theme: the one setting
        # that also names the repository button and the notebooks' install (`release`).
        published = Release(self.config.html_theme_options.get("repository_url", ""), version())
        url = published.colab_url(f"notebooks/{name}.ipynb")
        colab = nodes.reference("", "Open in Colab", refuri=url, classes=["fastgen-colab"])
        para = nodes.paragraph(classes=["fastgen-notebook-links"])
        para += [
            nodes.Text("Run this page yourself: download the executed notebook "),
            download,
            nodes.Text(" or "),
            colab,
            nodes.Text("."),
        ]
        return [para]


def setup(app: Sphinx) -> dict:
    prepare_kernel_env()  # before myst-nb launches a page's kernel
    app.connect("source-read", _on_source_read)
    app.connect("html-page-context", _on_html_page_context)
    app.connect("build-finished", _on_build_finished)
    app.add_directive("notebook-links", NotebookLinks)

    def _add_static(app: Sphinx) -> None:
        app.config.html_static_path.append(str(STATIC_DIR))

    app.connect("builder-inited", _add_static)
    app.add_js_file("fastgen-plotly.js")
    app.add_css_file("fastgen-plotly.css")
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
