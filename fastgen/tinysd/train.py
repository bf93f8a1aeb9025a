"""Training the tiny model: the autoencoder, then the UNet and text encoder on its latents.

Runs are deterministic (seeded data stream and initialisation) and resumable: a checkpoint with
the weights, optimiser and generator state is written atomically every `save_every` steps, and a
run restarts from it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from fastgen._checks import check_choice, check_positive, check_steps
from fastgen.sd import shapes

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


@dataclass(frozen=True)
class TrainConfig:
    """One training stage: what to train, for how long, on which slice of the data."""

    steps: int = 3000
    batch: int = 64
    lr: float = 1e-3
    schedule: str = "constant"  # or "cosine": decay to 0 over `steps`
    decay_steps: int = 0  # constant schedule: cosine-decay to 0 over the last `decay_steps`
    styles: tuple[str, ...] = ("filled",)  # each batch draws one style and one background
    backgrounds: tuple[str, ...] = ("black",)
    cfg_dropout: float = 0.1
    # per-timestep loss weights, see `loss_weights`
    weighting: str = "epsilon"
    min_snr_gamma: float = 5.0
    snr_floor: float = 1.0  # "truncated-snr": the image error is weighted by max(SNR, floor)
    # > 0: `weighting` for the first `weighting_until` steps only, then the plain epsilon loss
    weighting_until: int = 0
    # > 0: the denoising stages draw from this many images encoded once (`LatentPool`, the
    # shipped UNet recipe); 0: fresh images every step, encoded every step
    pool: int = 0
    # autoencoder: added to the encoder's initial log-variance bias (see `offset_logvar`);
    # 0: diffusers' initialisation, a posterior std near 1
    logvar_offset: float = 0.0
    # autoencoder: weight of a squared-error term beside the L1 reconstruction loss (L1's
    # gradient ignores an error's size, so the few pixels of a wrong colour count no more than
    # the many of a slightly-off background); 0: L1 alone. The shipped autoencoder uses 10
    # (`vae_recipe`)
    mse_weight: float = 0.0
    save_every: int = 500
    seed: int = 0

    def __post_init__(self):
        check_steps(self.steps, "steps")
        check_steps(self.batch, "batch")
        check_choice(self.schedule, ("constant", "cosine"), "schedule")
        if self.pool < 0:
            raise ValueError(f"pool must be >= 0 (0: fresh images every step), got {self.pool}")
        check_choice(self.weighting, WEIGHTINGS, "weighting")
        check_positive(self.min_snr_gamma, "min_snr_gamma")
        check_positive(self.snr_floor, "snr_floor")
        if not math.isfinite(self.logvar_offset):
            raise ValueError(f"logvar_offset must be a finite number, got {self.logvar_offset}")
        if not (math.isfinite(self.mse_weight) and self.mse_weight >= 0):
            raise ValueError(f"mse_weight must be a finite number >= 0, got {self.mse_weight}")
        if self.weighting_until < 0:
            raise ValueError(
                f"weighting_until must be >= 0 (0: the whole run), got {self.weighting_until}"
            )
        for style in self.styles:
            check_choice(style, shapes.STYLES, "style")
        for background in self.backgrounds:
            check_choice(background, shapes.BACKGROUNDS, "background")


def batches(config: TrainConfig, generator: torch.Generator):
    """Endless (images in [-1, 1], captions) from the seeded procedural data set; with several
    styles or backgrounds every batch holds an equal share of each combination (whole batches
    of one look, alternating, kept the autoencoder from learning colour at all)."""
    looks = [(s, b) for s in config.styles for b in config.backgrounds]
    while True:
        items = shapes.sample_items(config.batch, generator=generator)
        shares = torch.tensor_split(torch.arange(config.batch), len(looks))
        images = torch.cat(
            [
                shapes.render(
                    [items[i] for i in idx.tolist()], generator=generator, style=s, background=b
                )
                for (s, b), idx in zip(looks, shares, strict=True)
                if len(idx)
            ]
        )
        yield images * 2 - 1, [i.caption for i in items]


def learning_rate(config, step: int) -> float:
    """The schedule: cosine from `lr` to 0 over all steps, or constant with a cosine decay over
    the last `decay_steps` (annealing; Loshchilov & Hutter 2017). `config` is any config with
    `lr`, `steps`, `schedule` and `decay_steps`."""
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * step / config.steps))
    start = config.steps - config.decay_steps
    if step < start:
        return config.lr
    return config.lr * 0.5 * (1 + math.cos(math.pi * (step - start) / config.decay_steps))


@dataclass(frozen=True)
class LatentPool:
    """Autoencoder posteriors (mean, std) of a fixed set of procedural images, with captions.

    A denoising stage can draw its batches from it and sample the posterior afresh each time,
    instead of drawing and encoding new images every step (measured: 242 -> 207 ms per UNet
    step at batch 64 on 2 cores)."""

    mean: torch.Tensor
    std: torch.Tensor
    captions: tuple[str, ...]

    def draw(self, n: int, generator: torch.Generator):
        """((mean, std), captions) of `n` entries drawn with replacement."""
        idx = torch.randint(0, len(self.captions), (n,), generator=generator)
        return (self.mean[idx], self.std[idx]), [self.captions[i] for i in idx.tolist()]


def sample_posterior(entries, generator: torch.Generator) -> torch.Tensor:
    """z = mean + std * eps, the reparameterised draw (Kingma & Welling 2014, sec. 2.4)."""
    mean, std = entries
    return mean + std * torch.randn(mean.shape, generator=generator)


@torch.no_grad()
def encode_pool(vae, config: TrainConfig) -> LatentPool:
    """`config.pool` images of `config`'s looks, drawn from their own seed (so a resumed run
    rebuilds the same pool) and encoded once."""
    g = torch.Generator().manual_seed(config.seed + 10_000)
    data = batches(replace(config, batch=min(config.pool, 512)), g)
    means, stds, captions = [], [], []
    while len(captions) < config.pool:
        x, caps = next(data)
        dist = vae.encode(x).latent_dist
        means.append(dist.mean)
        stds.append(dist.std)
        captions += caps
    n = config.pool
    return LatentPool(torch.cat(means)[:n], torch.cat(stds)[:n], tuple(captions[:n]))


WEIGHTINGS = ("epsilon", "min-snr", "truncated-snr")


def loss_weights(
    alphas_cumprod: torch.Tensor,
    t: torch.Tensor,
    weighting: str,
    gamma: float = 5.0,
    floor: float = 1.0,
) -> torch.Tensor:
    """Per-sample weights on the epsilon loss, SNR = a / (1 - a). Since |eps error|^2 =
    SNR |x0 error|^2, the plain loss ("epsilon") weights the image error by SNR and barely trains
    the high-noise steps where the layout is decided. "min-snr": min(SNR, gamma) / SNR (Hang et
    al. 2023); "truncated-snr": max(SNR, floor) / SNR, the image error weighted by
    max(SNR, floor) (Salimans & Ho 2022, sec. 4, with floor 1)."""
    check_choice(weighting, WEIGHTINGS, "weighting")
    a = alphas_cumprod[t]
    snr = a / (1 - a)
    if weighting == "min-snr":
        return snr.clamp(max=gamma) / snr
    if weighting == "truncated-snr":
        return snr.clamp(min=floor) / snr
    return torch.ones_like(snr)


def adamw(params, lr: float) -> torch.optim.AdamW:
    """AdamW without weight decay (Loshchilov & Hutter 2019), for every training stage.

    The multi-tensor (`foreach`) update, which gives the same parameters bit for bit as torch's
    default loop (a test checks); not the fused kernel, whose last-bit differences change the
    shipped recipe's results (`fastgen/sd/weights/tiny-sd/NOTES.md`)."""
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0, foreach=True)


