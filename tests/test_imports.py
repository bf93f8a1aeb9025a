"""fastgen's modules import each other without cycles: a cycle (even through an import inside
a function) means a piece of code sits in the wrong module."""

from __future__ import annotations

from fastgen_book.book.imports import closure, cycles, import_graph


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_fastgen_has_no_import_cycles():
    graph = import_graph()
    assert "fastgen_book.sd.adapters" in graph["fastgen_book.sd.pipeline"]  # the graph sees imports
    assert "fastgen_book.sd.pipeline" not in graph["fastgen_book.sd.adapters"]  # type-checking only
    assert cycles(graph) == []


def test_the_closure_follows_imports_and_parent_packages():
    graph = import_graph()
    runs = closure({"fastgen_book.sd.pipeline"}, graph)
    wanted = {"fastgen_book", "fastgen_book.sd", "fastgen_book.sd.adapters", "fastgen_book.sd.hub"}
    assert wanted <= runs
    assert not any(
        m.startswith("fastgen_book.toy2d") for m in closure({"fastgen_book.sd.hub"}, graph)
    )
