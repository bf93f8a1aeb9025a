"""`fastgen.sd`'s front door: load a tier, swap schedulers, manage LoRA adapters, generate with a
record of what ran. The same functions drive the tiny CPU model and SD v1.5 on a GPU.
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
    StableDiffusionPipeline,
)

from fastgen._checks import check_choice, check_steps

TIERS = ("tiny", "gpu", "auto")
TIER_ENV = "FASTGEN_SD_TIER"
TINY_ENV = "FASTGEN_TINY_SD"
STYLE_ENV = "FASTGEN_STYLE_LORA"
SD15_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
LCM_LORA_SD15_ID = "latent-consistency/lcm-lora-sdv1-5"
#: adapter name -> its folder in the tiny model
TINY_ADAPTERS = {"lcm": "lcm-lora", "style": "style-lora"}
#: variant -> the UNet folder that replaces the base one (the tiny tier's fine-tunes)
TINY_VARIANTS = {"base": None, "paper": "paper-unet"}

#: Scheduler name -> (class, extra config). Each swap keeps the pipeline's original config.
SCHEDULERS = {
    "ddpm": (DDPMScheduler, {}),
    "ddim": (DDIMScheduler, {}),
    "dpmpp_2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "lcm": (LCMScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
}


@dataclass
class Loaded:
    """A pipeline and what it is: tier, model ids, device, loaded adapters."""

    pipe: StableDiffusionPipeline
    tier: str
    model_id: str
    device: str
    variant: str = "base"
    adapters: dict[str, str] = field(default_factory=dict)  # name -> where it came from
    fused: dict[str, float] = field(default_factory=dict)  # adapters merged into the weights
    #: The scheduler config the model shipped with; every swap starts from it, so options of
    #: one sampler (e.g. DPM-Solver++'s solver_order) never leak into the next.
    base_scheduler_config: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.base_scheduler_config:
            self.base_scheduler_config = dict(self.pipe.scheduler.config)


def tiny_model_dir() -> Path:
    """The shipped tiny model: $FASTGEN_TINY_SD, else fastgen/sd/weights/tiny-sd."""
    default = Path(__file__).parent / "weights" / "tiny-sd"
    return Path(os.environ.get(TINY_ENV, default))


def _gpu_weights_present(sd_path: str | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    if sd_path is not None:
        return Path(sd_path).exists()
    found = try_to_load_from_cache(SD15_ID, "model_index.json")
    return isinstance(found, str)


def resolve_tier(tier: str = "auto", sd_path: str | None = None) -> str:
    """`auto` (or $FASTGEN_SD_TIER) -> `gpu` when CUDA and SD v1.5 weights are present, else
    `tiny`."""
    tier = os.environ.get(TIER_ENV, tier) if tier == "auto" else tier
    check_choice(tier, TIERS, "tier")
    if tier != "auto":
        return tier
    return "gpu" if torch.cuda.is_available() and _gpu_weights_present(sd_path) else "tiny"


class _DropNoTextEncoderKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No LoRA keys associated to CLIPTextModel")


@contextmanager
def _quiet_loading():
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


def load_pipeline(
    tier: str = "auto", *, variant: str = "base", sd_path: str | None = None
) -> Loaded:
    """Load the tiny model (CPU) or SD v1.5 in fp16 (GPU) from local files only; never
    downloads. Asking for `gpu` without the weights says how to get them. `variant="paper"`
    loads the tiny model's fine-tune (on the GPU tier, pass a fine-tune's folder as sd_path)."""
    tier = resolve_tier(tier, sd_path)
    check_choice(variant, TINY_VARIANTS, "variant")
    if tier == "gpu" and variant != "base":
        raise ValueError(
            "variants are the tiny model's fine-tunes; on the gpu tier pass a fine-tuned SD "
            "v1.5 folder as sd_path instead"
        )
    if tier == "tiny":
        path = tiny_model_dir() / "pipeline"
        if not (path / "model_index.json").exists():
            raise FileNotFoundError(
                f"no tiny model at {path}; train it with `python -m fastgen train tiny-sd "
                f"--out {tiny_model_dir()}` or set ${TINY_ENV}"
            )
        with _quiet_loading():
            pipe = StableDiffusionPipeline.from_pretrained(
                path,
                use_safetensors=True,
                local_files_only=True,
                safety_checker=None,
                requires_safety_checker=False,
            )
        pipe.set_progress_bar_config(disable=True)
        model_id = "fastgen tiny-sd"
        if TINY_VARIANTS[variant] is not None:
            from diffusers import UNet2DConditionModel

            unet_path = tiny_model_dir() / TINY_VARIANTS[variant]
            if not (unet_path / "config.json").exists():
                raise FileNotFoundError(
                    f"no {variant!r} variant at {unet_path}; train it with "
                    f"`python -m fastgen train {variant} --out {tiny_model_dir()}`"
                )
            with _quiet_loading():
                pipe.unet = UNet2DConditionModel.from_pretrained(unet_path, use_safetensors=True)
            model_id += f" ({variant} fine-tune)"
        return Loaded(pipe, "tiny", model_id, "cpu", variant)
    if not torch.cuda.is_available():
        raise RuntimeError("tier 'gpu' needs a CUDA device; use tier='tiny' on this machine")
    if not _gpu_weights_present(sd_path):
        raise FileNotFoundError(
            f"SD v1.5 weights are not in the local Hugging Face cache. Download them once, "
            f"outside the build: `huggingface-cli download {SD15_ID}` and "
            f"`huggingface-cli download {LCM_LORA_SD15_ID}`, or pass sd_path=<local folder>"
        )
    with _quiet_loading():
        pipe = StableDiffusionPipeline.from_pretrained(
            sd_path or SD15_ID,
            torch_dtype=torch.float16,
            use_safetensors=True,
            local_files_only=True,
            safety_checker=None,
            requires_safety_checker=False,
        ).to("cuda")
    pipe.set_progress_bar_config(disable=True)
    return Loaded(pipe, "gpu", sd_path or SD15_ID, "cuda")


def set_scheduler(loaded: Loaded, name: str) -> None:
    """Swap the sampler, keeping the pipeline's noise-schedule config."""
    cls, extra = SCHEDULERS[check_choice(name, SCHEDULERS, "scheduler")]
    loaded.pipe.scheduler = cls.from_config(loaded.base_scheduler_config, **extra)


