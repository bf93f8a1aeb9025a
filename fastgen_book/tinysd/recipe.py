"""The recipe of the shipped tiny model: one command per stage, each stage recorded (config,
seconds, the machine's speed before and after (`fastgen_book.tinysd.speed`), machine, library
versions,
date and the command itself) in `record.json` beside the weights, so that the model card can
say exactly what produced them.

    python -m fastgen_book train tiny-sd     # autoencoder, then UNet + text encoder -> pipeline/
    python -m fastgen_book train judge       # the classifier that scores images ->
    judge.safetensors
    python -m fastgen_book train lcm-lora    # LCM-LoRA distilled from the base -> lcm-lora/
    python -m fastgen_book train lcm-lora-small  # the same at rank 4 (about SD v1.5's share)
    python -m fastgen_book train style-lora  # "outlined" style LoRA -> style-lora/
    python -m fastgen_book train paper       # a fine-tune on paper backgrounds -> paper-unet/,
                                        # and its earlier steps -> paper-drift/step-N/
    python -m fastgen_book train tiny-turbo  # a 1-4 step student by adversarial diffusion
                                        # distillation -> turbo-unet/

Every shipped hyperparameter is here: each stage's steps (`STAGES`), and its config
(`vae_recipe`, `unet_recipe`, `style_lora_recipe`, `paper_recipe`, `lcm_lora_recipe`,
`small_lcm_lora_recipe`, `turbo_recipe`); the
judge's training is the library's own (`fastgen_book.sd.judge.train_judge`), since the pages score
with it.
"""

from __future__ import annotations

import datetime
import json
import platform
from pathlib import Path

import torch

from fastgen_book import atomic
from fastgen_book._checks import check_choice
from fastgen_book.sd import shapes
from fastgen_book.sd.tiers import read_record
from fastgen_book.tinysd.add import ADDConfig
from fastgen_book.tinysd.config import TrainConfig
from fastgen_book.tinysd.lcm import LCMLoRAConfig

#: stage -> (what it writes in the model folder, default training steps)
STAGES = {
    "tiny-sd": ("pipeline", 12000),
    "judge": ("judge.safetensors", 2000),
    "lcm-lora": ("lcm-lora", LCMLoRAConfig.steps),  # why that many: see its comment
    "lcm-lora-small": ("lcm-lora-small", LCMLoRAConfig.steps),
    "style-lora": ("style-lora", 600),
    "paper": ("paper-unet", 600),
    "tiny-turbo": ("turbo-unet", ADDConfig.steps),
}
#: the stages that make the model (the judge only measures it): the chain whose time counts
MODEL_STAGES = tuple(s for s in STAGES if s != "judge")
#: autoencoder steps of the tiny-sd stage (its UNet steps are the stage's steps)
VAE_STEPS = 2400
STYLE_LORA_RANK = 8
#: the small LCM-LoRA's rank: 60,032 parameters, 8.3% of tiny-sd's UNet, near the 7.8% that the
#: published LCM-LoRA is of SD v1.5's (`fastgen_book.sd.hub`); the shipped one (rank 16) is 33%
SMALL_LCM_LORA_RANK = 4


def vae_recipe(steps: int) -> TrainConfig:
    """The shipped autoencoder's training. It sees every style and background, as SD's VAE sees
    all of its data, so the style LoRA and the fine-tuned variant share it. L1 plus 10 times the
    squared error, from a posterior std near 0.14 (logvar offset -4); what else was tried:
    `fastgen_book/sd/weights/tiny-sd/NOTES.md`."""
    return TrainConfig(
        steps=steps,
        batch=32,
        lr=3e-3,
        schedule="cosine",
        styles=shapes.STYLES,
        backgrounds=tuple(shapes.BACKGROUNDS),
        logvar_offset=-4.0,
        mse_weight=10.0,
    )


