"""LoRA adapters of the factory (Hu et al. 2022): which modules get them, a seeded
initialisation, and saving in the key format `load_lora_weights` reads back whole."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

#: Modules that get LoRA matrices (attention, feed-forward, resnet convolutions, projections).
LORA_TARGETS = [
    "to_q",
    "to_k",
    "to_v",
    "to_out.0",
    "proj_in",
    "proj_out",
    "ff.net.0.proj",
    "ff.net.2",
    "conv1",
    "conv2",
    "conv_shortcut",
    "downsamplers.0.conv",
    "upsamplers.0.conv",
    "time_emb_proj",
]


def add_seeded_adapter(unet, lora_config, seed: int) -> None:
    """`unet.add_adapter` with its random initialisation drawn from `seed` (peft draws from the
    global generator, which made two identical training runs differ)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        unet.add_adapter(lora_config)


def save_lora(out_dir: Path, state: dict) -> None:
    """Write LoRA weights in the peft key format that `load_lora_weights` reads back whole.

    (diffusers' `convert_state_dict_to_diffusers` rewrites attention keys to an older form that
    `load_lora_weights` then drops with only a warning.) Written to a temporary folder and moved
    into place, so an interrupted save leaves no half-written adapter."""
    from diffusers import StableDiffusionPipeline

    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    StableDiffusionPipeline.save_lora_weights(tmp, unet_lora_layers=state, safe_serialization=True)
    replace_dir(tmp, out_dir)


def replace_dir(src: Path, dst: Path) -> None:
    """Move a finished folder over the old one (never a half-written folder in its place)."""
    old = dst.with_name(dst.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dst.exists():
        os.replace(dst, old)
    shutil.move(str(src), str(dst))
    shutil.rmtree(old, ignore_errors=True)
