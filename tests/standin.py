"""A stand-in of the Hugging Face files the gpu tier reads, so its code path runs on a CPU.

`build_cache(root)` lays out a hub cache (`models--org--name/refs/main`, `snapshots/<rev>/...`)
holding the repository ids and file names of `fastgen_book.sd.hub`: SD v1.5's diffusers layout with
its fp16 variant files, its own PNDM scheduler config and model index; the LCM-LoRA and the
pixel-art LoRA in kohya's key format (`lora_unet_..._proj_in.lora_down.weight`, `.alpha`), as the
published files are; CLIP ViT-B/32's config, processor and tokenizer files with a small random
CLIP; SDXL-Turbo's layout with small random text encoders and UNet around the tiny model's
autoencoder. The weights inside are the tiny model's. Each repository also gets what a real
`snapshot_download` leaves beside its files: the listing of the whole repository at its commit
(`trees/<commit>.json`, huggingface_hub 2.x), files not downloaded included (the published
listings, with where each came from, are in `hub_listings.json`), which diffusers reads offline
to decide which files must exist. `standin_env(root)` is the environment that runs the gpu tier
on it: offline, and the accelerator mapped to the CPU (`FASTGEN_GPU_DEVICE=cpu`).

What this proves: every gpu-tier call (loading, fp16 variant files, the published key formats,
adapters by hub id, CLIP scoring, micro-batching, the pages' gpu branches) runs on real
diffusers/peft/transformers code. What it cannot: CUDA numerics, timings, real CLIP values.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fastgen_book.sd import hub
from fastgen_book.sd.tiers import tiny_model_dir

LISTINGS = Path(__file__).with_name("hub_listings.json")
#: tokens per prompt in SD v1.5's text encoder and tokenizer
SD_TOKENS = 77
#: SD v1.5's model index and scheduler as its repository has them
SD15_MODEL_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.6.0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
SD15_SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}
#: CLIP ViT-B/32's image processor (its repository's preprocessor_config.json)
CLIP_PROCESSOR = {
    "crop_size": 224,
    "do_center_crop": True,
    "do_normalize": True,
    "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor",
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "size": 224,
}


@cache
def listings() -> dict[str, dict]:
    """repo id -> {"revision", "files": {path: size or None}, "evidence", ...}: the published
    repositories' file listings at their main commit."""
    return json.loads(LISTINGS.read_text())


def storage_dir(root: Path, repo: hub.HubRepo) -> Path:
    return root / f"models--{repo.repo_id.replace('/', '--')}"


def snapshot_dir(root: Path, repo: hub.HubRepo) -> Path:
    """The snapshot folder of `repo` in the stand-in cache (created with its refs/main, at the
    published repository's main commit)."""
    revision = listings()[repo.repo_id]["revision"]
    base = storage_dir(root, repo)
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(revision)
    folder = base / "snapshots" / revision
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_tree_listing(root: Path, repo: hub.HubRepo) -> Path:
    """`trees/<commit>.json` as `snapshot_download` writes it (huggingface_hub's own writer):
    every file of the published repository, downloaded or not; a downloaded file with its size
    here, the others with their published size (0 where unknown). Returns the file."""
    from huggingface_hub._tree_cache import TreeCacheEntry, write_tree_cache

    listing = listings()[repo.repo_id]
    folder = snapshot_dir(root, repo)
    entries = {}
    for name, size in listing["files"].items():
        local = folder / name
        blob = hashlib.sha1(f"{repo.repo_id}/{name}".encode()).hexdigest()
        entries[name] = TreeCacheEntry(local.stat().st_size if local.exists() else size or 0, blob)
    write_tree_cache(str(storage_dir(root, repo)), listing["revision"], entries)
    return storage_dir(root, repo) / "trees" / f"{listing['revision']}.json"


def _json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _fp16(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in load_file(str(src)).items()}, str(dst))


