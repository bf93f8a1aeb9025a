"""Where the book is published, named once: `repository.url` in `_config.yml`.

Jupyter Book's repository button reads that setting; so do the Colab links of every page
(`sphinx_ext.NotebookLinks`) and the install cell of every Colab notebook (`colab`). Each pins
the release the book was made from: the tag `v<version>`, with the version from
`pyproject.toml`, never a branch, so an old notebook keeps installing the code it was written
for. README, "Publishing the book", says what to set and push.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from fastgen_book.paths import REPO_ROOT

#: the name `pip install` knows this project by (`fastgen` on PyPI is an unrelated project)
DISTRIBUTION = "fastgen-book"
GITHUB = "https://github.com/"
COLAB = "https://colab.research.google.com/github/"


@dataclass(frozen=True)
class Release:
    """One published version of the book.

    `repository`: https://github.com/OWNER/REPO, or the absolute path of a local git repository
    (to try a notebook's install cell before publishing); `version`: the package's version."""

    repository: str
    version: str

    @property
    def tag(self) -> str:
        """The git tag of this release: 'v0.1.0'."""
        return f"v{self.version}"

    @property
    def requirement(self) -> str:
        """What a notebook's install cell hands pip: the package at this release's tag."""
        if self.repository.startswith(("https://", "http://")):
            url = self.repository.rstrip("/")
        else:
            path = Path(self.repository).expanduser()
            if not path.is_absolute():
                raise ValueError(
                    f"repository.url {self.repository!r} is neither a https:// address nor an "
                    "absolute path of a local git repository"
                )
            # file://localhost/...: pip before 24 rejects a VCS URL with an empty host
            url = "file://localhost" + path.as_posix()
        return f"{DISTRIBUTION} @ git+{url}@{self.tag}"

    def colab_url(self, notebook: str) -> str:
        """Colab's address of `notebook` (a path in the repository) at this release's tag."""
        if not self.repository.startswith(GITHUB):
            raise ValueError(
                f"Colab opens notebooks from GitHub only; repository.url in _config.yml is "
                f"{self.repository!r}: set it to https://github.com/OWNER/REPO"
            )
        repo = self.repository[len(GITHUB) :].strip("/")
        return f"{COLAB}{repo}/blob/{self.tag}/{notebook}"


def version(root: Path = REPO_ROOT) -> str:
    """The package version in `pyproject.toml`."""
    with open(root / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def release(root: Path = REPO_ROOT) -> Release:
    """This checkout's release: `repository.url` from `_config.yml`, the version from
    `pyproject.toml`."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    url = (config.get("repository") or {}).get("url")
    if not url:
        raise ValueError(f"{root / '_config.yml'} names no repository.url")
    return Release(url, version(root))
