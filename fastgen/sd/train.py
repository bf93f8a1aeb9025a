"""Training the tiny model: the autoencoder, then the UNet and text encoder on its latents.

Runs are deterministic (seeded data stream and initialisation) and resumable: a checkpoint with
the weights, optimiser and generator state is written atomically every `save_every` steps, and a
run restarts from it.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from fastgen._checks import check_steps
from fastgen.sd import shapes


@dataclass(frozen=True)
class TrainConfig:
    """One training stage: what to train, for how long, on which slice of the data."""

    steps: int = 3000
    batch: int = 64
    lr: float = 1e-3
    style: str = "filled"
    background: str = "black"
    cfg_dropout: float = 0.1
    save_every: int = 500
    seed: int = 0

    def __post_init__(self):
        check_steps(self.steps, "steps")
        check_steps(self.batch, "batch")


def batches(config: TrainConfig, generator: torch.Generator):
    """Endless (images in [-1, 1], captions) from the seeded procedural data set."""
    while True:
        items = shapes.sample_items(config.batch, generator=generator)
        images = shapes.render(
            items, generator=generator, style=config.style, background=config.background
        )
        yield images * 2 - 1, [i.caption for i in items]


def _save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _resume(path: Path, modules: dict, opt, generator) -> int:
    if not path.exists():
        return 0
    state = torch.load(path, weights_only=False)
    for name, module in modules.items():
        module.load_state_dict(state["modules"][name])
    opt.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return state["step"]


def _resumable_loop(
    name: str,
    modules: dict,
    params: list,
    step_fn,
    config: TrainConfig,
    run_dir: Path,
    progress: bool,
    generator: torch.Generator,
) -> dict:
    """The training loop both stages share: resume from `run_dir/<name>.ckpt` if present, run
    `step_fn(batch) -> loss` up to `config.steps`, checkpoint atomically every `save_every`."""
    from tqdm.auto import tqdm

    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / f"{name}.ckpt"
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    start = _resume(ckpt, modules, opt, generator)
    data = batches(config, generator)
    for module in modules.values():
        module.train()
    t0 = time.perf_counter()
    loss = torch.tensor(float("nan"))
    for step in tqdm(
        range(start, config.steps),
        initial=start,
        total=config.steps,
        disable=not progress,
        desc=name,
    ):
        loss = step_fn(next(data))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
            _save(
                ckpt,
                {
                    "modules": {k: m.state_dict() for k, m in modules.items()},
                    "optimizer": opt.state_dict(),
                    "generator": generator.get_state(),
                    "step": step + 1,
                },
            )
    for module in modules.values():
        module.eval()
    return {"seconds": time.perf_counter() - t0, "final_loss": loss.item(), **asdict(config)}


def train_vae(vae, config: TrainConfig, run_dir: Path, progress: bool = True) -> dict:
    """Reconstruction (L1) plus a small KL term (Rombach et al. 2022, sec. 3, without the
    perceptual and adversarial terms)."""
    g = torch.Generator().manual_seed(config.seed)

    def step(batch):
        x, _ = batch
        posterior = vae.encode(x).latent_dist
        recon = vae.decode(posterior.sample(generator=g)).sample
        return F.l1_loss(recon, x) + 1e-6 * posterior.kl().mean()

    return _resumable_loop(
        "vae", {"vae": vae}, list(vae.parameters()), step, config, run_dir, progress, g
    )


@torch.no_grad()
def latent_scale(vae, generator: torch.Generator, n: int = 512) -> float:
    """1 / std of the latents, SD's `scaling_factor` (0.18215 for SD v1.5), measured on data."""
    items = shapes.sample_items(n, generator=generator)
    x = shapes.render(items, generator=generator) * 2 - 1
    return float(1 / vae.encode(x).latent_dist.mean.std())


def encode_prompts(pipe, captions: list[str]) -> torch.Tensor:
    """Text-encoder hidden states for a batch of captions (padded to the tokenizer's length)."""
    ids = pipe.tokenizer(
        captions,
        padding="max_length",
        max_length=pipe.tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    return pipe.text_encoder(ids)[0]


def train_unet(pipe, config: TrainConfig, run_dir: Path, progress: bool = True) -> dict:
    """Epsilon prediction on latents (Ho et al. 2020, eq. 14; Rombach et al. 2022, eq. 3), with
    the text encoder trained jointly and `cfg_dropout` of captions emptied for classifier-free
    guidance (Ho & Salimans 2022)."""
    g = torch.Generator().manual_seed(config.seed + 1)
    sched = pipe.scheduler
    scale = pipe.vae.config.scaling_factor

    def step(batch):
        x, captions = batch
        drop = torch.rand(len(captions), generator=g) < config.cfg_dropout
        captions = ["" if d else c for c, d in zip(captions, drop.tolist(), strict=True)]
        with torch.no_grad():
            latents = pipe.vae.encode(x).latent_dist.sample(generator=g) * scale
        noise = torch.randn(latents.shape, generator=g)
        t = torch.randint(0, sched.config.num_train_timesteps, (len(captions),), generator=g)
        noisy = sched.add_noise(latents, noise, t)
        pred = pipe.unet(noisy, t, encoder_hidden_states=encode_prompts(pipe, captions)).sample
        return F.mse_loss(pred, noise)

    modules = {"unet": pipe.unet, "text_encoder": pipe.text_encoder}
    params = list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
    return _resumable_loop("unet", modules, params, step, config, run_dir, progress, g)


def train_tiny_sd(
    out_dir: Path, vae_steps: int = 2000, unet_steps: int = 5000, progress: bool = True
) -> dict:
    """The whole base-model chain: autoencoder, latent scale, UNet + text encoder; saves the
    pipeline (safetensors) and a record of what produced it to `out_dir`."""
    import json
    import platform

    from fastgen.sd.tiny import TinySDConfig, build_pipeline

    config = TinySDConfig()
    pipe = build_pipeline(config)
    run_dir = out_dir / "checkpoints"
    vae_record = train_vae(pipe.vae, TrainConfig(steps=vae_steps, lr=1e-3), run_dir, progress)
    scale = latent_scale(pipe.vae, torch.Generator().manual_seed(123))
    pipe.vae.register_to_config(scaling_factor=scale)
    unet_record = train_unet(pipe, TrainConfig(steps=unet_steps, lr=5e-4), run_dir, progress)
    pipe.save_pretrained(out_dir / "pipeline", safe_serialization=True)
    record = {
        "model": asdict(config),
        "vae": vae_record,
        "unet": unet_record,
        "latent_scaling_factor": scale,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "command": f"python -m fastgen train tiny-sd --out {out_dir} --vae-steps {vae_steps} "
        f"--unet-steps {unet_steps}",
    }
    (out_dir / "record.json").write_text(json.dumps(record, indent=2))
    return record
