"""The gpu tier's quality measure: CLIP score (Hessel et al. 2021), 100 x the cosine between
CLIP ViT-B/32's image and text embeddings, clipped at 0, from the local cache only."""

from __future__ import annotations

import functools

import torch

from fastgen_book.sd import hub


@functools.lru_cache(maxsize=2)
def load_clip(device: str = "cpu"):
    """(model, processor) from the local Hugging Face cache, loaded once per device."""
    from transformers import CLIPModel, CLIPProcessor

    from fastgen_book.sd.quiet import quiet_loading

    gone = hub.missing_report((hub.CLIP,))
    if gone:
        raise FileNotFoundError(
            f"CLIP is not in the Hugging Face cache ({gone}); download it once with "
            f"`{hub.FETCH_COMMAND}`"
        )
    folder = hub.snapshot(hub.CLIP)
    with quiet_loading():
        model = CLIPModel.from_pretrained(folder, local_files_only=True).to(device).eval()
        processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
    return model, processor


def clip_inputs(processor, images: torch.Tensor, prompts: list[str]) -> dict:
    """The processor's tensors for uint8 images [n, 3, H, W]: it rescales by 1/255 itself, so
    it must get 0-255 values (float images in [0, 1] would all read as black)."""
    if images.dtype != torch.uint8:
        raise TypeError(f"clip_scores takes uint8 images (0-255), got {images.dtype}")
    pixels = [img.permute(1, 2, 0).numpy() for img in images.cpu()]
    return processor(
        text=prompts, images=pixels, return_tensors="pt", padding=True, truncation=True
    )


@torch.no_grad()
def clip_scores(images: torch.Tensor, prompts: list[str], device: str = "cpu") -> torch.Tensor:
    """One CLIP score per (image, prompt) pair: uint8 images [n, 3, H, W]."""
    model, processor = load_clip(device)
    inputs = {k: v.to(device) for k, v in clip_inputs(processor, images, prompts).items()}
    out = model(**inputs)
    img = torch.nn.functional.normalize(out.image_embeds.float(), dim=-1)
    txt = torch.nn.functional.normalize(out.text_embeds.float(), dim=-1)
    return (100 * (img * txt).sum(-1)).clamp(min=0).cpu()
