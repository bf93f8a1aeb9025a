"""The tiny model's training stages: the autoencoder, then the UNet and text encoder on its
latents, a fine-tune and a style LoRA, each run by the shared loop (`fastgen_book.tinysd.loop`).

Runs are deterministic (seeded data stream and initialisation) and resumable: the loop writes a
checkpoint with the weights, optimiser and generator state every `save_every` steps, and a run
restarts from it.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from fastgen_book.sd import shapes
from fastgen_book.tinysd.config import TrainConfig
from fastgen_book.tinysd.data import encode_pool, encode_prompts, sample_posterior
from fastgen_book.tinysd.loop import device, is_main_process, resumable_loop
from fastgen_book.tinysd.lora import LORA_TARGETS, add_seeded_adapter, replace_dir, save_lora
from fastgen_book.tinysd.weighting import loss_weights


@torch.no_grad()
def offset_logvar(vae, offset: float) -> None:
    """Shift the encoder's log-variance output by `offset` (its last 1x1 convolution's bias;
    Kingma & Welling 2014, sec. 2.4: z = mean + exp(logvar / 2) eps). An untrained encoder's
    posterior has std near 1, which buries the latents in noise while the decoder learns;
    -4 starts it near e^-2 = 0.14, about where the shipped autoencoder ends (0.145)."""
    if vae.quant_conv is None:
        raise ValueError("offset_logvar needs an autoencoder with a quant_conv (use_quant_conv)")
    vae.quant_conv.bias[vae.config.latent_channels :] += offset


def train_vae(vae, config: TrainConfig, run_dir: Path, progress: bool = True) -> dict:
    """Reconstruction (L1, plus `config.mse_weight` times the squared error) and a small KL term
    (Rombach et al. 2022, sec. 3, without the perceptual and adversarial terms), from a
    posterior shifted by `config.logvar_offset` (a resumed run's checkpoint replaces the
    shifted start)."""
    g = torch.Generator().manual_seed(config.seed)
    vae.to(device())
    if config.logvar_offset:
        offset_logvar(vae, config.logvar_offset)

    def step(batch, _step):
        x = batch[0].to(vae.device)
        posterior = vae.encode(x).latent_dist
        recon = vae.decode(posterior.sample(generator=g)).sample
        loss = F.l1_loss(recon, x) + 1e-6 * posterior.kl().mean()
        if config.mse_weight:
            loss = loss + config.mse_weight * F.mse_loss(recon, x)
        return loss

    return resumable_loop(
        "vae", {"vae": vae}, list(vae.parameters()), step, config, run_dir, progress, g
    )


@torch.no_grad()
def latent_scale(vae, generator: torch.Generator, n: int = 512) -> float:
    """1 / std of the latents, SD's `scaling_factor` (0.18215 for SD v1.5), measured on data."""
    items = shapes.sample_items(n, generator=generator)
    x = (shapes.render(items, generator=generator) * 2 - 1).to(vae.device)
    return float(1 / vae.encode(x).latent_dist.mean.std())


def noise_schedule(pipe):
    """The forward process the model was trained with (DDPM, Ho et al. 2020, eq. 4), rebuilt
    from the pipeline's scheduler config: a pipeline whose sampler was swapped (DPM-Solver++
    noises by its inference sigmas) still trains on the right noise levels."""
    from diffusers import DDPMScheduler

    return DDPMScheduler.from_config(pipe.scheduler.config)


def _denoising_stage(pipe, config: TrainConfig, g: torch.Generator):
    """(step_fn, make_data) for the epsilon-prediction loss (Ho et al. 2020, eq. 14, on latents
    as in Rombach et al. 2022, eq. 3), with `cfg_dropout` of captions emptied for classifier-free
    guidance (Ho & Salimans 2022), weighted per timestep by `config.weighting`; on fresh images
    or, with `config.pool`, on a `LatentPool`. With `config.weighting_until` the weighting is a
    warm-up: the layout (high-noise steps) first, then the plain loss for detail."""
    sched = noise_schedule(pipe)
    scale = pipe.vae.config.scaling_factor

    def pooled(gen):
        pool = encode_pool(pipe.vae, config)
        while True:
            yield pool.draw(config.batch, gen)

    @torch.no_grad()
    def to_latents(x):
        if config.pool:  # x: posterior (mean, std) from the pool
            return sample_posterior(x, g) * scale
        return pipe.vae.encode(x.to(pipe.device)).latent_dist.sample(generator=g) * scale

    def step(batch, step_index):
        x, captions = batch
        drop = torch.rand(len(captions), generator=g) < config.cfg_dropout
        captions = ["" if d else c for c, d in zip(captions, drop.tolist(), strict=True)]
        latents = to_latents(x)
        noise = torch.randn(latents.shape, generator=g).to(latents.device)
        t = torch.randint(0, sched.config.num_train_timesteps, (len(captions),), generator=g)
        t = t.to(latents.device)
        noisy = sched.add_noise(latents, noise, t)
        pred = pipe.unet(noisy, t, encoder_hidden_states=encode_prompts(pipe, captions)).sample
        if config.weighting == "epsilon" or 0 < config.weighting_until <= step_index:
            return F.mse_loss(pred, noise)
        loss = F.mse_loss(pred, noise, reduction="none").mean((1, 2, 3))
        weights = loss_weights(
            sched.alphas_cumprod, t, config.weighting, config.min_snr_gamma, config.snr_floor
        )
        return (loss * weights).mean()

    return step, pooled if config.pool else None


