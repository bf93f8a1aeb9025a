"""Stable Diffusion on the real diffusers + peft code path: a tiny text-to-image model that this
project trains on procedural data (CPU tier), and the same functions on SD v1.5 (GPU tier)."""