def adapter_source(loaded: Loaded, name: str) -> str:
    """Where adapter `name` comes from by default: the tiny model's own folders, or on the GPU
    tier the published LCM-LoRA (local cache) and a style LoRA named by $FASTGEN_STYLE_LORA."""
    check_choice(name, TINY_ADAPTERS, "adapter")
    if loaded.tier == "tiny":
        path = tiny_model_dir() / TINY_ADAPTERS[name]
        if not path.exists():
            raise FileNotFoundError(
                f"no {name!r} adapter at {path}; train it with "
                f"`python -m fastgen train {TINY_ADAPTERS[name]} --out {tiny_model_dir()}`"
            )
        return str(path)
    if name == "lcm":
        return LCM_LORA_SD15_ID
    if STYLE_ENV not in os.environ:
        raise FileNotFoundError(
            f"no style LoRA for SD v1.5: set ${STYLE_ENV} to a local LoRA folder or file"
        )
    return os.environ[STYLE_ENV]


def load_adapter(loaded: Loaded, name: str, path: str | Path | None = None) -> None:
    """Load a LoRA (safetensors only) under `name` (from `adapter_source` when no path is
    given); it starts active at weight 1."""
    path = adapter_source(loaded, name) if path is None else path
    with _quiet_loading():
        loaded.pipe.load_lora_weights(
            str(path), adapter_name=name, use_safetensors=True, local_files_only=True
        )
    loaded.adapters[name] = str(path)


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


def fuse_adapters(loaded: Loaded, weights: dict[str, float]) -> None:
    """Merge these adapters into the UNet's weights (W0 + scale * BA, Hu et al. 2022, sec. 4.1),
    so a step costs what the base model's does; `unfuse_adapters` takes them out again."""
    if loaded.fused:
        raise ValueError(f"adapters {loaded.fused} are already fused; call unfuse_adapters first")
    if not weights:
        raise ValueError("fuse_adapters needs at least one adapter, e.g. {'lcm': 1.0}")
    set_adapters(loaded, weights)
    loaded.pipe.fuse_lora(adapter_names=list(weights))
    loaded.fused = dict(weights)