def unet_recipe(steps: int) -> TrainConfig:
    """The shipped UNet + text encoder training: constant 5e-4 with a cosine decay over the last
    3000 steps; a truncated-SNR warm-up for the first 1500 steps (layout first), then the plain
    epsilon loss; batches drawn from a pool of 65,536 images encoded once (never more images
    than the run draws)."""
    batch = 64
    return TrainConfig(
        steps=steps,
        batch=batch,
        lr=5e-4,
        decay_steps=min(3000, steps),
        weighting="truncated-snr",
        snr_floor=0.3,
        weighting_until=1500,
        pool=min(65_536, batch * steps),
    )


def style_lora_recipe(steps: int) -> TrainConfig:
    """The shipped style LoRA's training: the outlined style alone, batch 32, 1e-3."""
    return TrainConfig(steps=steps, batch=32, lr=1e-3, styles=("outlined",))


def paper_recipe(steps: int) -> TrainConfig:
    """The shipped fine-tune: paper backgrounds, batch 64, a constant 2e-4 (why that rate:
    `fastgen_book/sd/weights/tiny-sd/NOTES.md`)."""
    return TrainConfig(steps=steps, batch=64, lr=2e-4, backgrounds=("paper",))


def lcm_lora_recipe(steps: int) -> LCMLoRAConfig:
    """The shipped LCM-LoRA distillation: `LCMLoRAConfig`'s defaults, whose values are
    explained in `fastgen_book/sd/weights/tiny-sd/NOTES.md`."""
    return LCMLoRAConfig(steps=steps)


def small_lcm_lora_recipe(steps: int) -> LCMLoRAConfig:
    """The small LCM-LoRA: the shipped distillation at rank `SMALL_LCM_LORA_RANK`."""
    return LCMLoRAConfig(steps=steps, rank=SMALL_LCM_LORA_RANK)


def turbo_recipe(steps: int) -> ADDConfig:
    """The shipped ADD run: `ADDConfig`'s defaults (`fastgen_book.tinysd.add`), the teacher's
    target at the base model's swept guidance."""
    return ADDConfig(steps=steps)


def paper_snapshots(steps: int) -> tuple[int, ...]:
    """The fine-tune's earlier step counts the paper stage also ships (`paper-drift/step-N`):
    its learning rate is constant, so each is the fine-tune that many steps would give, a
    fine-tune that drifted less far from the base."""
    from fastgen_book.sd.pipeline import PAPER_DRIFT_STEPS

    return tuple(n for n in PAPER_DRIFT_STEPS if n < steps)


def _versions() -> dict:
    import diffusers
    import peft
    import transformers

    return {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }


def _write_record(model_dir: Path, stage: str, record: dict) -> None:
    records = read_record(model_dir)
    records[stage] = record
    atomic.write_text(model_dir / "record.json", json.dumps(records, indent=2) + "\n")


