"""Stable Diffusion on the real diffusers + peft code path: a tiny text-to-image model that this
project trains on procedural data (CPU tier), and the same functions on SD v1.5 (GPU tier)."""

import logging


class _DropTorchvisionFallback(logging.Filter):
    """transformers notes, once per image processor diffusers imports, that torchvision is
    missing and the PIL processor stands in. fastgen uses the PIL processors on purpose (no
    torchvision dependency), so the note is true of every run and says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision (not installed); falling back" not in record.getMessage()


logging.getLogger("transformers.utils.import_utils").addFilter(_DropTorchvisionFallback())
