"""Argument types and the parser class of the command line: counts, adapter names and bad
arguments answered in one line, before anything heavy (torch) is imported."""

from __future__ import annotations

import argparse

#: kept in sync with fastgen_book.sd (a test checks); listed here so --help needs no torch import
SCHEDULER_NAMES = ("ddpm", "ddim", "dpmpp_2m", "lcm", "euler", "euler_a")
ADAPTER_NAMES = ("lcm", "lcm-small", "style")
VARIANT_NAMES = ("base", "paper-75", "paper-150", "paper-300", "paper", "turbo")
WEIGHTINGS = ("epsilon", "min-snr", "truncated-snr")
#: the adapters with classifier-free guidance distilled in (LCM-LoRA, Luo et al. 2023b): a run
#: with one of them defaults to guidance 1, one UNet call per step
DISTILLED_GUIDANCE = ("lcm", "lcm-small")
#: `trial unet --attention`: TinySDConfig.unet_attention per choice
ATTENTION = {"8x8": (True, True), "4x4": (False, True), "mid": (False, False)}


def adapter(text: str) -> tuple[str, float]:
    """An argparse type: `--lora NAME[=WEIGHT]` as (name, weight), the name checked here."""
    name, _, weight = text.partition("=")
    if name not in ADAPTER_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown adapter {name!r}; choose one of: {', '.join(ADAPTER_NAMES)}"
        )
    try:
        return name, float(weight) if weight else 1.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME or NAME=WEIGHT") from None


def default_guidance(adapters: dict[str, float], base: float, variant: str = "base") -> float:
    """`generate`'s guidance when `--guidance` is not given: 0 for tiny-turbo (no guidance, as
    SDXL-Turbo runs), 1 with an LCM-LoRA active (both one UNet call a step), else the base
    model's scale `base` (`fastgen_book.sd.guidance.base_guidance`)."""
    if variant == "turbo":
        return 0.0
    return 1.0 if any(n in DISTILLED_GUIDANCE for n in adapters) else base


def count(text: str) -> int:
    """An argparse type: an integer >= 1 (checked before anything heavy is imported)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse that answers a bad argument in one line (no usage block) that says what to do."""

    def error(self, message: str):
        self.exit(2, f"error: {message}; see `python -m {self.prog} --help`\n")