def _base_pipeline(model_dir: Path):
    from diffusers import StableDiffusionPipeline

    path = model_dir / "pipeline"
    if not (path / "model_index.json").exists():
        raise FileNotFoundError(
            f"no base model at {path}: first run "
            f"`python -m fastgen_book train tiny-sd --out {model_dir}`"
        )
    pipe = StableDiffusionPipeline.from_pretrained(
        path, use_safetensors=True, local_files_only=True, safety_checker=None
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_stage(
    stage: str,
    model_dir: Path,
    work_dir: Path,
    *,
    steps: int | None = None,
    vae_steps: int | None = None,
    progress: bool = True,
) -> dict:
    """Train one stage into `model_dir` (checkpoints in `work_dir`, so a rerun resumes) and
    record it. Later stages start from the base model already in `model_dir`."""
    from fastgen_book.sd import judge as judge_mod
    from fastgen_book.tinysd import train
    from fastgen_book.tinysd.add import train_turbo
    from fastgen_book.tinysd.lcm import train_lcm_lora
    from fastgen_book.tinysd.loop import is_main_process, processes, wait_for_everyone
    from fastgen_book.tinysd.lora import replace_dir
    from fastgen_book.tinysd.speed import reference_step_ms

    check_choice(stage, STAGES, "stage")
    n_processes = processes()
    if stage == "judge" and n_processes > 1:
        raise ValueError("the judge trains in one process: run it without `accelerate launch`")
    model_dir, work_dir = Path(model_dir), Path(work_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    work_dir = work_dir / f"{stage}-{_fingerprint(stage, model_dir)}"
    steps = steps or STAGES[stage][1]
    vae_steps = vae_steps or VAE_STEPS
    shown = model_dir.resolve()
    if shown.is_relative_to(Path.cwd()):  # the record reads the same on every clone
        shown = shown.relative_to(Path.cwd())
    launcher = "python"
    if n_processes > 1:
        launcher = f"accelerate launch --multi_gpu --num_processes {n_processes}"
    command = f"{launcher} -m fastgen_book train {stage} --out {shown} --steps {steps}"
    speed_before = reference_step_ms()  # and after: this machine's speed drifts by the hour
    if stage == "tiny-sd":
        # built in the work folder and moved into place whole
        record = train.train_tiny_sd(work_dir, vae_recipe(vae_steps), unet_recipe(steps), progress)
        if is_main_process():
            replace_dir(work_dir / "pipeline", model_dir / "pipeline")
        command += f" --vae-steps {vae_steps}"
    elif stage == "judge":
        judge, record = judge_mod.train_judge(steps=steps)
        judge_mod.save_judge(judge, model_dir / "judge.safetensors")
    elif stage in ("lcm-lora", "lcm-lora-small"):
        recipe = lcm_lora_recipe if stage == "lcm-lora" else small_lcm_lora_recipe
        record = train_lcm_lora(
            _base_pipeline(model_dir), recipe(steps), work_dir, model_dir / stage, progress
        )
    elif stage == "style-lora":
        record = train.train_style_lora(
            _base_pipeline(model_dir),
            style_lora_recipe(steps),
            STYLE_LORA_RANK,
            work_dir,
            model_dir / "style-lora",
            progress,
        )
    elif stage == "tiny-turbo":
        record = train_turbo(
            _base_pipeline(model_dir),
            turbo_recipe(steps),
            work_dir,
            model_dir / "turbo-unet",
            progress,
        )
    else:  # paper
        pipe = _base_pipeline(model_dir)
        snapshots = paper_snapshots(steps)
        record = train.finetune_unet(
            pipe, paper_recipe(steps), work_dir, "paper", progress, snapshots
        )
        if is_main_process():
            train.save_unet(pipe.unet.to("cpu"), model_dir / "paper-unet")
            if snapshots:
                replace_dir(work_dir / "snapshots", model_dir / "paper-drift")
    record = {
        **record,
        "command": command,
        "threads": torch.get_num_threads(),
        "reference_step_ms": [speed_before, reference_step_ms()],
        "machine": f"{platform.machine()} CPU" if not torch.cuda.is_available() else "cuda",
        "versions": _versions(),
        "date": datetime.date.today().isoformat(),
    }
    if is_main_process():
        _write_record(model_dir, stage, record)
    wait_for_everyone()
    return record


def _fingerprint(stage: str, model_dir: Path) -> str:
    """What a stage's checkpoints depend on: the training code, and for the stages built on the
    base model, that model's weights. A checkpoint from other inputs is never resumed."""
    import hashlib

    from fastgen_book.book.imports import code_files
    from fastgen_book.book.source_hash import digest

    h = hashlib.sha256()
    h.update(digest(code_files("fastgen_book.tinysd.recipe")).encode())  # the recipes, the trainers
    if stage not in ("tiny-sd", "judge"):
        base = model_dir / "pipeline"
        h.update(digest(sorted(base.rglob("*.safetensors")), root=base).encode())
    return h.hexdigest()[:12]
