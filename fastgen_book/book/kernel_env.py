"""The environment the book's page kernels start in, set by the build (`sphinx_ext`) and by
`pages.execute_page` before a kernel is launched (a kernel inherits it).

GNU OpenMP, which torch's CPU build runs its threads on, lets a waiting thread spin 300,000
times before it sleeps. A page kernel pinned to 2 threads, sharing 2 cores with another busy
process, then spends its time slices spinning: a toy training step ran 20 times slower in a
kernel beside a second torch job, and an SD measurement 10 times. With 10,000 spins the same
runs take 2 to 4 times as long as alone (the most two jobs sharing two cores can expect), and a
quiet machine runs as fast as before. `python -m fastgen_book bench build` times the pages.
"""

from __future__ import annotations

import os

#: GOMP_SPINCOUNT for page kernels (an author's own setting is kept)
SPIN_COUNT = "10000"


def prepare_kernel_env() -> None:
    """Set the page kernels' environment variables in this process, unless already set."""
    os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