def unfuse_adapters(loaded: Loaded) -> None:
    """Subtract the fused adapters again (exact up to float rounding)."""
    loaded.pipe.unfuse_lora()
    loaded.fused = {}


def unload_adapters(loaded: Loaded) -> None:
    """Remove every LoRA: the base weights are exactly as loaded."""
    if loaded.fused:
        unfuse_adapters(loaded)
    loaded.pipe.unload_lora_weights()
    loaded.adapters.clear()


def nfe_per_image(steps: int, guidance: float) -> int:
    """UNet evaluations: one per step, two with classifier-free guidance (guidance > 1)."""
    return steps * (2 if guidance > 1 else 1)


def _check_prompt(loaded: Loaded, prompt: str) -> None:
    tok = loaded.pipe.tokenizer
    n = len(tok(prompt).input_ids)
    if n > tok.model_max_length:
        raise ValueError(
            f"prompt is {n} tokens, the tokenizer allows {tok.model_max_length} "
            f"(special tokens included); shorten it"
        )
    if loaded.tier == "tiny":  # it has only ever seen the data set's 48 captions
        from fastgen.sd.shapes import parse_caption

        parse_caption(prompt)


def generate(
    loaded: Loaded,
    prompt: str | list[str],
    *,
    scheduler: str = "dpmpp_2m",
    steps: int = 20,
    guidance: float = 7.5,
    adapters: dict[str, float] | None = None,
    seed: int = 0,
    repeats: int = 3,
    warmup: bool = True,
):
    """Images (a [n, 3, H, W] tensor in [0, 1]) and a record of the run: median wall time of
    `repeats` runs after a warm-up (CUDA synchronised; `warmup=False` skips it for runs long
    enough that start-up costs vanish in them), steps, NFE, scheduler, guidance, seed,
    tier, model, adapters, device and library versions."""
    import diffusers
    import peft
    import transformers

    check_steps(steps)
    check_steps(repeats, "repeats")
    if not guidance >= 0:
        raise ValueError(f"guidance must be >= 0, got {guidance!r}")
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    for p in prompts:
        _check_prompt(loaded, p)
    set_scheduler(loaded, scheduler)
    if loaded.fused:
        if adapters is not None and adapters != loaded.fused:
            raise ValueError(
                f"adapters {loaded.fused} are fused into the weights; pass adapters=None or "
                f"the same weights, or call unfuse_adapters first"
            )
        adapters = loaded.fused
    else:
        set_adapters(loaded, adapters or {})

    def run():
        g = torch.Generator(device=loaded.device).manual_seed(seed)
        return loaded.pipe(
            prompts,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=g,
            output_type="pt",
        ).images

    def sync():
        if loaded.device == "cuda":
            torch.cuda.synchronize()

    if warmup:
        run()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        images = run()
        sync()
        times.append(time.perf_counter() - start)
    record = {
        "prompts": prompts,
        "scheduler": scheduler,
        "steps": steps,
        "nfe_per_image": nfe_per_image(steps, guidance),
        "guidance": guidance,
        "adapters": dict(adapters or {}),
        "seed": seed,
        "warmup": warmup,
        "tier": loaded.tier,
        "model": loaded.model_id,
        "variant": loaded.variant,
        "adapter_sources": {k: loaded.adapters[k] for k in adapters or {}},
        "fused": bool(loaded.fused),
        "device": torch.cuda.get_device_name(0)
        if loaded.device == "cuda"
        else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)",
        "ms_per_image": 1000 * statistics.median(times) / len(prompts),
        "versions": {
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
        },
    }
    return images.float().cpu(), record


__all__ = [
    "Loaded",
    "SCHEDULERS",
    "adapter_source",
    "fuse_adapters",
    "unfuse_adapters",
    "TIERS",
    "generate",
    "load_adapter",
    "load_pipeline",
    "resolve_tier",
    "set_adapters",
    "set_scheduler",
    "unload_adapters",
]
