"""`fastgen_book.sd`'s front door: load a tier, swap schedulers, generate with a record of what ran.
The same functions drive the tiny CPU model and SD v1.5 on a GPU; adapters live in
`fastgen_book.sd.adapters` (re-exported here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
    StableDiffusionPipeline,
)

from fastgen_book._checks import check_choice, check_steps
from fastgen_book.sd import device, hub
from fastgen_book.sd.adapters import (
    STYLE_ENV,
    TINY_ADAPTERS,
    AdapterSource,
    adapter_source,
    fuse_adapters,
    load_adapter,
    prompt_with_triggers,
    set_adapters,
    unfuse_adapters,
    unload_adapters,
)
from fastgen_book.sd.budget import budget_for
from fastgen_book.sd.quiet import quiet_loading
from fastgen_book.sd.tiers import (
    TIER_ENV,
    TIERS,
    TINY_ENV,
    fallback_notice,
    resolve_tier,
    tiny_model_dir,
)
from fastgen_book.timing import interleaved

SD15_ID = hub.SD15.repo_id
#: the paper fine-tune's earlier step counts the tiny model ships (the full one has 600 steps)
PAPER_DRIFT_STEPS = (75, 150, 300)
#: variant -> the UNet folder that replaces the base one (the tiny tier's fine-tunes)
TINY_VARIANTS = {
    "base": None,
    **{f"paper-{n}": f"paper-drift/step-{n}" for n in PAPER_DRIFT_STEPS},
    "paper": "paper-unet",
    # tiny-turbo: a full student UNet by adversarial diffusion distillation (no guidance, 1-4
    # steps of `euler_a`, as SDXL-Turbo runs)
    "turbo": "turbo-unet",
}
#: variant -> the training stage that writes it (`python -m fastgen_book train STAGE`)
VARIANT_STAGES = {"turbo": "tiny-turbo"}

#: Scheduler name -> (class, extra config). Each swap keeps the pipeline's original config.
SCHEDULERS = {
    "ddpm": (DDPMScheduler, {}),
    "ddim": (DDIMScheduler, {}),
    "dpmpp_2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "lcm": (LCMScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    # Euler ancestral with the "trailing" timesteps (999, 749, ... at 4 steps): the scheduler
    # SDXL-Turbo ships with, and the timesteps tiny-turbo was distilled at
    "euler_a": (EulerAncestralDiscreteScheduler, {"timestep_spacing": "trailing"}),
}


@dataclass
class Loaded:
    """A pipeline and what it is: tier, model ids, device, loaded adapters."""

    pipe: StableDiffusionPipeline
    tier: str
    model_id: str
    device: str
    variant: str = "base"
    adapters: dict[str, AdapterSource] = field(default_factory=dict)
    fused: dict[str, float] = field(default_factory=dict)  # adapters merged into the weights
    #: the base weights fusing rewrote, kept on the CPU until unfusing restores them
    base_backup: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    #: The scheduler config the model shipped with; every swap starts from it, so options of
    #: one sampler (e.g. DPM-Solver++'s solver_order) never leak into the next.
    base_scheduler_config: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.base_scheduler_config:
            self.base_scheduler_config = dict(self.pipe.scheduler.config)


def _load_tiny(variant: str) -> Loaded:
    path = tiny_model_dir() / "pipeline"
    if not (path / "model_index.json").exists():
        raise FileNotFoundError(
            f"no tiny model at {path}; train it with `python -m fastgen_book train tiny-sd "
            f"--out {tiny_model_dir()}` or set ${TINY_ENV}"
        )
    with quiet_loading():
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
            stage = VARIANT_STAGES.get(variant, "paper")
            raise FileNotFoundError(
                f"no {variant!r} variant at {unet_path}; train it with "
                f"`python -m fastgen_book train {stage} --out {tiny_model_dir()}`"
            )
        with quiet_loading():
            pipe.unet = UNet2DConditionModel.from_pretrained(unet_path, use_safetensors=True)
        model_id = (
            "fastgen tiny-turbo" if variant == "turbo" else f"{model_id} ({variant} fine-tune)"
        )
    return Loaded(pipe, "tiny", model_id, "cpu", variant)


def _load_gpu() -> Loaded:
    if not device.gpu_available():
        raise RuntimeError(
            f"tier 'gpu' needs a {device.gpu_device().type} device, which this machine lacks; "
            f"use tier='tiny' here"
        )
    gone = hub.missing_report((hub.SD15,))
    if gone:
        raise FileNotFoundError(
            f"SD v1.5 is not fully in the Hugging Face cache ({gone}); download it once, "
            f"outside the build, with `{hub.FETCH_COMMAND}`"
        )
    with quiet_loading():
        pipe = StableDiffusionPipeline.from_pretrained(
            SD15_ID,
            dtype=device.gpu_dtype(),
            variant="fp16",
            use_safetensors=True,
            local_files_only=True,
            cache_dir=hub.cache_dir(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    if device.gpu_device().type != "cpu":  # loaded there already
        pipe.to(device.gpu_device())
    pipe.set_progress_bar_config(disable=True)
    pipe.vae.enable_slicing()  # decode image by image: 8 images at 512 px need ~4 GiB at once
    return Loaded(pipe, "gpu", SD15_ID, str(device.gpu_device()))


def load_pipeline(tier: str = "auto", *, variant: str = "base") -> Loaded:
    """Load the tiny model (CPU) or SD v1.5 in fp16 (gpu tier) from local files only; never
    downloads. `auto` on a machine with the accelerator but without every file prints a
    one-line notice before it loads the tiny model; asking for `gpu` without the files says
    which are missing and how to get them. `variant="paper"` is the tiny model's fine-tune,
    "paper-N" the same fine-tune after N of its steps (`PAPER_DRIFT_STEPS`), "turbo" its
    adversarially distilled student (`fastgen_book.tinysd.add`)."""
    requested = tier
    tier = resolve_tier(tier)
    check_choice(variant, TINY_VARIANTS, "variant")
    if tier == "gpu" and variant != "base":
        raise ValueError(
            "variants are the tiny model's fine-tunes; the gpu tier loads SD v1.5 itself"
        )
    if tier == "tiny":
        if requested == "auto" and (notice := fallback_notice()):
            print(notice)
        return _load_tiny(variant)
    return _load_gpu()


def set_scheduler(loaded: Loaded, name: str) -> None:
    """Swap the sampler, keeping the pipeline's noise-schedule config."""
    cls, extra = SCHEDULERS[check_choice(name, SCHEDULERS, "scheduler")]
    loaded.pipe.scheduler = cls.from_config(loaded.base_scheduler_config, **extra)


