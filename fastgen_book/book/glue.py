"""`glue` for the lesson pages: myst-nb's in the book build; outside it (a Colab notebook, where
the book tooling is not installed) a stand-in that keeps each value, so that `paragraph` can show
a paragraph of the page with the numbers of this run in it. A page may quote a number before the
cell that computes it: such a paragraph shows "(not computed yet)" there and is redrawn in place
(a display update) once the cell further down has glued the value."""

from __future__ import annotations

import re
from collections.abc import Mapping

GLUED: dict[str, object] = {}
#: paragraphs shown in this kernel: (display handle, text); each is redrawn when a value it
#: quotes is glued (again)
_SHOWN: list[tuple[object, str]] = []

try:
    from myst_nb import glue as _myst_glue
except ImportError:  # pragma: no cover - exercised by the Colab notebooks
    _myst_glue = None


def glue(name: str, value, display: bool = True):
    """Keep `value` under `name` (and, in the book, hand it to myst-nb for `{glue:text}`)."""
    GLUED[name] = value
    _redraw(name)
    if _myst_glue is not None:
        return _myst_glue(name, value, display=display)
    if display:
        return value
    return None


def glue_values(values: Mapping[str, object], prefix: str = "") -> None:
    """Glue each of `values` under `prefix + name`, none displayed: a measurement cell hands its
    numbers to the prose in one call (`{glue:text}` refers to them by the full name)."""
    for name, value in values.items():
        glue(prefix + name, value, display=False)


#: a value's place in a paragraph: {{name}} or {{name:format}} (`fastgen_book.book.colab`)
PLACEHOLDER = re.compile(r"\{\{([A-Za-z0-9_]+)(?::([^}]*))?\}\}")
MISSING = "(not computed yet)"


def fill(text: str) -> str:
    """`text` with each {{name}} or {{name:format}} replaced by the glued value, formatted as
    myst-nb's `{glue:text}` role formats it; a value not glued yet reads MISSING."""

    def value(m: re.Match) -> str:
        if m[1] not in GLUED:
            return MISSING
        v = GLUED[m[1]]
        return format(v, m[2]) if m[2] else str(v)

    return PLACEHOLDER.sub(value, text)


def _redraw(name: str) -> None:
    """Redraw, in place, each shown paragraph that quotes `name`."""
    if not _SHOWN:
        return
    from IPython.display import Markdown

    for handle, text in _SHOWN:
        if any(m[1] == name for m in PLACEHOLDER.finditer(text)):
            handle.update(Markdown(fill(text)))


def paragraph(text: str) -> None:
    """Show a paragraph of the book with this run's numbers in it (a Colab notebook's stand-in
    for the prose the book renders): as Markdown in a notebook, as text elsewhere. A value a
    later cell computes is filled in when that cell has run, and a value computed again (a
    cell run twice) is redrawn."""
    text = text.strip("\n")
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython comes with every kernel
        print(fill(text))
        return
    if get_ipython() is None:
        print(fill(text))
        return
    handle = display(Markdown(fill(text)), display_id=True)
    if PLACEHOLDER.search(text):
        _SHOWN.append((handle, text))
