"""SDXL-Turbo (Sauer et al. 2023) on the GPU tier: used only when CUDA and its weights in the
local Hugging Face cache are both present; never downloads."""

from __future__ import annotations

import statistics
import time

import torch

TURBO_ID = "stabilityai/sdxl-turbo"


def turbo_available() -> bool:
    """CUDA and SDXL-Turbo's weights in the local cache."""
    if not torch.cuda.is_available():
        return False
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(TURBO_ID, "model_index.json"), str)


def generate_turbo(prompts: list[str], steps: int = 1, seed: int = 0, repeats: int = 3):
    """Images [n, 3, 512, 512] and a record: 1-4 steps, guidance 0, as the model card asks."""
    from diffusers import AutoPipelineForText2Image

    if not turbo_available():
        raise FileNotFoundError(
            f"SDXL-Turbo needs CUDA and its weights: `huggingface-cli download {TURBO_ID}`"
        )
    pipe = AutoPipelineForText2Image.from_pretrained(
        TURBO_ID, torch_dtype=torch.float16, variant="fp16", local_files_only=True
    ).to("cuda")
    pipe.set_progress_bar_config(disable=True)

    def run():
        g = torch.Generator("cuda").manual_seed(seed)
        return pipe(
            prompts,
            num_inference_steps=steps,
            guidance_scale=0.0,
            generator=g,
            output_type="pt",
            height=512,
            width=512,
        ).images

    images = run()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        images = run()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    record = {
        "tier": "gpu",
        "model": TURBO_ID,
        "steps": steps,
        "guidance": 0.0,
        "device": torch.cuda.get_device_name(0),
        "ms_per_image": 1000 * statistics.median(times) / len(prompts),
    }
    return images.float().cpu(), record