def train_unet(pipe, config: TrainConfig, run_dir: Path, progress: bool = True) -> dict:
    """The base model: UNet and text encoder trained jointly on the denoising loss."""
    g = torch.Generator().manual_seed(config.seed + 1)
    pipe.to(device())
    modules = {"unet": pipe.unet, "text_encoder": pipe.text_encoder}
    params = list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
    step, data = _denoising_stage(pipe, config, g)
    return resumable_loop("unet", modules, params, step, config, run_dir, progress, g, data)


def finetune_unet(
    pipe,
    config: TrainConfig,
    run_dir: Path,
    name: str,
    progress: bool = True,
    snapshots: tuple[int, ...] = (),
) -> dict:
    """A full fine-tune of the UNet alone (text encoder and autoencoder frozen) on a new slice of
    the data, as community fine-tunes of SD v1.5 are made. At each step count in `snapshots`
    the UNet is also saved whole to `run_dir/snapshots/step-N` (main process only): with a
    constant learning rate these are the fine-tunes that many steps would give."""
    g = torch.Generator().manual_seed(config.seed + 2)
    pipe.to(device())
    pipe.text_encoder.requires_grad_(False)
    pipe.unet.requires_grad_(True)
    step, data = _denoising_stage(pipe, config, g)
    params = list(pipe.unet.parameters())

    def snapshot(done: int) -> None:
        if done in snapshots and is_main_process():
            save_unet(pipe.unet, snapshot_dir(run_dir, done))

    record = resumable_loop(
        name,
        {"unet": pipe.unet},
        params,
        step,
        config,
        run_dir,
        progress,
        g,
        data,
        after_step=snapshot if snapshots else None,
    )
    missing = [n for n in snapshots if not snapshot_dir(run_dir, n).is_dir()]
    if missing and is_main_process():
        raise RuntimeError(
            f"{run_dir}: the run resumed past snapshot step(s) {missing} it never saved; "
            "delete that folder and train the stage again"
        )
    return {**record, "snapshots": list(snapshots)}


def snapshot_dir(run_dir: Path, steps: int) -> Path:
    """Where `finetune_unet` keeps the UNet after `steps` steps."""
    return run_dir / "snapshots" / f"step-{steps}"


def save_unet(unet, out: Path) -> None:
    """A diffusers UNet folder written whole or not at all (saved beside, then moved in)."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    unet.save_pretrained(tmp, safe_serialization=True)
    replace_dir(tmp, out)


def train_style_lora(
    pipe, config: TrainConfig, rank: int, run_dir: Path, out_dir: Path, progress: bool = True
) -> dict:
    """A style LoRA (Hu et al. 2022, eq. 3: W = W0 + BA) trained on the denoising loss with the
    base weights frozen; saved with `save_lora_weights` (peft keys, unconverted)."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    g = torch.Generator().manual_seed(config.seed + 3)
    pipe.to(device())
    pipe.unet.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    add_seeded_adapter(
        pipe.unet,
        LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS, init_lora_weights=True),
        config.seed,
    )
    params = [p for p in pipe.unet.parameters() if p.requires_grad]
    step, data = _denoising_stage(pipe, config, g)
    record = resumable_loop(
        "style-lora", {"unet": pipe.unet}, params, step, config, run_dir, progress, g, data
    )
    state = get_peft_model_state_dict(pipe.unet)
    if is_main_process():
        save_lora(out_dir, state)
    pipe.unet.delete_adapters("default")
    return {**record, "rank": rank, "lora_parameters": sum(v.numel() for v in state.values())}


def train_tiny_sd(
    out_dir: Path, vae_config: TrainConfig, unet_config: TrainConfig, progress: bool = True
) -> dict:
    """The whole base-model chain: autoencoder, latent scale, UNet + text encoder; saves the
    pipeline (safetensors) to `out_dir/pipeline` and returns a record of what produced it.
    (The shipped configs are `fastgen_book.tinysd.recipe.vae_recipe` and `unet_recipe`.)"""
    from fastgen_book.sd.tiny import TinySDConfig, build_pipeline

    config = TinySDConfig()
    pipe = build_pipeline(config)
    run_dir = out_dir / "checkpoints"
    vae_record = train_vae(pipe.vae, vae_config, run_dir, progress)
    scale = latent_scale(pipe.vae, torch.Generator().manual_seed(123))
    pipe.vae.register_to_config(scaling_factor=scale)
    unet_record = train_unet(pipe, unet_config, run_dir, progress)
    if is_main_process():
        pipe.to("cpu").save_pretrained(out_dir / "pipeline", safe_serialization=True)
    return {
        "seconds": vae_record["seconds"] + unet_record["seconds"],
        "model": asdict(config),
        "vae": vae_record,
        "unet": unet_record,
        "latent_scaling_factor": scale,
    }
