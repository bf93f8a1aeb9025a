"""Shared fixtures. Tests marked `book` (whole-book builds, the browser) run after the rest, so
that the page tests have already filled the execution cache that the book build reuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Tests never download: every Hugging Face call here is offline, page kernels included (they
# inherit the environment). Set before any test module imports huggingface_hub.
os.environ["HF_HUB_OFFLINE"] = "1"

REPO_ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
BUILD_FLAGS = ["--warningiserror", "--nitpick", "--keep-going", "--all"]


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("book") is not None)


def run_build(book_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    """`jupyter-book build` as `make book` runs it; output captured for the assertions."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [str(JUPYTER_BOOK), "build", str(book_dir), *BUILD_FLAGS, *extra],
        cwd=book_dir,
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )


@pytest.fixture(scope="session")
def built_book() -> tuple[Path, str]:
    """Build the real book once per session: (html dir, build log)."""
    result = run_build(REPO_ROOT)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"book build failed:\n{log[-8000:]}"
    return REPO_ROOT / "_build" / "html", log


@pytest.fixture(scope="session")
def standin_cache(tmp_path_factory) -> Path:
    """The stand-in Hugging Face cache of the gpu tier's files (tests/standin.py)."""
    from standin import build_cache

    return build_cache(tmp_path_factory.mktemp("hf") / "hub")


@pytest.fixture
def gpu_standin(standin_cache, monkeypatch) -> dict[str, str]:
    """The gpu tier on the stand-in, for one test: offline, accelerator mapped to the CPU."""
    from standin import standin_env

    env = standin_env(standin_cache)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
