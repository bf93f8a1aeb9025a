"""Colab notebooks generated from the MyST lesson pages (`python -m fastgen_book notebooks`).

Colab opens `.ipynb` files only. Each page becomes `notebooks/<name>.ipynb` (no outputs), with a
first cell that installs fastgen when the notebook runs inside Colab and, on a GPU runtime,
fetches the SD v1.5 files. What only the book renders is rewritten: the links directive goes,
and each `{glue:text}` number reads as its name, printed by a `show(...)` cell under the
paragraph. A test keeps them in sync.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat

from fastgen_book.book.pages import LESSONS_DIR, REPO_ROOT, lesson_pages

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
INSTALL_CELL = """\
# Running in Google Colab? This installs fastgen and the libraries the lesson uses, and on a
# GPU runtime (Runtime > Change runtime type) downloads SD v1.5, its LCM-LoRA, a style LoRA and
# CLIP once (about 3 GB), so the Stable Diffusion cells run the real model.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "fastgen @ git+{repository_url}@{branch}"
    import torch

    if torch.cuda.is_available():
        from fastgen_book.sd.hub import fetch

        fetch("sd15")
    else:
        print("CPU runtime: the Stable Diffusion cells run tiny-sd, fastgen's small model.")\
"""
#: `{glue:text}`name`` or `{glue:text}`name:format``
GLUE_ROLE = re.compile(r"\{glue:text\}`([A-Za-z0-9_]+)(?::[^`]*)?`")
LINKS_DIRECTIVE = re.compile(r"```\{notebook-links\}\n```\n?")


def notebook_markdown(text: str) -> tuple[str, list[str]]:
    """A page's markdown as a notebook shows it: the links directive dropped, each glued number
    as its `name`; returns (text, the names, in order, once each)."""
    names = list(dict.fromkeys(GLUE_ROLE.findall(text)))
    return GLUE_ROLE.sub(r"`\1`", LINKS_DIRECTIVE.sub("", text)), names


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
    cells = [install]
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        cell.source, names = notebook_markdown(cell.source)
        if cell.source.strip():
            cells.append(cell)
        if names:
            quoted = ", ".join(f'"{n}"' for n in names)
            source = f"from fastgen_book.book.glue import show\n\nshow({quoted})"
            show = nbformat.v4.new_code_cell(source)
            show.metadata["tags"] = ["glued-values"]
            cells.append(show)
    nb.cells = cells
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
