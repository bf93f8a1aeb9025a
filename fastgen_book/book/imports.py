"""fastgen's import graph, read from the source with `ast` (nothing is imported): which modules
a module imports, directly or through others, deferred imports inside functions included. It
keys each page's execution cache on the code that page runs (`source_hash.page_hash`) and
keeps the package free of import cycles (tests/test_imports.py)."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: `from fastgen_book.x import y` or `import fastgen_book.x` at the start of a line of a code cell
_PAGE_IMPORT = re.compile(
    r"^\s*(?:from|import)\s+(fastgen_book[\w.]*)(?:\s+import\s+([\w, ()]+))?", re.M
)


def module_files(root: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at `root`."""
    out = {}
    for path in root.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(root.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _targets(node: ast.AST, modules: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fastgen_book"):
        names = {f"{node.module}.{a.name}" for a in node.names}
        return {n if n in modules else node.module for n in names}
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.startswith("fastgen_book")}
    return set()


@functools.lru_cache(maxsize=4)
def _graph(root: Path, stamp: tuple) -> dict[str, frozenset[str]]:
    modules = module_files(root)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
        found = set()
        for node in ast.walk(tree):
            if id(node) not in typing_only:
                found |= _targets(node, modules)
        graph[name] = frozenset(t for t in found if t in modules and t != name)
    return graph


def import_graph(root: Path = PACKAGE_DIR) -> dict[str, frozenset[str]]:
    """module -> the fastgen modules it imports anywhere (imports only for type checkers
    aside). Cached until a module file changes."""
    stamp = tuple(sorted((str(p), p.stat().st_mtime_ns) for p in module_files(root).values()))
    return _graph(root, stamp)


def with_parents(name: str) -> set[str]:
    """A module and the packages Python imports before it: fastgen_book.sd.x -> fastgen,
    fastgen_book.sd."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def closure(names: set[str], graph: dict[str, frozenset[str]]) -> set[str]:
    """Every module that importing `names` runs: their imports, transitively, and parents."""
    seen: set[str] = set()
    todo = [p for n in names for p in with_parents(n) if p in graph]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(p for dep in graph[name] for p in with_parents(dep) if p in graph)
    return seen


#: Modules that store, name and describe results rather than compute them: the book's tooling
#: (which computes these keys), paths, atomic writes, run records and the two stores.
RECORD_KEEPING = (
    "fastgen_book.book",
    "fastgen_book.paths",
    "fastgen_book.atomic",
    "fastgen_book.runinfo",
    "fastgen_book.results",
    "fastgen_book.toy2d.store",
)


def code_files(*modules: str, root: Path = PACKAGE_DIR) -> list[Path]:
    """The source files whose code can change what `modules` compute: each of them and every
    fastgen module they import at any depth, sorted, less `RECORD_KEEPING`. What keys stored
    models and measurements: editing how a result is stored or described does not retrain."""
    graph = import_graph(root)
    files = module_files(root)
    return sorted(
        files[m]
        for m in closure(set(modules), graph)
        if not any(m == k or m.startswith(k + ".") for k in RECORD_KEEPING)
    )


def page_imports(text: str, graph: dict[str, frozenset[str]]) -> set[str]:
    """The fastgen modules a page's code imports by name (`from fastgen_book.sd import experiments`
    names fastgen_book.sd.experiments)."""
    out = set()
    for module, names in _PAGE_IMPORT.findall(text):
        out.add(module)
        for name in re.findall(r"\w+", names or ""):
            if f"{module}.{name}" in graph:
                out.add(f"{module}.{name}")
    return {m for m in out if m in graph}


def cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found
