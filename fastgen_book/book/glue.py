"""`glue` for the lesson pages: myst-nb's in the book build; outside it (a Colab notebook, where
the book tooling is not installed) a stand-in that keeps each value so that `show` can print
the numbers a paragraph quotes right under it."""

from __future__ import annotations

from collections.abc import Mapping

GLUED: dict[str, object] = {}

try:
    from myst_nb import glue as _myst_glue
except ImportError:  # pragma: no cover - exercised by the Colab notebooks
    _myst_glue = None


def glue(name: str, value, display: bool = True):
    """Keep `value` under `name` (and, in the book, hand it to myst-nb for `{glue:text}`)."""
    GLUED[name] = value
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


def show(*names: str) -> None:
    """Print the values a paragraph of the book quotes, one `name: value` per line."""
    for name in names:
        value = GLUED.get(name, "(not computed yet: run the cells above)")
        print(f"{name}: {value:.4g}" if isinstance(value, float) else f"{name}: {value}")
