"""The tiny text-to-image latent diffusion model, built from the real diffusers and transformers
classes (AutoencoderKL, UNet2DConditionModel, CLIPTextModel, CLIPTokenizer), so that every
Stable Diffusion code path in the book runs on a CPU in seconds."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel

from fastgen_book.sd.tokenizer import MAX_LENGTH, train_clip_tokenizer


@dataclass(frozen=True)
class TinySDConfig:
    """Architecture of the tiny model: 64x64 RGB images, 4x8x8 latents, an autoencoder that
    downsamples by 8 (SD v1.5: 512x512 RGB, 4x64x64 latents, also by 8)."""

    image_size: int = 64
    latent_channels: int = 4
    vae_channels: tuple[int, ...] = (16, 32, 32, 32)
    unet_channels: tuple[int, ...] = (32, 64)
    # attention heads per UNet transformer block (widths 4 and 8)
    unet_heads: int = 8
    # per UNet level (8x8, 4x4): whether its down and up blocks attend (self-attention and
    # cross-attention to the text); the 4x4 mid block always does. The shipped UNet attends at
    # 4x4 only (why: fastgen_book/sd/weights/tiny-sd/NOTES.md)
    unet_attention: tuple[bool, ...] = (False, True)
    text_width: int = 64
    text_layers: int = 2
    seed: int = 0

    @property
    def latent_size(self) -> int:
        """Side of the latents: the autoencoder halves the image at each but its first level."""
        return self.image_size // 2 ** (len(self.vae_channels) - 1)

    def __post_init__(self):
        if self.unet_heads < 1 or any(c % self.unet_heads for c in self.unet_channels):
            raise ValueError(
                f"unet_heads must divide every UNet width {self.unet_channels}, "
                f"got {self.unet_heads}"
            )
        if len(self.unet_attention) != len(self.unet_channels):
            raise ValueError(
                f"unet_attention needs one flag per UNet level ({len(self.unet_channels)}), "
                f"got {self.unet_attention}"
            )


def build_vae(config: TinySDConfig) -> AutoencoderKL:
    """A KL autoencoder that downsamples by 2^(len(vae_channels) - 1) (8 here: 64 -> 8)."""
    n = len(config.vae_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=config.vae_channels,
        layers_per_block=1,
        latent_channels=config.latent_channels,
        norm_num_groups=8,
        sample_size=config.image_size,
        mid_block_add_attention=False,
    )


def build_text_encoder(config: TinySDConfig, tokenizer) -> CLIPTextModel:
    """A CLIP text transformer whose special-token ids and length match `tokenizer`."""
    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.text_width,
            intermediate_size=4 * config.text_width,
            num_hidden_layers=config.text_layers,
            num_attention_heads=4,
            max_position_embeddings=MAX_LENGTH,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )


def build_unet(config: TinySDConfig) -> UNet2DConditionModel:
    """A conditional UNet on the latents, with cross-attention to the text encoder's states in
    its mid block and at the levels `unet_attention` names."""
    return UNet2DConditionModel(
        sample_size=config.latent_size,
        in_channels=config.latent_channels,
        out_channels=config.latent_channels,
        block_out_channels=config.unet_channels,
        layers_per_block=1,
        down_block_types=tuple(
            "CrossAttnDownBlock2D" if a else "DownBlock2D" for a in config.unet_attention
        ),
        up_block_types=tuple(
            "CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(config.unet_attention)
        ),
        cross_attention_dim=config.text_width,
        # UNet2DConditionModel reads `attention_head_dim` as the number of heads (a naming
        # quirk it documents; `num_attention_heads` is refused for this model)
        attention_head_dim=config.unet_heads,
        norm_num_groups=8,
    )


def training_scheduler() -> DDPMScheduler:
    """SD v1.5's noise schedule: 1000 steps, scaled-linear betas, epsilon prediction."""
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        steps_offset=1,
        prediction_type="epsilon",
    )


def build_pipeline(config: TinySDConfig = TinySDConfig()) -> StableDiffusionPipeline:
    """An untrained tiny pipeline (weights initialised from the config's seed)."""
    tokenizer = train_clip_tokenizer()
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        vae = build_vae(config)
        text_encoder = build_text_encoder(config, tokenizer)
        unet = build_unet(config)
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=training_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
