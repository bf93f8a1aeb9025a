"""Colab notebooks generated from the MyST lesson pages (`python -m fastgen_book notebooks`).

Colab opens `.ipynb` files only. Each page becomes `notebooks/<name>.ipynb` (no outputs) with a
first cell that, inside Colab, installs this release of the package (`release.Release`) and, for
a page with Stable Diffusion cells on a GPU runtime, fetches SD v1.5's files
(`fastgen_book.sd.hub.prepare_gpu_tier`). What only the book renders becomes plain notebook
markdown: citations read "(Luo et al., 2023)", directives become headings, quotes and
collapsible blocks, and a paragraph that quotes measured values becomes a cell that prints the
paragraph with this run's numbers in it (`glue.paragraph`). A test keeps the notebooks in sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jupytext
import nbformat

from fastgen_book.book.glue import PLACEHOLDER
from fastgen_book.book.imports import closure, import_graph, page_imports
from fastgen_book.book.pages import LESSONS_DIR, REPO_ROOT, lesson_pages
from fastgen_book.book.release import Release, release

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
BIBLIOGRAPHY = REPO_ROOT / "book" / "references.bib"

SETUP_CELL = """\
# In Google Colab this cell installs fastgen-book, the package this lesson calls, at the
# release the notebook was made for.{gpu_note} Elsewhere it does nothing.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "{requirement}"\
"""
GPU_NOTE = """ On a GPU runtime (Runtime > Change runtime
# type) it then downloads SD v1.5, its LCM-LoRA, a style LoRA and CLIP once (about 3 GB), so the
# Stable Diffusion cells run the real model; without a GPU, or if the download fails, they run
# tiny-sd, the book's small model."""
GPU_SETUP = """
    from fastgen_book.sd.hub import prepare_gpu_tier

    prepare_gpu_tier()\
"""
PARAGRAPH_CELL = '''\
# @title {title} { display-mode: "form" }
from fastgen_book.book.glue import paragraph

paragraph(r"""
{text}
""")\
'''

#: `{glue:text}`name`` or `{glue:text}`name:format``
GLUE_ROLE = re.compile(r"\{glue:text\}`([A-Za-z0-9_]+)(?::([^`]*))?`")
CITE_ROLE = re.compile(r"\{cite:([pt])\}`([^`]+)`")
DOC_ROLE = re.compile(r"\{doc\}`([^`]+)`")
REF_ROLE = re.compile(r"\{ref\}`([^`]+)`")
FENCE_OPEN = re.compile(r"^(`{3,}|:{3,})\{([\w-]+)\}[ \t]*(.*)$")
OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")
#: the fences around an exercise's solution, which may span markdown and code cells
SOLUTION_FENCE = re.compile(
    r"^(`{3,})\{solution-(start|end)\}[^\n]*\n(?::[^\n]*\n)*\1[ \t]*$", re.M
)
SOLUTION_TITLE = '# @title Solution { display-mode: "form" }'
#: what no notebook may show: MyST roles and directives, glue names
MYST_LEFTOVER = re.compile(r"\{(cite|glue|doc|ref)[:}]|^(`{3,}|:{3,})\{", re.M)


# ---- citations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One entry of `book/references.bib` as the notebooks cite it."""

    who: str  # 'Luo et al.'
    year: str  # '2023a' when the same authors have two works that year
    title: str
    url: str


@cache
def _bibliography() -> dict[str, Reference]:
    """Citation key -> Reference, from `book/references.bib`; works that would cite alike
    (same first author and year) get a, b, ... in the file's order."""
    from pybtex.database import parse_file

    entries = parse_file(str(BIBLIOGRAPHY)).entries
    labels = {}
    for key, entry in entries.items():
        people = entry.persons.get("author", [])
        names = [_plain(" ".join(p.prelast_names + p.last_names)) for p in people]
        if len(names) >= 3:
            who = f"{names[0]} et al."
        else:
            who = " and ".join(names) or _plain(entry.fields.get("title", key))
        labels[key] = (who, entry.fields.get("year", "n.d."))
    out = {}
    for key, (who, year) in labels.items():
        twins = [k for k, label in labels.items() if label == (who, year)]
        suffix = "abcdefghij"[twins.index(key)] if len(twins) > 1 else ""
        fields = entries[key].fields
        title = _plain(fields.get("title", key))
        out[key] = Reference(who, year + suffix, title, fields.get("url", ""))
    return out


def _plain(latex: str) -> str:
    """A BibTeX field without braces or accent commands: 'Apolin{\\'a}rio' -> 'Apolinario'."""
    return re.sub(r"\\.|[{}]", "", latex)


def cite(kind: str, keys: str) -> str:
    """`{cite:p}` -> '(Luo et al., 2023a; Sauer et al., 2023)'; `{cite:t}` -> 'Luo et al.
    (2023a)'."""
    bib = _bibliography()
    found = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in bib:
            raise KeyError(f"{key!r} is cited but not in {BIBLIOGRAPHY.name}")
        found.append(bib[key])
    if kind == "t":
        return "; ".join(f"{r.who} ({r.year})" for r in found)
    return "(" + "; ".join(f"{r.who}, {r.year}" for r in found) + ")"


def references_markdown(text: str) -> str:
    """A page's reference list (each work it cites, in citation order) as notebook markdown."""
    bib = _bibliography()
    keys = dict.fromkeys(k.strip() for m in CITE_ROLE.finditer(text) for k in m[2].split(","))
    lines = ["## References", ""]
    for key in keys:
        r = bib[key]
        title = f"[{r.title}]({r.url})" if r.url else r.title
        lines.append(f"- {r.who} ({r.year}). {title}.")
    return "\n".join(lines)


# ---- directives -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageContext:
    """What a page's markdown refers to: exercise labels -> their number and title, and the
    release whose notebooks a link to another lesson opens (None: a link beside this one)."""

    exercises: dict[str, tuple[int, str]]
    published: Release | None = None

    def notebook_link(self, name: str) -> str:
        path = f"notebooks/{Path(name).name}.ipynb"
        if self.published is not None and self.published.repository.startswith("https://github"):
            return self.published.colab_url(path)
        return Path(path).name


def _context(text: str, published: Release | None = None) -> PageContext:
    """Each exercise's number (its order on the page) and title, by its :label: option
    wherever it sits among the directive's options."""
    found = re.findall(r"^`{3,}\{exercise\}[ \t]*(.*)\n((?::[\w-]+:.*\n)*)", text, re.M)
    exercises = {}
    for number, (title, options) in enumerate(found, start=1):
        label = re.search(r"^:label:[ \t]*(\S+)", options, re.M)
        if label:
            exercises[label[1]] = (number, title)
    return PageContext(exercises, published)


def _page_title(name: str) -> str:
    page = LESSONS_DIR / f"{Path(name).name}.md"
    heading = re.search(r"^# (.+)$", page.read_text(encoding="utf-8"), re.M)
    return heading.group(1) if heading else name


def _roles(text: str, context: PageContext) -> str:
    text = CITE_ROLE.sub(lambda m: cite(m[1], m[2]), text)
    text = DOC_ROLE.sub(lambda m: f"[{_page_title(m[1])}]({context.notebook_link(m[1])})", text)

    def ref(m: re.Match) -> str:
        number, title = context.exercises.get(m[1], (None, m[1]))
        return f"Exercise {number} ({title})" if number else title

    text = REF_ROLE.sub(ref, text)
    return GLUE_ROLE.sub(lambda m: "{{" + m[1] + (f":{m[2]}" if m[2] else "") + "}}", text)


def _directive(name: str, argument: str, options: dict, body: str, ctx: PageContext) -> str:
    """One MyST directive as notebook markdown."""
    body = body.strip("\n")
    if name == "notebook-links":
        return ""
    if name in ("grid", "grid-item"):
        return body
    if name == "grid-item-card":
        return f"**{argument}**\n\n{body}" if argument else body
    if name == "exercise":
        number = next((n for n, t in ctx.exercises.values() if t == argument), None)
        head = f"Exercise {number}" if number else "Exercise"
        return f"#### {head}: {argument}\n\n{body}" if argument else f"#### {head}\n\n{body}"
    if name == "dropdown" or "dropdown" in options.get("class", ""):
        summary = argument or "Show"
        return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"
    if name in ("admonition", "note", "tip", "warning", "important", "seealso"):
        title = argument or name.capitalize()
        quoted = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
        return f"> **{title}**\n>\n{quoted}"
    raise ValueError(f"no notebook form for the MyST directive {{{name}}}: add one in colab.py")


def _convert(lines: list[str], ctx: PageContext) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        opened = FENCE_OPEN.match(lines[i].strip())
        if not opened:
            out.append(lines[i])
            i += 1
            continue
        fence, name, argument = opened.groups()
        end = next(
            (j for j in range(i + 1, len(lines)) if lines[j].strip() == fence),
            None,
        )
        if end is None:
            raise ValueError(f"unclosed {fence}{{{name}}} directive")
        inner = lines[i + 1 : end]
        options = {}
        while inner and OPTION.match(inner[0]):
            key, value = OPTION.match(inner[0]).groups()
            options[key] = value
            inner = inner[1:]
        body = "\n".join(_convert(inner, ctx))
        out.extend(_directive(name, argument.strip(), options, body, ctx).split("\n"))
        i = end + 1
    return out


def notebook_markdown(text: str, context: PageContext | None = None) -> str:
    """A page's markdown as plain notebook markdown: citations as text, directives as
    headings, quotes and <details> blocks, each glued value as a `{{name}}` placeholder that
    `glue.paragraph` fills."""
    context = context or _context(text)
    if "{{" in text:
        raise ValueError(
            "a page's markdown may not contain '{{': its notebook marks glued values so; "
            f"near {text[max(0, text.index('{{') - 40) : text.index('{{') + 20]!r}"
        )
    converted = "\n".join(_convert(_roles(text, context).split("\n"), context))
    return re.sub(r"\n{3,}", "\n\n", converted).strip("\n")


def _blocks(markdown: str) -> list[str]:
    """Top-level blocks (split at blank lines outside <details>, $$ math and code fences)."""
    blocks, current, depth, math, fence = [], [], 0, False, ""
    for line in markdown.split("\n"):
        if not line.strip() and depth == 0 and not math and not fence and current:
            blocks.append("\n".join(current))
            current = []
            continue
        opened = re.match(r"\s*(`{3,}|~{3,})", line)
        if opened and not fence:
            fence = opened[1]
        elif opened and line.strip() == fence:
            fence = ""
        depth += line.count("<details>") - line.count("</details>")
        math ^= line.count("$$") % 2 == 1
        if line.strip() or current:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _title(block: str) -> str:
    """A paragraph cell's Colab title: its callout's or summary's title, else its first words."""
    for pattern in (r"^> \*\*(.+?)\*\*", r"<summary>(.+?)</summary>", r"^#+ (.+)$"):
        found = re.search(pattern, block, re.M)
        if found:
            return found[1]
    if block.lstrip().startswith("|"):
        return "A table with this run's numbers"
    words = re.sub(r"[*_`$>#]|\{\{[^}]*\}\}", "", PLACEHOLDER.sub("...", block)).split()
    return " ".join(words[:8]) + " ..."


def markdown_cells(
    text: str, context: PageContext, solution: bool = False
) -> list[nbformat.NotebookNode]:
    """Page markdown as notebook cells: markdown, and a paragraph cell for each block that
    quotes measured values. `solution`: the text answers an exercise, so it is folded away
    (<details>) until the reader opens it."""
    cells: list[nbformat.NotebookNode] = []
    pending: list[str] = []

    def flush():
        if pending:
            cells.append(nbformat.v4.new_markdown_cell("\n\n".join(pending)))
            pending.clear()

    blocks = _blocks(notebook_markdown(text, context))
    if solution and blocks:
        blocks = [
            "<details>\n<summary>Solution</summary>\n\n" + "\n\n".join(blocks) + "\n\n</details>"
        ]
    for block in blocks:
        if not PLACEHOLDER.search(block):
            pending.append(block)
            continue
        flush()
        if '"""' in block:
            raise ValueError(f'a glued paragraph may not contain """: {block[:80]!r}')
        title = _title(block).replace('"', "'").replace("{", "(").replace("}", ")")
        source = PARAGRAPH_CELL.replace("{title}", title).replace("{text}", block)
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = ["measured-paragraph"]
        cells.append(cell)
    flush()
    return cells


# ---- notebooks ------------------------------------------------------------------------------


def runs_stable_diffusion(text: str) -> bool:
    """Whether a page's code imports any of `fastgen_book.sd`, directly or not."""
    graph = import_graph()
    return any(m.startswith("fastgen_book.sd") for m in closure(page_imports(text, graph), graph))


def setup_cell(text: str, published: Release) -> str:
    """The first cell of a page's notebook."""
    sd = runs_stable_diffusion(text)
    cell = SETUP_CELL.format(gpu_note=GPU_NOTE if sd else "", requirement=published.requirement)
    return cell + (GPU_SETUP if sd else "")


def page_to_notebook(page: Path, published: Release | None = None) -> nbformat.NotebookNode:
    """The Colab notebook for one page: its cells, no outputs, a setup cell first."""
    published = published or release()
    text = page.read_text(encoding="utf-8")
    context = _context(text, published)
    nb = jupytext.reads(text, fmt="md:myst")
    setup = nbformat.v4.new_code_cell(setup_cell(text, published))
    setup.metadata["tags"] = ["colab-setup"]
    cells = [setup]
    in_solution = False
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            if in_solution:  # a solution's code: folded in Colab until the reader opens it
                cell.source = f"{SOLUTION_TITLE}\n{cell.source}"
            cells.append(cell)
            continue
        parts = SOLUTION_FENCE.split(cell.source)
        # split() gives text, fence, start|end, text, ...: each marker toggles the state
        for i in range(0, len(parts), 3):
            cells.extend(markdown_cells(parts[i], context, solution=in_solution))
            if i + 2 < len(parts):
                in_solution = parts[i + 2] == "start"
    if CITE_ROLE.search(text):
        cells.append(nbformat.v4.new_markdown_cell(references_markdown(text)))
    nb.cells = cells
    nb.metadata.pop("jupytext", None)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # stable ids keep the generated files diff-free
    return nb


def notebook_path(page: Path) -> Path:
    """Where the generated notebook of a page lives."""
    return NOTEBOOKS_DIR / page.relative_to(LESSONS_DIR).with_suffix(".ipynb")


def render(page: Path, published: Release | None = None) -> str:
    """The generated notebook's file content."""
    return nbformat.writes(page_to_notebook(page, published)) + "\n"


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
