"""Where the repository and its build outputs are.

In a checkout (the book's `_config.yml` beside the package) outputs go to `_build/` there; an
installed package (a Colab notebook's `pip install`) writes to the user's cache folder instead
($XDG_CACHE_HOME/fastgen, else ~/.cache/fastgen), never inside site-packages.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _build_dir(root: Path) -> Path:
    if (root / "_config.yml").exists():
        return root / "_build"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "fastgen"


BUILD_DIR = _build_dir(REPO_ROOT)
