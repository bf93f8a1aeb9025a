"""SDXL-Turbo (Sauer et al. 2023) on the gpu tier: used only when the accelerator and every
file it reads (`fastgen_book.sd.hub.SDXL_TURBO`) are present; never downloads."""

from __future__ import annotations

import statistics
import time

from fastgen_book.sd import device, hub

TURBO_ID = hub.SDXL_TURBO.repo_id


def turbo_available() -> bool:
    """The gpu tier's accelerator (`fastgen_book.sd.device`) and all of SDXL-Turbo's fp16 files
    in the local cache."""
    return device.gpu_available() and not hub.missing(hub.SDXL_TURBO)


def generate_turbo(prompts: list[str], steps: int = 1, seed: int = 0, repeats: int = 3):
    """Images [n, 3, 512, 512] and a record: 1-4 steps, guidance 0, as the model card asks, on
    the gpu tier's device in fp16, from the local cache only."""
    from diffusers import AutoPipelineForText2Image

    if not turbo_available():
        raise FileNotFoundError(
            "SDXL-Turbo needs the gpu tier's accelerator and its files: "
            "`python -m fastgen_book fetch sdxl-turbo`"
        )
    where = device.gpu_device()
    pipe = AutoPipelineForText2Image.from_pretrained(
        TURBO_ID,
        dtype=device.gpu_dtype(),
        variant="fp16",
        local_files_only=True,
        cache_dir=hub.cache_dir(),
    ).to(where)
    pipe.set_progress_bar_config(disable=True)

    def run():
        g = device.seeded_generator(seed)
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
        device.synchronize(where)
        t0 = time.perf_counter()
        images = run()
        device.synchronize(where)
        times.append(time.perf_counter() - t0)
    record = {
        "tier": "gpu",
        "model": TURBO_ID,
        "steps": steps,
        "guidance": 0.0,
        "device": device.device_name(where),
        "ms_per_image": 1000 * statistics.median(times) / len(prompts),
    }
    return images.float().cpu(), record
