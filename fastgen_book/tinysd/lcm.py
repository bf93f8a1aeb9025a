"""LCM-LoRA at tiny scale: latent consistency distillation into a LoRA on the UNet (Luo et al.
2023a, algorithm 1; Luo et al. 2023b), following the recipe of diffusers'
`train_lcm_distill_lora_sd`: a skipping-step DDIM solver on the frozen teacher, a
guidance-augmented target, c_skip / c_out boundary scalings, and a pseudo-Huber or L2 loss;
optionally with LCM's EMA target network in place of the student itself.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from fastgen_book._checks import check_choice, check_range, check_steps
from fastgen_book.consistency_math import boundary_scalings as shared_scalings
from fastgen_book.consistency_math import pseudo_huber as shared_huber
from fastgen_book.tinysd.config import TrainConfig
from fastgen_book.tinysd.data import batches, encode_prompts
from fastgen_book.tinysd.loop import device, is_main_process, resumable_loop
from fastgen_book.tinysd.lora import LORA_TARGETS, add_seeded_adapter, save_lora
from fastgen_book.tinysd.train import noise_schedule
from fastgen_book.toy2d.ema import EMA


@dataclass(frozen=True)
class LCMLoRAConfig:
    """One LCM-LoRA distillation run. Why these values: `fastgen_book/sd/weights/tiny-sd/NOTES.md`.

    `w_min`/`w_max`: the teacher's guidance w per sample, in LCM's convention (a CFG scale of
    w + 1). `target_ema`: 0 makes the target the student itself, as diffusers' LCM-LoRA script
    does; mu > 0 an EMA copy, as in LCM (Luo et al. 2023a, algorithm 1, mu = 0.95)."""

    steps: int = 500
    batch: int = 32
    lr: float = 1e-3
    schedule: str = "cosine"  # or "constant" (see `fastgen_book.tinysd.config.learning_rate`)
    decay_steps: int = 0
    rank: int = 16
    ddim_timesteps: int = 50
    w_min: float = 1.0
    w_max: float = 3.0
    distance: str = "huber"
    huber_c: float = 0.001
    timestep_scaling: float = 10.0
    target_ema: float = 0.95
    save_every: int = 100  # checkpoint (`fastgen_book.tinysd.loop`) every this many steps
    seed: int = 0

    def __post_init__(self):
        check_steps(self.steps, "steps")
        check_choice(self.distance, ("huber", "l2"), "distance")
        check_choice(self.schedule, ("constant", "cosine"), "schedule")
        check_range(self.target_ema, 0.0, 1.0, "target_ema")


def boundary_scalings(t: torch.Tensor, scaling: float = 10.0, sigma_data: float = 0.5):
    """LCM's c_skip, c_out on the discrete timestep (Luo et al. 2023a, eq. 9; diffusers'
    LCMScheduler): c_skip(0) = 1, c_out(0) = 0."""
    return shared_scalings(t * scaling, sigma_data, 0.0, out_scale=1.0)


def predicted_x0(eps: torch.Tensor, t: torch.Tensor, x: torch.Tensor, alphas: torch.Tensor):
    """x0 from a noise prediction: (x_t - sqrt(1 - a_t) eps) / sqrt(a_t), a = alphas_cumprod
    (Song et al. 2021, DDIM eq. 12; `pred_original_sample` of diffusers' DDIMScheduler.step)."""
    a = alphas[t].view(-1, 1, 1, 1)
    return (x - (1 - a).sqrt() * eps) / a.sqrt()


def consistency_output(
    eps: torch.Tensor, t: torch.Tensor, x: torch.Tensor, alphas: torch.Tensor, scaling: float
) -> torch.Tensor:
    """f_theta(x_t, t) = c_skip(t) x_t + c_out(t) x0_hat(eps): the LCM's parameterisation
    (Luo et al. 2023a, eq. 9; `denoised` of diffusers' LCMScheduler.step)."""
    c_skip, c_out = (v.view(-1, 1, 1, 1) for v in boundary_scalings(t, scaling))
    return c_skip * x + c_out * predicted_x0(eps, t, x, alphas)


def guided_ddim_step(
    eps_cond: torch.Tensor,
    eps_uncond: torch.Tensor,
    w: torch.Tensor,
    x: torch.Tensor,
    t: torch.Tensor,
    t_prev: torch.Tensor,
    alphas: torch.Tensor,
) -> torch.Tensor:
    """One DDIM step (eta = 0) from t to t_prev on the classifier-free-guided noise
    eps_c + w (eps_c - eps_u): the augmented PF-ODE solver Psi of Luo et al. 2023a, eq. 8 and
    algorithm 1, with guidance scale w + 1 in diffusers' convention (DDIMScheduler.step)."""
    x0_c, x0_u = predicted_x0(eps_cond, t, x, alphas), predicted_x0(eps_uncond, t, x, alphas)
    x0_g = x0_c + w * (x0_c - x0_u)
    e_g = eps_cond + w * (eps_cond - eps_uncond)
    a_prev = alphas[t_prev].view(-1, 1, 1, 1)
    return a_prev.sqrt() * x0_g + (1 - a_prev).sqrt() * e_g


def pseudo_huber(pred: torch.Tensor, target: torch.Tensor, c: float) -> torch.Tensor:
    """Mean of sqrt((pred - target)^2 + c^2) - c, elementwise (Song & Dhariwal 2024, eq. 5;
    diffusers' LCM-LoRA script): about (pred - target)^2 / 2c near 0, |pred - target| far out."""
    return shared_huber((pred - target) ** 2, c).mean()


def lcm_loss(
    student, teacher, target_net, latents, cond, uncond, config: LCMLoRAConfig, sched, g
) -> torch.Tensor:
    """One step of latent consistency distillation (Luo et al. 2023a, algorithm 1): draw a
    skipping-step DDIM timestep t_n+k and a guidance w per sample, noise the latents to it, step
    the teacher's guided PF-ODE back to t_n (`guided_ddim_step`), and compare the student's
    consistency output at (x_t_n+k, t_n+k) with the target network's at (x_t_n, t_n), the
    target without gradient. The distance is pseudo-Huber or L2."""
    alphas = sched.alphas_cumprod.to(latents.device)
    skip = sched.config.num_train_timesteps // config.ddim_timesteps
    ddim_t = torch.arange(1, config.ddim_timesteps + 1) * skip - 1
    idx = torch.randint(0, config.ddim_timesteps, (config.batch,), generator=g)
    t_start = ddim_t[idx].to(latents.device)
    t_prev = (t_start - skip).clamp(min=0)
    noise = torch.randn(latents.shape, generator=g).to(latents.device)
    x_t = sched.add_noise(latents, noise, t_start)
    w = config.w_min + (config.w_max - config.w_min) * torch.rand(config.batch, generator=g)
    w = w.view(-1, 1, 1, 1).to(latents.device)
    # student: f_theta(x_t, t) = c_skip x_t + c_out x0_hat
    eps = student(x_t, t_start, encoder_hidden_states=cond).sample
    pred = consistency_output(eps, t_start, x_t, alphas, config.timestep_scaling)
    with torch.no_grad():
        # teacher: one guided DDIM step from t_start to t_prev (the augmented PF-ODE)
        # (conditional and unconditional in one batch: one teacher call, not two)
        both = teacher(
            torch.cat([x_t, x_t]),
            torch.cat([t_start, t_start]),
            encoder_hidden_states=torch.cat([cond, uncond]),
        ).sample
        e_c, e_u = both.chunk(2)
        x_prev = guided_ddim_step(e_c, e_u, w, x_t, t_start, t_prev, alphas)
        # target: the student (or its EMA) at t_prev, no gradient
        e_p = target_net(x_prev, t_prev, encoder_hidden_states=cond).sample
        target = consistency_output(e_p, t_prev, x_prev, alphas, config.timestep_scaling)
    if config.distance == "l2":
        return ((pred - target) ** 2).mean()
    return pseudo_huber(pred, target, config.huber_c)


def train_lcm_lora(
    pipe, config: LCMLoRAConfig, run_dir: Path, out_dir: Path, progress: bool = True
) -> dict:
    """Distil the pipeline's UNet into LoRA weights for few-step LCM sampling, on the shared
    resumable loop (checkpoints in `run_dir`, so an interrupted run resumes); saves the LoRA
    with `save_lora_weights` (peft key format, unconverted) to `out_dir`."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe.to(device())
    teacher = copy.deepcopy(pipe.unet).requires_grad_(False).eval()
    unet = pipe.unet
    unet.requires_grad_(False)
    add_seeded_adapter(
        unet,
        LoraConfig(
            r=config.rank,
            lora_alpha=config.rank,
            target_modules=LORA_TARGETS,
            init_lora_weights="gaussian",
        ),
        config.seed,
    )
    params = [p for p in unet.parameters() if p.requires_grad]
    ema = EMA(unet, config.target_ema) if config.target_ema else None
    sched = noise_schedule(pipe)
    g = torch.Generator().manual_seed(config.seed)
    scale = pipe.vae.config.scaling_factor
    with torch.no_grad():
        uncond = encode_prompts(pipe, [""] * config.batch)

    def step(batch, _step):
        x, captions = batch
        with torch.no_grad():
            latents = pipe.vae.encode(x.to(pipe.device)).latent_dist.sample(generator=g) * scale
            cond = encode_prompts(pipe, captions)
        target_net = ema.model if ema else unet
        return lcm_loss(unet, teacher, target_net, latents, cond, uncond, config, sched, g)

    record = resumable_loop(
        "lcm-lora",
        {"unet": unet},
        params,
        step,
        config,
        run_dir,
        progress,
        g,
        lambda gen: batches(TrainConfig(batch=config.batch, seed=config.seed), gen),
        kept={"target": ema.model} if ema else None,
        after_step=(lambda _: ema.update(unet)) if ema else None,
    )
    lora_state = get_peft_model_state_dict(unet)
    if is_main_process():
        save_lora(out_dir, lora_state)
    unet.delete_adapters("default")
    return {**record, "lora_parameters": sum(v.numel() for v in lora_state.values())}