def _tokenizer_files(tiny_tokenizer: Path, out: Path, max_length: int) -> None:
    """vocab.json, merges.txt and the configs, as CLIP's repositories ship its tokenizer."""
    model = json.loads((tiny_tokenizer / "tokenizer.json").read_text())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(model["vocab"]))
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>"}
    special |= {"pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    _json(out / "special_tokens_map.json", special)
    config = {**special, "model_max_length": max_length, "tokenizer_class": "CLIPTokenizer"}
    _json(out / "tokenizer_config.json", config)


def to_kohya(peft_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A diffusers/peft LoRA state dict (`unet.<module>.lora_A.weight`) in kohya's format
    (`lora_unet_<module with _>.lora_down.weight`, `lora_up`, and `.alpha` = rank, which
    keeps the scale at 1), in fp16 as the published files store it."""
    out = {}
    for key, value in peft_state.items():
        module, _, kind = key.removeprefix("unet.").rpartition(".lora_")
        name = "lora_unet_" + module.replace(".", "_")
        out[f"{name}.lora_{'down' if kind.startswith('A') else 'up'}.weight"] = value.half()
        if kind.startswith("A"):
            out[f"{name}.alpha"] = torch.tensor(float(value.shape[0]), dtype=torch.float16)
    return out


def _lora(root: Path, repo: hub.HubRepo, tiny_folder: str) -> None:
    state = load_file(str(tiny_model_dir() / tiny_folder / "pytorch_lora_weights.safetensors"))
    save_file(to_kohya(state), str(snapshot_dir(root, repo) / repo.files[0]))


def _text_encoder(src: Path, dst: Path) -> None:
    """The tiny text encoder with SD v1.5's 77 positions (the tiny model's 16 rows, then copies
    of its last, where only padding ever sits), so prompts have SD's length limit."""
    config = json.loads((src / "config.json").read_text())
    state = load_file(str(src / "model.safetensors"))
    key = next(k for k in state if k.endswith("position_embedding.weight"))
    rows = state[key]
    state[key] = torch.cat([rows, rows[-1:].expand(SD_TOKENS - len(rows), -1)])
    config["max_position_embeddings"] = SD_TOKENS
    dst.mkdir(parents=True, exist_ok=True)
    _json(dst / "config.json", config)
    save_file(
        {k: v.half().contiguous() for k, v in state.items()}, str(dst / "model.fp16.safetensors")
    )


def _sd15(root: Path) -> None:
    tiny = tiny_model_dir() / "pipeline"
    out = snapshot_dir(root, hub.SD15)
    _json(out / "model_index.json", SD15_MODEL_INDEX)
    _json(out / "scheduler" / "scheduler_config.json", SD15_SCHEDULER)
    _text_encoder(tiny / "text_encoder", out / "text_encoder")
    for part, weights in (
        ("unet", "diffusion_pytorch_model"),
        ("vae", "diffusion_pytorch_model"),
    ):
        (out / part).mkdir(parents=True, exist_ok=True)
        (out / part / "config.json").write_text((tiny / part / "config.json").read_text())
        _fp16(tiny / part / f"{weights}.safetensors", out / part / f"{weights}.fp16.safetensors")
    _tokenizer_files(tiny / "tokenizer", out / "tokenizer", SD_TOKENS)


def _clip(root: Path) -> None:
    """A small random CLIP with ViT-B/32's patch size and processor; the tokenizer files are
    the tiny model's byte-level BPE, which reads any text."""
    from transformers import CLIPConfig, CLIPModel

    tiny_tokenizer = tiny_model_dir() / "pipeline" / "tokenizer"
    vocab = json.loads((tiny_tokenizer / "tokenizer.json").read_text())["model"]["vocab"]
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        vision_config=dict(
            image_size=224,
            patch_size=32,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
        ),
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    out = snapshot_dir(root, hub.CLIP)
    _json(out / "config.json", config.to_dict())
    _json(out / "preprocessor_config.json", CLIP_PROCESSOR)
    torch.save(model.state_dict(), out / "pytorch_model.bin")
    _tokenizer_files(tiny_tokenizer, out, 77)


#: SDXL-Turbo's model index and scheduler as its repository has them (Euler ancestral on
#: trailing timesteps: what `fastgen_book.sd.pipeline`'s "euler_a" copies for tiny-turbo)
SDXL_TURBO_MODEL_INDEX = {
    "_class_name": "StableDiffusionXLPipeline",
    "_diffusers_version": "0.24.0.dev0",
    "feature_extractor": [None, None],
    "force_zeros_for_empty_prompt": True,
    "image_encoder": [None, None],
    "scheduler": ["diffusers", "EulerAncestralDiscreteScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "tokenizer_2": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
SDXL_TURBO_SCHEDULER = {
    "_class_name": "EulerAncestralDiscreteScheduler",
    "_diffusers_version": "0.24.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "trailing",
    "trained_betas": None,
    "use_karras_sigmas": False,
}


def _sdxl_turbo(root: Path) -> None:
    """SDXL's layout with small random parts: two CLIP text encoders (the second with a
    projection, whose pooled output SDXL's UNet reads), a UNet with SDXL's "text_time" added
    conditioning, the tiny model's autoencoder (factor 8, as SDXL's) and tokenizer; fp16 variant
    files, as `fetch sdxl-turbo` downloads."""
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tiny = tiny_model_dir() / "pipeline"
    vocab = json.loads((tiny / "tokenizer" / "tokenizer.json").read_text())["model"]["vocab"]
    out = snapshot_dir(root, hub.SDXL_TURBO)
    _json(out / "model_index.json", SDXL_TURBO_MODEL_INDEX)
    _json(out / "scheduler" / "scheduler_config.json", SDXL_TURBO_SCHEDULER)
    text = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=SD_TOKENS,
        projection_dim=32,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    torch.manual_seed(0)
    parts = {
        "text_encoder": CLIPTextModel(text),
        "text_encoder_2": CLIPTextModelWithProjection(text),
        # SDXL's added conditioning: 6 size numbers embedded at 8 each + the pooled text (32)
        "unet": UNet2DConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=1,
            sample_size=64,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=6 * 8 + 32,
            cross_attention_dim=64,
            norm_num_groups=8,
        ),
    }
    for name, model in parts.items():
        model.half().save_pretrained(out / name, variant="fp16", safe_serialization=True)
    (out / "vae").mkdir(parents=True, exist_ok=True)
    (out / "vae" / "config.json").write_text((tiny / "vae" / "config.json").read_text())
    _fp16(
        tiny / "vae" / "diffusion_pytorch_model.safetensors",
        out / "vae" / "diffusion_pytorch_model.fp16.safetensors",
    )
    for folder in ("tokenizer", "tokenizer_2"):
        _tokenizer_files(tiny / "tokenizer", out / folder, SD_TOKENS)


def build_cache(root: Path) -> Path:
    """The stand-in hub cache under `root`; returns it (what $HF_HUB_CACHE should name)."""
    root.mkdir(parents=True, exist_ok=True)
    _sd15(root)
    _lora(root, hub.LCM_LORA, "lcm-lora")
    _lora(root, hub.STYLE_LORA, "style-lora")
    _clip(root)
    _sdxl_turbo(root)
    for repo in (*hub.GPU_TIER, hub.SDXL_TURBO):
        write_tree_listing(root, repo)
    return root


def standin_env(cache: Path) -> dict[str, str]:
    """Environment variables that run the gpu tier on the stand-in: offline, on the CPU."""
    return {
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "FASTGEN_GPU_DEVICE": "cpu",
        "FASTGEN_SD_TIER": "auto",
    }
