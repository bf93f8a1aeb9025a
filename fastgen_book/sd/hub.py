"""The Hugging Face files the gpu tier reads, named in one place; where they are in the local
cache, which are missing, and the one explicit command that downloads them.

Nothing here downloads except `fetch`, which only `python -m fastgen_book fetch` (or a notebook's
setup cell) calls. Builds and tests load from the local cache with `local_files_only=True`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fastgen_book._checks import check_choice

#: the diffusers layout of SD v1.5, fp16 variant files only (what `variant="fp16"` reads)
_SD_TOKENIZER = (
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
)


@dataclass(frozen=True)
class HubRepo:
    """A Hub repository and exactly the files of it that fastgen reads.

    `one_of`: alternatives of which any one will do (CLIP's weights exist as safetensors or as a
    PyTorch pickle depending on the repository); `fetch` takes the first the repository has."""

    repo_id: str
    files: tuple[str, ...]
    what: str
    one_of: tuple[str, ...] = ()


SD15 = HubRepo(
    "stable-diffusion-v1-5/stable-diffusion-v1-5",
    (
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors",
        *_SD_TOKENIZER,
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.fp16.safetensors",
    ),
    "Stable Diffusion v1.5, fp16 (Rombach et al. 2022)",
)
#: published sizes the pages compare with (not read from files): SD v1.5's UNet, about 860M
#: parameters (CompVis' Stable Diffusion v1 README), and its LCM-LoRA, about 67.5M (Luo et al.
#: 2023b, the LCM-LoRA report)
SD15_UNET_PARAMETERS = 860e6
SD15_LCM_LORA_PARAMETERS = 67.5e6

LCM_LORA = HubRepo(
    "latent-consistency/lcm-lora-sdv1-5",
    ("pytorch_lora_weights.safetensors",),
    "LCM-LoRA for SD v1.5 (Luo et al. 2023b)",
)
STYLE_LORA = HubRepo(
    "artificialguybr/pixelartredmond-1-5v-pixel-art-loras-for-sd-1-5",
    ("PixelArtRedmond15V-PixelArt-PIXARFK.safetensors",),
    "PixelArt.Redmond, a pixel-art style LoRA for SD v1.5",
)
#: the words the pixel-art LoRA was trained to respond to (its model card's trigger words)
STYLE_TRIGGER = "pixel art, PixArFK"
CLIP = HubRepo(
    "openai/clip-vit-base-patch32",
    (
        "config.json",
        "preprocessor_config.json",
        "merges.txt",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "vocab.json",
    ),
    "CLIP ViT-B/32, for the CLIP score (Radford et al. 2021; Hessel et al. 2021)",
    one_of=("model.safetensors", "pytorch_model.bin"),
)
SDXL_TURBO = HubRepo(
    "stabilityai/sdxl-turbo",
    (
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors",
        "text_encoder_2/config.json",
        "text_encoder_2/model.fp16.safetensors",
        *_SD_TOKENIZER,
        *(f.replace("tokenizer/", "tokenizer_2/") for f in _SD_TOKENIZER),
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.fp16.safetensors",
    ),
    "SDXL-Turbo, fp16 (Sauer et al. 2023); optional, for lesson 2's one-step cell",
)

#: what the gpu tier's pages need, in the order `fetch sd15` downloads them
GPU_TIER = (SD15, LCM_LORA, STYLE_LORA, CLIP)
#: `python -m fastgen_book fetch NAME` -> the repositories it downloads
FETCH_SETS = {"sd15": GPU_TIER, "sdxl-turbo": (SDXL_TURBO,)}
FETCH_COMMAND = "python -m fastgen_book fetch sd15"


def cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time
    ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    if "HF_HUB_CACHE" in os.environ:
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME", os.path.join(os.path.expanduser("~"), ".cache", "huggingface"))
    return Path(home) / "hub"


def cached_file(repo: HubRepo, filename: str) -> Path | None:
    """The local path of one file of `repo` in the cache, or None."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo.repo_id, filename, cache_dir=cache_dir())
    return Path(found) if isinstance(found, str) else None


