"""Library code shown on a page as it is: the source of a function, read from the module the
page runs, so the page can never show a copy that drifted from what executes."""

from __future__ import annotations

import inspect
import textwrap


def source_markdown(obj) -> str:
    """The source of `obj` as a fenced Python block, with the module it lives in."""
    code = textwrap.dedent(inspect.getsource(obj)).rstrip()
    return f"From `{obj.__module__}`:\n\n```python\n{code}\n```"


def show_source(obj):
    """Display `obj`'s source in a notebook (rendered as highlighted code by the book)."""
    from IPython.display import Markdown

    return Markdown(source_markdown(obj))