def _save(path: Path, modules: dict, opt, generator, record: dict) -> None:
    """A checkpoint as safetensors (no pickle): every module's weights, the optimiser's
    per-parameter state and the generator's state as tensors; the step, the timings and the
    optimiser's param groups as JSON metadata. Written to a temporary file, then renamed."""
    tensors = {f"module.{n}.{k}": v for n, m in modules.items() for k, v in m.state_dict().items()}
    opt_state = opt.state_dict()
    for i, per_param in opt_state["state"].items():
        for k, v in per_param.items():
            tensors[f"optimizer.{i}.{k}"] = torch.as_tensor(v)
    tensors["generator"] = generator.get_state()
    meta = {**record, "param_groups": opt_state["param_groups"]}
    tmp = path.with_suffix(".tmp")
    save_file(
        {k: v.detach().contiguous().clone() for k, v in tensors.items()},
        str(tmp),
        metadata={"fastgen": json.dumps(meta)},
    )
    os.replace(tmp, path)


def _resume(path: Path, modules: dict, opt, generator) -> tuple[int, float, float]:
    """(step, seconds of training so far, last loss) from a checkpoint; (0, 0, nan) without."""
    if not path.exists():
        return 0, 0.0, float("nan")
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["fastgen"])
    tensors = load_file(str(path))
    for name, module in modules.items():
        prefix = f"module.{name}."
        module.load_state_dict(
            {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        )
    state: dict = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, i, k = key.split(".", 2)
            state.setdefault(int(i), {})[k] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    generator.set_state(tensors["generator"])
    return meta["step"], meta.get("seconds", 0.0), meta.get("final_loss", float("nan"))


def _resumable_loop(
    name: str,
    modules: dict,
    params: list,
    step_fn,
    config: TrainConfig,
    run_dir: Path,
    progress: bool,
    generator: torch.Generator,
    make_data=None,
) -> dict:
    """The training loop every stage shares: resume from `run_dir/<name>.safetensors` if
    present, run `step_fn(batch, step) -> loss` up to `config.steps` on batches from
    `make_data(generator)` (default: fresh images), checkpoint atomically every `save_every`
    (`_save`: safetensors and JSON, no pickle)."""
    from tqdm import tqdm  # text bars: tqdm.auto warns in a kernel without ipywidgets

    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / f"{name}.safetensors"
    opt = adamw(params, config.lr)
    start, before, last = _resume(ckpt, modules, opt, generator)
    t0 = time.perf_counter()  # counts building the data (a latent pool) too
    data = (make_data or (lambda gen: batches(config, gen)))(generator)
    for module in modules.values():
        module.train()
    loss = torch.tensor(last)
    for step in tqdm(
        range(start, config.steps),
        initial=start,
        total=config.steps,
        disable=not progress,
        desc=name,
    ):
        for group in opt.param_groups:  # a function of the step alone: resuming is exact
            group["lr"] = learning_rate(config, step)
        loss = step_fn(next(data), step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
            record = {
                "step": step + 1,
                "seconds": before + time.perf_counter() - t0,
                "final_loss": loss.item(),
            }
            _save(ckpt, modules, opt, generator, record)
    for module in modules.values():
        module.eval()
    # seconds: the whole training, across resumed runs
    seconds = before + time.perf_counter() - t0
    return {"seconds": seconds, "final_loss": loss.item(), **asdict(config)}


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
    if config.logvar_offset:
        offset_logvar(vae, config.logvar_offset)

    def step(batch, _step):
        x, _ = batch
        posterior = vae.encode(x).latent_dist
        recon = vae.decode(posterior.sample(generator=g)).sample
        loss = F.l1_loss(recon, x) + 1e-6 * posterior.kl().mean()
        if config.mse_weight:
            loss = loss + config.mse_weight * F.mse_loss(recon, x)
        return loss

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
        return pipe.vae.encode(x).latent_dist.sample(generator=g) * scale

    def step(batch, step_index):
        x, captions = batch
        drop = torch.rand(len(captions), generator=g) < config.cfg_dropout
        captions = ["" if d else c for c, d in zip(captions, drop.tolist(), strict=True)]
        latents = to_latents(x)
        noise = torch.randn(latents.shape, generator=g)
        t = torch.randint(0, sched.config.num_train_timesteps, (len(captions),), generator=g)
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
    modules = {"unet": pipe.unet, "text_encoder": pipe.text_encoder}
    params = list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
    step, data = _denoising_stage(pipe, config, g)
    return _resumable_loop("unet", modules, params, step, config, run_dir, progress, g, data)


def finetune_unet(
    pipe, config: TrainConfig, run_dir: Path, name: str, progress: bool = True
) -> dict:
    """A full fine-tune of the UNet alone (text encoder and autoencoder frozen) on a new slice of
    the data, as community fine-tunes of SD v1.5 are made."""
    g = torch.Generator().manual_seed(config.seed + 2)
    pipe.text_encoder.requires_grad_(False)
    pipe.unet.requires_grad_(True)
    step, data = _denoising_stage(pipe, config, g)
    params = list(pipe.unet.parameters())
    return _resumable_loop(
        name, {"unet": pipe.unet}, params, step, config, run_dir, progress, g, data
    )


def train_style_lora(
    pipe, config: TrainConfig, rank: int, run_dir: Path, out_dir: Path, progress: bool = True
) -> dict:
    """A style LoRA (Hu et al. 2022, eq. 3: W = W0 + BA) trained on the denoising loss with the
    base weights frozen; saved with `save_lora_weights` (peft keys, unconverted)."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    g = torch.Generator().manual_seed(config.seed + 3)
    pipe.unet.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    add_seeded_adapter(
        pipe.unet,
        LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS, init_lora_weights=True),
        config.seed,
    )
    params = [p for p in pipe.unet.parameters() if p.requires_grad]
    step, data = _denoising_stage(pipe, config, g)
    record = _resumable_loop(
        "style-lora", {"unet": pipe.unet}, params, step, config, run_dir, progress, g, data
    )
    state = get_peft_model_state_dict(pipe.unet)
    save_lora(out_dir, state)
    pipe.unet.delete_adapters("default")
    return {**record, "rank": rank, "lora_parameters": sum(v.numel() for v in state.values())}


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


def vae_recipe(steps: int) -> TrainConfig:
    """The shipped autoencoder's training. It sees every style and background, as SD's VAE sees
    all of its data, so the style LoRA and the fine-tuned variant share it. L1 plus 10 times the
    squared error, from a posterior std near 0.14 (logvar offset -4); what else was tried:
    `fastgen/sd/weights/tiny-sd/NOTES.md`."""
    return TrainConfig(
        steps=steps,
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


def train_tiny_sd(out_dir: Path, vae_steps: int, unet_steps: int, progress: bool = True) -> dict:
    """The whole base-model chain: autoencoder, latent scale, UNet + text encoder; saves the
    pipeline (safetensors) to `out_dir/pipeline` and returns a record of what produced it.
    (The shipped step counts live in `fastgen.tinysd.recipe`.)"""
    from fastgen.sd.tiny import TinySDConfig, build_pipeline

    config = TinySDConfig()
    pipe = build_pipeline(config)
    run_dir = out_dir / "checkpoints"
    vae_record = train_vae(pipe.vae, vae_recipe(vae_steps), run_dir, progress)
    scale = latent_scale(pipe.vae, torch.Generator().manual_seed(123))
    pipe.vae.register_to_config(scaling_factor=scale)
    unet_record = train_unet(pipe, unet_recipe(unet_steps), run_dir, progress)
    pipe.save_pretrained(out_dir / "pipeline", safe_serialization=True)
    return {
        "seconds": vae_record["seconds"] + unet_record["seconds"],
        "model": asdict(config),
        "vae": vae_record,
        "unet": unet_record,
        "latent_scaling_factor": scale,
    }