def missing(repo: HubRepo) -> list[str]:
    """The files of `repo` that the cache lacks (one name for a missing `one_of` group)."""
    gone = [f for f in repo.files if cached_file(repo, f) is None]
    if repo.one_of and not any(cached_file(repo, f) for f in repo.one_of):
        gone.append(" or ".join(repo.one_of))
    return gone


def missing_report(repos=GPU_TIER) -> str:
    """'' when every file is cached, else one line per repository naming what is missing."""
    lines = []
    for repo in repos:
        gone = missing(repo)
        if gone:
            shown = ", ".join(gone[:3]) + (f" and {len(gone) - 3} more" if len(gone) > 3 else "")
            lines.append(f"{repo.repo_id}: missing {shown}")
    return "\n".join(lines)


def snapshot(repo: HubRepo) -> Path:
    """The cached snapshot folder of `repo` (FileNotFoundError naming the fetch command)."""
    first = cached_file(repo, repo.files[0])
    if first is None:
        raise FileNotFoundError(
            f"{repo.repo_id} is not in the Hugging Face cache at {cache_dir()}; "
            f"download it once with `{FETCH_COMMAND}`"
        )
    return first.parents[len(Path(repo.files[0]).parts) - 1]


def _plan(repo: HubRepo, api) -> tuple[list[str], int]:
    """(files to download, their total bytes), choosing the first `one_of` the repo has."""
    info = api.model_info(repo.repo_id, files_metadata=True)
    sizes = {s.rfilename: s.size or 0 for s in info.siblings}
    absent = [f for f in repo.files if f not in sizes]
    if absent:
        raise FileNotFoundError(f"{repo.repo_id} has no {', '.join(absent)}")
    files = list(repo.files)
    if repo.one_of:
        choice = next((f for f in repo.one_of if f in sizes), None)
        if choice is None:
            raise FileNotFoundError(f"{repo.repo_id} has none of {', '.join(repo.one_of)}")
        files.append(choice)
    return files, sum(sizes[f] for f in files)


def fetch(name: str = "sd15", progress=print) -> list[Path]:
    """Download exactly the files of `FETCH_SETS[name]` into the cache (allow-patterns, so no
    single-file checkpoints or fp32 duplicates), saying each repository's size first. Returns
    the snapshot folders."""
    from huggingface_hub import HfApi, snapshot_download

    check_choice(name, FETCH_SETS, "download")
    api = HfApi()
    plans = [(repo, *_plan(repo, api)) for repo in FETCH_SETS[name]]
    total = sum(size for _, _, size in plans)
    progress(f"fetching {len(plans)} repositories, {total / 1e9:.2f} GB, into {cache_dir()}")
    folders = []
    for repo, files, size in plans:
        progress(f"{repo.repo_id}: {len(files)} files, {size / 1e6:,.0f} MB ({repo.what})")
        folder = snapshot_download(repo.repo_id, allow_patterns=files, cache_dir=cache_dir())
        folders.append(Path(folder))
    return folders


def prepare_gpu_tier(name: str = "sd15", progress=print) -> bool:
    """A notebook's setup step: on a CUDA machine, `fetch(name)`; returns whether the files are
    there. Any failure (no network, a rate limit, a renamed file, a full disk) is reported in
    one line and the lesson goes on: `load_pipeline("auto")` then runs tiny-sd."""
    import torch

    if not torch.cuda.is_available():
        progress("No GPU here: the Stable Diffusion cells run tiny-sd, the book's small model.")
        return False
    try:
        fetch(name, progress=progress)
    except Exception as error:  # noqa: BLE001 - any failure falls back to tiny-sd, said once
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        progress(
            f"Could not download the gpu tier's files ({reason[:300]}); the Stable Diffusion "
            "cells run tiny-sd, the book's small model, instead."
        )
        return False
    return True
