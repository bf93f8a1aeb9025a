"""tiny-turbo: adversarial diffusion distillation (ADD; Sauer et al. 2023, "Adversarial Diffusion
Distillation", the method behind SDXL-Turbo) of tiny-sd into a one- to four-step student.

Three networks, as in the paper's figure 2:
- the student, a full copy of the teacher's UNet (ADD initialises from the pretrained weights),
  which maps real latents noised to one of its own timesteps s to a clean estimate x_hat;
- the frozen teacher (tiny-sd's UNet), which denoises x_hat re-noised to a random t;
- a discriminator: the convolutions of a second judge, frozen (it plays DINOv2's part), with small
  trainable heads on two of its feature maps and on its pooled features, each conditioned on the
  prompt by projection (Miyato & Koyama 2018), scoring decoded images with the hinge loss. The
  second judge is the shipped judge's recipe from another seed (`critic`): the student is never
  trained against the network that scores it, as ADD's DINOv2 is not the network behind FID.

The student's loss is L = L_adv + lambda L_distill (eq. 5): the hinge generator loss on its
decoded images (eq. 3) plus the squared distance between x_hat and the teacher's guided clean
estimate of x_hat re-noised to t, weighted by c(t) = alpha_t (eq. 4, the paper's exponential
weighting). Differences from the paper, all for a 2-core CPU: no R1 penalty; the generator and
discriminator take their steps from the same state (one optimiser, each loss reaching only its own
network's weights) instead of alternating; the distillation distance is a mean over latent
elements, so lambda is this model's own.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call

from fastgen_book._checks import check_positive, check_steps
from fastgen_book.tinysd.config import TrainConfig
from fastgen_book.tinysd.data import batches, encode_prompts
from fastgen_book.tinysd.lcm import predicted_x0
from fastgen_book.tinysd.loop import device, is_main_process, resumable_loop
from fastgen_book.tinysd.train import noise_schedule, save_unet
from fastgen_book.toy2d.adversarial import hinge_losses

#: the student's timesteps at 4 steps: diffusers' "trailing" spacing of 1000 training steps
#: (999, 749, 499, 249), ADD's T_student = {tau_1 .. tau_4} with tau_4 = 1000 (sec. 4)
STUDENT_STEPS = 4


def student_timesteps(steps: int = STUDENT_STEPS, train_steps: int = 1000) -> torch.Tensor:
    """The timesteps a `steps`-step student starts from, highest first: the trailing spacing
    that diffusers' EulerAncestralDiscreteScheduler uses for SDXL-Turbo
    (`timestep_spacing="trailing"`): round(train_steps - k * train_steps / steps) - 1."""
    check_steps(steps, "steps")
    k = torch.arange(steps, dtype=torch.float64)
    return (torch.round(train_steps - k * train_steps / steps) - 1).long()


@dataclass(frozen=True)
class ADDConfig:
    """One ADD run. `distill_weight` is lambda of eq. 5; `teacher_guidance` the classifier-free
    guidance scale of the teacher's target (diffusers' convention: 1 is none), the base model's
    swept scale; `lr_disc_scale` the discriminator's learning rate over the student's."""

    steps: int = 2000
    batch: int = 32
    lr: float = 2e-4
    schedule: str = "constant"
    decay_steps: int = 500
    lr_disc_scale: float = 4.0
    distill_weight: float = 2.5
    teacher_guidance: float = 3.0
    head_width: int = 32
    critic_seed: int = 1  # the feature network: the judge's recipe from this seed (not 0's)
    save_every: int = 100
    seed: int = 0

    def __post_init__(self):
        check_steps(self.steps, "steps")
        check_steps(self.batch, "batch")
        check_positive(self.lr, "lr")
        check_positive(self.lr_disc_scale, "lr_disc_scale")
        if self.distill_weight < 0:
            raise ValueError(f"distill_weight must be >= 0, got {self.distill_weight!r}")


class _Head(nn.Module):
    """Logits from one feature map [n, c, h, w] (or vector [n, c]) and the prompt's embedding
    [n, e]: a small network, then out(h) + <h, P c> at every position (projection
    conditioning, Miyato & Koyama 2018, eq. 3)."""

    def __init__(self, channels: int, text_width: int, width: int, spatial: bool):
        super().__init__()
        if spatial:
            self.body = nn.Sequential(
                nn.Conv2d(channels, width, 3, padding=1),
                nn.LeakyReLU(0.2),
                nn.Conv2d(width, width, 3, stride=2, padding=1),
                nn.LeakyReLU(0.2),
            )
            self.out = nn.Conv2d(width, 1, 1)
        else:
            self.body = nn.Sequential(nn.Linear(channels, width), nn.LeakyReLU(0.2))
            self.out = nn.Linear(width, 1)
        self.project = nn.Linear(text_width, width)

    def forward(self, features: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        h = self.body(features)
        c = self.project(text)
        if h.dim() == 4:
            c = c[:, :, None, None]
        return (self.out(h).squeeze(1) + (h * c).sum(1)).reshape(len(h), -1)  # [n, positions]


class Discriminator(nn.Module):
    """The frozen judge's features at three depths (32x32 after its first block, 16x16 at the
    end of its convolutions, and its 64-d pooled vector), a trainable head on each (ADD sec.
    3.2: heads on several layers of a frozen feature network)."""

    def __init__(self, judge, text_width: int, width: int = 32):
        super().__init__()
        self.judge = judge.requires_grad_(False).eval()
        grid = judge.grid
        self.first, self.second = grid[:7], grid[7:]  # up to the first pooling; the rest
        c1 = grid[3].out_channels
        c2 = judge.objectness.in_channels
        self.heads = nn.ModuleList(
            [
                _Head(c1, text_width, width, spatial=True),
                _Head(c2, text_width, width, spatial=True),
                _Head(judge.project[0].out_features, text_width, width, spatial=False),
            ]
        )

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> list[torch.Tensor]:
        """images [n, 3, 64, 64] in [0, 1], text [n, e] -> one logit tensor [n, positions] per
        head."""
        from fastgen_book.sd.judge import _coordinates

        n, _, size, _ = images.shape
        yy, xx = _coordinates(size, images)
        x = torch.cat([images, xx.expand(n, 1, -1, -1), yy.expand(n, 1, -1, -1)], 1)
        f1 = self.first(x)
        f2 = self.second(f1)
        pooled = self.judge.features(images)
        return [head(f, text) for head, f in zip(self.heads, (f1, f2, pooled), strict=True)]

    def trainable(self) -> list[nn.Parameter]:
        return list(self.heads.parameters())


def text_embedding(hidden: torch.Tensor) -> torch.Tensor:
    """The prompt's vector for the discriminator: the text encoder's hidden states [n, L, e]
    averaged over tokens -> [n, e]."""
    return hidden.mean(1)


def add_losses(
    student,
    teacher,
    disc: Discriminator,
    decode,
    latents: torch.Tensor,
    real: torch.Tensor,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    sched,
    teacher_guidance: float,
    g: torch.Generator,
) -> dict[str, torch.Tensor]:
    """One ADD step's three losses: "adv", the student's hinge loss L_adv^G on its decoded
    images (eq. 3); "distill", L_distill (eq. 4); "disc", the heads' hinge loss L_adv^D on real
    images `real` [n, 3, 64, 64] in [0, 1] and the student's. Each reaches only its own
    player's weights, so `total_loss` of them trains both in one backward pass. `latents`
    [n, 4, 8, 8] are the real images' latents; `decode(latents) -> images in [0, 1]` must be
    differentiable."""
    n = latents.shape[0]
    alphas = sched.alphas_cumprod.to(latents.device)
    choices = student_timesteps(STUDENT_STEPS, sched.config.num_train_timesteps)
    s = choices[torch.randint(0, len(choices), (n,), generator=g)].to(latents.device)
    noise = torch.randn(latents.shape, generator=g).to(latents.device)
    x_s = sched.add_noise(latents, noise, s)
    eps = student(x_s, s, encoder_hidden_states=cond).sample
    x_hat = predicted_x0(eps, s, x_s, alphas)  # the student's sample (eq. 1)

    # distillation (eq. 4): re-noise x_hat to t, the teacher's guided clean estimate as target
    t = torch.randint(0, sched.config.num_train_timesteps, (n,), generator=g).to(latents.device)
    noise_t = torch.randn(latents.shape, generator=g).to(latents.device)
    with torch.no_grad():
        x_t = sched.add_noise(x_hat.detach(), noise_t, t)
        both = torch.cat([cond, uncond])
        e_c, e_u = teacher(
            torch.cat([x_t, x_t]), torch.cat([t, t]), encoder_hidden_states=both
        ).sample.chunk(2)
        e_g = e_u + teacher_guidance * (e_c - e_u)
        target = predicted_x0(e_g, t, x_t, alphas)
    c_t = alphas[t].sqrt().view(-1, 1, 1, 1)  # exponential weighting: alpha_t
    distill = (c_t * (x_hat - target) ** 2).mean()

    # adversarial (eq. 3): heads see real and generated images; the student's gradient goes
    # through the decoder and the frozen judge, the heads' weights held fixed for it
    fake = decode(x_hat)
    text = text_embedding(cond)
    d_real = disc(real, text)
    d_fake = disc(fake.detach(), text)
    d_loss = sum(hinge_losses(r, f)[0] for r, f in zip(d_real, d_fake, strict=True))
    frozen = {k: v.detach() for k, v in disc.named_parameters()}
    g_logits = functional_call(disc, frozen, (fake, text))
    g_adv = sum(-f.mean() for f in g_logits)
    return {"adv": g_adv, "distill": distill, "disc": d_loss}


def total_loss(parts: dict[str, torch.Tensor], config: ADDConfig) -> torch.Tensor:
    """L_adv^G + lambda L_distill (the student's, eq. 5) + L_adv^D (the heads')."""
    return parts["adv"] + config.distill_weight * parts["distill"] + parts["disc"]


def critic(config: ADDConfig, run_dir: Path):
    """(network, seconds it took to train): the discriminator's frozen feature network, a judge
    trained by the shipped judge's recipe (`fastgen_book.sd.judge.train_judge`) from
    `config.critic_seed`, kept in `run_dir` with its training time so a resumed stage reuses
    both."""
    import json

    from fastgen_book import atomic
    from fastgen_book.sd.judge import load_judge, save_judge, train_judge

    path = run_dir / f"critic-{config.critic_seed}.safetensors"
    timing = path.with_suffix(".json")
    if not (path.exists() and timing.exists()):
        run_dir.mkdir(parents=True, exist_ok=True)
        network, record = train_judge(seed=config.critic_seed)
        save_judge(network, path)
        atomic.write_text(timing, json.dumps({"seconds": record["seconds"]}))
    return load_judge(path), json.loads(timing.read_text())["seconds"]


def train_turbo(
    pipe, config: ADDConfig, run_dir: Path, out: Path, progress=True, features=None
) -> dict:
    """Distil the pipeline's UNet into a full student UNet by ADD on the shared resumable loop
    (checkpoints in `run_dir`); saves the student as a diffusers UNet folder at `out`.
    `features`: the discriminator's frozen judge-shaped network (default: `critic`, whose
    training time the record's seconds include)."""
    judge, critic_seconds = (features, 0.0) if features is not None else critic(config, run_dir)
    pipe.to(device())
    pipe.text_encoder.requires_grad_(False)
    pipe.vae.requires_grad_(False)
    teacher = copy.deepcopy(pipe.unet).requires_grad_(False).eval()
    student = pipe.unet.requires_grad_(True)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed + 5)
        disc = Discriminator(judge, pipe.text_encoder.config.hidden_size, config.head_width)
    disc.to(device())
    sched = noise_schedule(pipe)
    g = torch.Generator().manual_seed(config.seed + 4)
    scale = pipe.vae.config.scaling_factor
    with torch.no_grad():
        uncond = encode_prompts(pipe, [""] * config.batch)

    def decode(latents):
        return (pipe.vae.decode(latents / scale).sample / 2 + 0.5).clamp(0, 1)

    parts = {}

    def step(batch, _step):
        x, captions = batch
        with torch.no_grad():
            latents = pipe.vae.encode(x.to(pipe.device)).latent_dist.sample(generator=g) * scale
            cond = encode_prompts(pipe, captions)
        losses = add_losses(
            student,
            teacher,
            disc,
            decode,
            latents,
            (x + 1) / 2,
            cond,
            uncond,
            sched,
            config.teacher_guidance,
            g,
        )
        parts["last"] = {k: v.item() for k, v in losses.items()}
        return total_loss(losses, config)

    groups = [
        {"params": list(student.parameters())},
        {"params": disc.trainable(), "lr_scale": config.lr_disc_scale},
    ]
    record = resumable_loop(
        "tiny-turbo",
        {"unet": student, "heads": disc.heads},
        groups,
        step,
        config,
        run_dir,
        progress,
        g,
        lambda gen: batches(TrainConfig(batch=config.batch, seed=config.seed), gen),
    )
    if is_main_process():
        save_unet(student.to("cpu"), out)
    return {
        **record,
        "seconds": record["seconds"] + critic_seconds,
        "critic_seconds": critic_seconds,
        "final_losses": parts.get("last", {}),
    }
