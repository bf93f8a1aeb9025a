"""Colab notebooks generated from the MyST lesson pages (`python -m fastgen notebooks`).

Colab opens `.ipynb` files only. Each page becomes `notebooks/<name>.ipynb` (no outputs), with a
first cell that installs fastgen when the notebook runs inside Colab. A test keeps them in sync.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat

from fastgen.book.pages import LESSONS_DIR, REPO_ROOT, lesson_pages

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
INSTALL_CELL = """\
# Running in Google Colab? This installs fastgen and the libraries the lesson uses.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "fastgen @ git+{repository_url}@{branch}"\
"""


def repository() -> tuple[str, str]:
    """(url, branch) from `_config.yml`, the one place the repository is named."""
    import yaml

    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config.get("repository", {})
    return repo["url"], repo.get("branch", "main")


def page_to_notebook(page: Path) -> nbformat.NotebookNode:
    """The Colab notebook for one page: its cells, no outputs, an install cell first."""
    nb = jupytext.read(page, fmt="md:myst")
    url, branch = repository()
    install = nbformat.v4.new_code_cell(INSTALL_CELL.format(repository_url=url, branch=branch))
    install.metadata["tags"] = ["colab-setup"]
    nb.cells.insert(0, install)
    nb.metadata.pop("jupytext", None)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # stable ids keep the generated files diff-free
    return nb


def notebook_path(page: Path) -> Path:
    """Where the generated notebook of a page lives."""
    return NOTEBOOKS_DIR / page.relative_to(LESSONS_DIR).with_suffix(".ipynb")


def render(page: Path) -> str:
    """The generated notebook's file content."""
    return nbformat.writes(page_to_notebook(page)) + "\n"


def write_all() -> list[Path]:
    """(Re)generate every lesson's notebook; returns the paths written."""
    NOTEBOOKS_DIR.mkdir(exist_ok=True)
    written = []
    for page in lesson_pages():
        target = notebook_path(page)
        target.write_text(render(page), encoding="utf-8")
        written.append(target)
    return written


def stale() -> list[Path]:
    """Notebooks missing or out of date with their page."""
    return [
        notebook_path(p)
        for p in lesson_pages()
        if not notebook_path(p).exists()
        or notebook_path(p).read_text(encoding="utf-8") != render(p)
    ]