def nfe_per_image(steps: int, guidance: float) -> int:
    """UNet evaluations: one per step, two with classifier-free guidance (guidance > 1)."""
    return steps * (2 if guidance > 1 else 1)


def _check_length(loaded: Loaded, prompt: str) -> None:
    tok = loaded.pipe.tokenizer
    n = len(tok(prompt).input_ids)
    if n > tok.model_max_length:
        raise ValueError(
            f"prompt is {n} tokens, the tokenizer allows {tok.model_max_length} "
            f"(special tokens included); shorten it"
        )


def _check_prompt(loaded: Loaded, prompt: str) -> None:
    _check_length(loaded, prompt)
    if loaded.tier == "tiny":  # it has only ever seen the data set's 48 captions
        from fastgen_book.sd.shapes import parse_caption

        parse_caption(prompt)


def _versions() -> dict[str, str]:
    import diffusers
    import peft
    import transformers

    return {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }


def run_batches(
    loaded: Loaded, batches: list[list[str]], steps: int, guidance: float, seed: int
) -> torch.Tensor:
    """The pipeline as it stands (scheduler and adapters already set) on each batch of prompts,
    one seeded CPU generator for all (the same noise on any device): images [n, 3, H, W] in
    [0, 1] on the CPU. An fp16 overflow (NaN pixels, which would be stored as black images and
    scored as if drawn) raises, naming the prompts."""
    g = device.seeded_generator(seed)
    out = []
    for chunk in batches:
        images = loaded.pipe(
            chunk,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=g,
            output_type="pt",
        ).images
        finite = torch.isfinite(images).flatten(1).all(1).cpu()
        if not finite.all():
            bad = [p for p, ok in zip(chunk, finite.tolist(), strict=True) if not ok]
            raise FloatingPointError(
                f"{loaded.model_id} ({loaded.pipe.unet.dtype}) produced NaN or infinite pixels "
                f"for {bad} at {steps} steps, guidance {guidance}: an fp16 overflow; run in "
                f"float32 ({device.DTYPE_ENV}=float32) or report the setting"
            )
        out.append(images.float().cpu())
    return torch.cat(out)


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
    batch_size: int | None = None,
):
    """Images (a [n, 3, H, W] float tensor in [0, 1], on the CPU) and a record of the run:
    median wall time of `repeats` runs (accelerator synchronised) after a one-step warm-up of
    the same batch shape (`warmup=False` skips it), steps, NFE, scheduler, guidance, seed,
    tier, model, adapters, device and library versions. Prompts go through the pipeline
    `batch_size` at a time (default: the tier's budget), one seeded generator for the run."""
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
    adapters = dict(adapters or {})
    sent = [prompt_with_triggers(loaded, p, adapters) for p in prompts]
    for p in set(sent) - set(prompts):
        _check_length(loaded, p)
    size = batch_size or budget_for(loaded.tier).batch_size or len(sent)
    chunks = [sent[i : i + size] for i in range(0, len(sent), size)]

    if warmup:
        run_batches(loaded, chunks[:1], 1, guidance, seed)
    last = {}  # the images of the last timed run

    def run():
        last["images"] = run_batches(loaded, chunks, steps, guidance, seed)

    sync = partial(device.synchronize, loaded.device)
    timing = interleaved({"run": run}, repeats, warmup=0, per=len(prompts), sync=sync)["run"]
    images = last["images"]
    record = {
        "prompts": prompts,
        "scheduler": scheduler,
        "steps": steps,
        "nfe_per_image": nfe_per_image(steps, guidance),
        "guidance": guidance,
        "adapters": adapters,
        "seed": seed,
        "warmup": warmup,
        "batch_size": size,
        "tier": loaded.tier,
        "model": loaded.model_id,
        "variant": loaded.variant,
        "adapter_sources": {k: str(loaded.adapters[k]) for k in adapters},
        "fused": bool(loaded.fused),
        "device": device.device_name(loaded.device),
        "ms_per_image": timing.median_ms,
        "versions": _versions(),
    }
    if sent != prompts:
        record["prompts_sent"] = sent
    return images, record


__all__ = [
    "Loaded",
    "SCHEDULERS",
    "STYLE_ENV",
    "TIERS",
    "TIER_ENV",
    "TINY_ADAPTERS",
    "TINY_ENV",
    "TINY_VARIANTS",
    "PAPER_DRIFT_STEPS",
    "adapter_source",
    "fuse_adapters",
    "generate",
    "load_adapter",
    "load_pipeline",
    "nfe_per_image",
    "resolve_tier",
    "set_adapters",
    "set_scheduler",
    "tiny_model_dir",
    "unfuse_adapters",
    "unload_adapters",
]
