"""The accelerator the gpu tier runs on: one place that asks torch about CUDA.

`$FASTGEN_GPU_DEVICE` names the torch device (default `cuda`; `mps` on Apple silicon). Setting
it to `cpu` runs the gpu tier's exact code path, fp16 included, on the CPU: that is how the test
suite exercises it on machines without a GPU (see `tests/standin.py`). `$FASTGEN_GPU_DTYPE`
names the dtype it computes in (default `float16`, the published files' own; `float32` for a
setting that overflows in fp16, and for the stand-in's whole-page runs, where fp16 convolutions
on a CPU run about 7x slower than fp32). The fp16 files are read either way.
"""

from __future__ import annotations

import os
import platform

import torch

DEVICE_ENV = "FASTGEN_GPU_DEVICE"
DTYPE_ENV = "FASTGEN_GPU_DTYPE"
DTYPES = {"float16": torch.float16, "float32": torch.float32}


def gpu_device() -> torch.device:
    """The torch device of the gpu tier."""
    return torch.device(os.environ.get(DEVICE_ENV, "cuda"))


def gpu_dtype() -> torch.dtype:
    """The dtype the gpu tier computes in: `$FASTGEN_GPU_DTYPE`, float16 by default."""
    name = os.environ.get(DTYPE_ENV, "float16")
    if name not in DTYPES:
        raise ValueError(f"{DTYPE_ENV}={name!r}; choose one of: {', '.join(DTYPES)}")
    return DTYPES[name]


def gpu_available() -> bool:
    """Whether `gpu_device()` exists on this machine."""
    device = gpu_device()
    if device.type == "cuda":
        return torch.cuda.is_available()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return device.type == "cpu"


def synchronize(device: str | torch.device) -> None:
    """Wait for queued kernels, so wall-clock timings cover the work (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with `seed`. diffusers draws the noise on the generator's device
    and moves it to the model's, so a CPU generator gives the same starting noise for a seed on
    every GPU model and on the CPU (diffusers' docs, "Reproducible pipelines")."""
    return torch.Generator().manual_seed(seed)


def hardware(device: str | torch.device) -> str:
    """What a stored measurement's numbers depend on beyond the device type: the GPU's model
    (fp16 kernels differ between them), or 'cpu'."""
    device = torch.device(device)
    return "cpu" if device.type == "cpu" else device_name(device)


def device_name(device: str | torch.device) -> str:
    """A readable name: the GPU's model, or the CPU with its thread count."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
