"""LoRA adapters on a loaded pipeline: where each comes from, loading, activating, and fusing
into the UNet's weights (W0 + scale * BA, Hu et al. 2022, sec. 4.1) with the base weights
restored bit for bit afterwards."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from fastgen_book._checks import check_choice
from fastgen_book.sd import hub
from fastgen_book.sd.tiers import tiny_model_dir

if TYPE_CHECKING:
    from fastgen_book.sd.pipeline import Loaded

STYLE_ENV = "FASTGEN_STYLE_LORA"
#: adapter name -> its folder in the tiny model
TINY_ADAPTERS = {"lcm": "lcm-lora", "lcm-small": "lcm-lora-small", "style": "style-lora"}
#: adapter name -> the published file the gpu tier loads by default
GPU_ADAPTERS = {"lcm": hub.LCM_LORA, "style": hub.STYLE_LORA}
LORA_FILE = "pytorch_lora_weights.safetensors"


@dataclass(frozen=True)
class AdapterSource:
    """Where a LoRA file is: a local folder or a Hub repository id, and the file in it.
    `trigger`: words its training captions carried, appended to prompts while it is active."""

    location: str
    weight_name: str
    trigger: str = ""
    repo: hub.HubRepo | None = None

    def file(self) -> Path:
        """The local safetensors file."""
        if self.repo is not None:
            found = hub.cached_file(self.repo, self.weight_name)
            if found is None:
                raise FileNotFoundError(
                    f"{self.repo.repo_id}/{self.weight_name} is not in the Hugging Face cache; "
                    f"download it once with `{hub.FETCH_COMMAND}`"
                )
            return found
        return Path(self.location) / self.weight_name

    def __str__(self) -> str:
        return f"{self.location}/{self.weight_name}"


def local_source(path: str | Path, trigger: str = "") -> AdapterSource:
    """A LoRA in a local file, or in a folder holding one safetensors file."""
    path = Path(path)
    if path.is_file():
        return AdapterSource(str(path.parent), path.name, trigger)
    if not path.is_dir():
        raise FileNotFoundError(f"no LoRA file or folder at {path}")
    if (path / LORA_FILE).exists():
        return AdapterSource(str(path), LORA_FILE, trigger)
    found = sorted(p.name for p in path.glob("*.safetensors"))
    if len(found) != 1:
        raise FileNotFoundError(
            f"{path} holds {len(found)} .safetensors files; name the LoRA file itself"
        )
    return AdapterSource(str(path), found[0], trigger)


def adapter_source(loaded: Loaded, name: str) -> AdapterSource:
    """Where adapter `name` comes from by default: the tiny model's own folders, or on the gpu
    tier the published LCM-LoRA and pixel-art LoRA from the local cache ($FASTGEN_STYLE_LORA
    names another style LoRA: a file, or a folder holding one)."""
    check_choice(name, TINY_ADAPTERS, "adapter")
    if loaded.tier == "tiny":
        path = tiny_model_dir() / TINY_ADAPTERS[name]
        if not path.exists():
            raise FileNotFoundError(
                f"no {name!r} adapter at {path}; train it with "
                f"`python -m fastgen_book train {TINY_ADAPTERS[name]} --out {tiny_model_dir()}`"
            )
        return AdapterSource(str(path), LORA_FILE)
    if name == "style" and os.environ.get(STYLE_ENV):
        return local_source(os.environ[STYLE_ENV])
    if name not in GPU_ADAPTERS:
        raise ValueError(
            f"adapter {name!r} is tiny-sd's own; the gpu tier has {', '.join(GPU_ADAPTERS)}"
        )
    repo = GPU_ADAPTERS[name]
    trigger = hub.STYLE_TRIGGER if name == "style" else ""
    source = AdapterSource(repo.repo_id, repo.files[0], trigger, repo)
    source.file()  # a clear error now rather than diffusers' later
    return source


def load_adapter(loaded: Loaded, name: str, path: str | Path | None = None) -> None:
    """Load a LoRA (safetensors only) under `name` (from `adapter_source` when no path is
    given); it starts active at weight 1. Published files in kohya's key format
    (`lora_unet_..._proj_in.lora_down.weight` with `.alpha`) load through diffusers' own
    conversion."""
    from fastgen_book.sd.quiet import quiet_loading

    source = adapter_source(loaded, name) if path is None else local_source(path)
    options = {"cache_dir": str(hub.cache_dir())} if source.repo is not None else {}
    with quiet_loading():
        loaded.pipe.load_lora_weights(
            source.location,
            weight_name=source.weight_name,
            adapter_name=name,
            use_safetensors=True,
            local_files_only=True,
            **options,
        )
    loaded.adapters[name] = source


def set_adapters(loaded: Loaded, weights: dict[str, float]) -> None:
    """Activate exactly these adapters with these weights (an empty dict: none)."""
    for name in weights:
        check_choice(name, loaded.adapters, "adapter")
    if weights:
        # set_adapters does not undo an earlier disable_lora: without enable_lora every
        # adapter would stay silently off after one run without adapters
        loaded.pipe.enable_lora()
        loaded.pipe.set_adapters(list(weights), adapter_weights=list(weights.values()))
    elif loaded.adapters:
        loaded.pipe.disable_lora()


def _base_layers(unet: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights (and biases) that fusing rewrites: those of every LoRA-wrapped layer."""
    out = {}
    for name, module in unet.named_modules():
        base = getattr(module, "base_layer", None)
        if base is None:
            continue
        for pname, p in base.named_parameters(recurse=False):
            out[f"{name}.{pname}"] = p
    return out


def fuse_adapters(loaded: Loaded, weights: dict[str, float]) -> None:
    """Merge these adapters into the UNet's weights, so a step costs what the base model's
    does; `unfuse_adapters` takes them out again. The rewritten base weights are copied to
    the CPU first: subtracting BA again is exact only up to rounding (in fp16, ten cycles
    moved tens of thousands of weights), so unfusing restores the copy."""
    if loaded.fused:
        raise ValueError(f"adapters {loaded.fused} are already fused; call unfuse_adapters first")
    if not weights:
        raise ValueError("fuse_adapters needs at least one adapter, e.g. {'lcm': 1.0}")
    set_adapters(loaded, weights)
    loaded.base_backup = {
        k: p.detach().to("cpu", copy=True) for k, p in _base_layers(loaded.pipe.unet).items()
    }
    loaded.pipe.fuse_lora(adapter_names=list(weights))
    loaded.fused = dict(weights)


@torch.no_grad()
def unfuse_adapters(loaded: Loaded) -> None:
    """Take the fused adapters out: the base weights are exactly as before `fuse_adapters`."""
    loaded.pipe.unfuse_lora()
    params = _base_layers(loaded.pipe.unet)
    for key, saved in loaded.base_backup.items():
        params[key].copy_(saved)
    loaded.base_backup = {}
    loaded.fused = {}


def unload_adapters(loaded: Loaded) -> None:
    """Remove every LoRA: the base weights are exactly as loaded."""
    if loaded.fused:
        unfuse_adapters(loaded)
    loaded.pipe.unload_lora_weights()
    loaded.adapters.clear()


def prompt_with_triggers(loaded: Loaded, prompt: str, adapters: dict[str, float]) -> str:
    """`prompt` with the trigger words of each active adapter that has some."""
    words = [loaded.adapters[n].trigger for n in adapters if loaded.adapters[n].trigger]
    return ", ".join([prompt, *words])
