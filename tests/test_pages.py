"""Each lesson page executed top to bottom in a fresh kernel: one test per page.

A failure names the page, the code cell and the traceback. Results go into the build's
execution cache, so the book build afterwards does not execute the pages again.
"""

from __future__ import annotations

import pytest

from fastgen.book.pages import PageExecutionError, execute_page, lesson_pages


@pytest.mark.parametrize("page", lesson_pages(), ids=lambda p: p.stem)
def test_page_executes(page):
    try:
        executed = execute_page(page)
    except PageExecutionError as err:
        pytest.fail(str(err), pytrace=False)
    code = [c for c in executed.notebook.cells if c.cell_type == "code"]
    assert code, f"{page.name} has no code cell"
    assert any(c.get("outputs") for c in code), f"{page.name} produced no output at all"
