"""What ran a result: library versions, device, threads, date. Pages print it beside results."""

from __future__ import annotations

import platform
from datetime import UTC, datetime

import torch


def describe() -> str:
    """One line naming the device, torch build, thread count and date of this run."""
    if torch.cuda.is_available():
        device = f"GPU {torch.cuda.get_device_name(0)}"
    else:
        device = f"CPU ({platform.machine()}, {torch.get_num_threads()} torch threads)"
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{device}; torch {torch.__version__}; python {platform.python_version()}; {date}"


def record() -> dict:
    """What produced a stored result, as JSON fields: torch, threads, machine, UTC time."""
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
