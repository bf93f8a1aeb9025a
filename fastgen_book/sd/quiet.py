"""Loading without the noise: no progress bars in page outputs, and none of the notes that are
true of every adapter here; every other library warning still reaches the reader."""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager


class _DropNoTextEncoderKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No LoRA keys associated to CLIPTextModel")


@contextmanager
def quiet_loading():
    """Load without progress bars in page outputs, without diffusers' note that a LoRA has no
    text-encoder weights (true of every adapter here: they adapt the UNet only) and without
    peft's note that a second named adapter joins the first (that is the point). Every other
    warning, such as LoRA keys that did not load, still shows."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    bars = [
        (lib, lib.is_progress_bar_enabled()) for lib in (diffusers_logging, transformers_logging)
    ]
    for lib, _ in bars:
        lib.disable_progress_bar()
    handlers = logging.getLogger("diffusers").handlers
    drop = _DropNoTextEncoderKeys()
    for handler in handlers:
        handler.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
            yield
    finally:
        for handler in handlers:
            handler.removeFilter(drop)
        for lib, enabled in bars:  # as the caller had them
            if enabled:
                lib.enable_progress_bar()
