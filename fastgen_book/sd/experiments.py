"""The Stable Diffusion measurements the lessons show, as functions (pages call and plot them)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from fastgen_book.results import Study, measure
from fastgen_book.sd import pipeline as sd
from fastgen_book.sd.bench import BASE_LCM4, base, lcm, style, sweep_settings
from fastgen_book.sd.budget import SHOWN as _SHOWN
from fastgen_book.sd.evaluate import Result, Setting, evaluate, load_tiny_judge
from fastgen_book.sd.guidance import SWEEP, base_guidance, best_guidance
from fastgen_book.sd.identity import loaded_identity

#: prompts shown in image grids: every colour, shape and relation at least once
SHOWN = list(_SHOWN)


def judge_for(loaded: sd.Loaded):
    """The tiny tier's judge, or None on the GPU tier (CLIP score instead)."""
    return load_tiny_judge() if loaded.tier == "tiny" else None


def run(loaded: sd.Loaded, setting: Setting, seeds: int | None = None, **options) -> Result:
    """`evaluate` with the tier's judge and budget (options: style=..., background=...,
    warmup=..., prompts=...)."""
    return evaluate(loaded, judge_for(loaded), setting, seeds=seeds, **options)


def ensure_adapters(loaded: sd.Loaded, *names: str) -> sd.Loaded:
    """Load the named adapters (default sources) unless already loaded."""
    for name in names:
        if name not in loaded.adapters:
            sd.load_adapter(loaded, name)
    return loaded


def adapter_difference(loaded: sd.Loaded) -> list[Result]:
    """The base model with DPM-Solver++ at 20 steps, at 4 steps (the adapter's step count,
    twice its UNet calls: guidance doubles each step) and at the adapter's budget of UNet calls
    (2 steps), all at the tier's guidance; the base forced to 4 LCM steps without the adapter;
    and LCM-LoRA at 4 steps."""
    ensure_adapters(loaded, "lcm")
    g, student = base_guidance(loaded.tier), lcm(4)
    calls = sd.nfe_per_image(student.steps, student.guidance)
    matched = base(g, max(1, calls // sd.nfe_per_image(1, g)))
    settings = (base(g), base(g, student.steps), matched, BASE_LCM4, student)
    return [run(loaded, s) for s in settings]


def fusing(loaded: sd.Loaded) -> tuple[Result, Result]:
    """LCM-LoRA at 4 steps as a bypass beside the base weights, then fused into them
    (W0 + BA, Hu et al. 2022, sec. 4.1): the same images, at different costs."""
    ensure_adapters(loaded, "lcm")
    fused = lcm(4)
    unfused = replace(fused, fused=False, label=f"{fused.name}, unfused")
    return run(loaded, unfused), run(loaded, fused)


def teacher_guidance(loaded: sd.Loaded, guidances=SWEEP) -> list[Result]:
    """The base model with DPM-Solver++ 20 at each classifier-free guidance scale: which
    guidance makes the teacher best on this tier's metric (the sweep `bench sd --card` keeps)."""
    return [run(loaded, s) for s in sweep_settings(guidances)]


def best_teacher(sweep: list[Result]) -> Result:
    """The sweep's best result by the rule the model card uses (`fastgen_book.sd.guidance.RULE`)."""
    g = best_guidance([r.row() for r in sweep])
    return next(r for r in sweep if r.setting.guidance == g)


def step_progression(loaded: sd.Loaded, steps=(1, 2, 4, 8)) -> list[Result]:
    """LCM-LoRA at each step count (guidance 1: one UNet call per step)."""
    ensure_adapters(loaded, "lcm")
    return [run(loaded, lcm(n)) for n in steps]


def guidance_sweep(loaded: sd.Loaded, guidances=(1.0, 1.5, 2.0, 3.0, 5.0, 8.0)) -> list[Result]:
    """LCM-LoRA at 4 steps with classifier-free guidance added on top of the distilled one."""
    ensure_adapters(loaded, "lcm")
    return [
        run(loaded, replace(lcm(4), guidance=g, label=f"LCM-LoRA 4 steps, guidance {g:g}"))
        for g in guidances
    ]


#: the adapters `composition` runs with
_COMPOSED = ("lcm", "style")


def composition(loaded: sd.Loaded) -> dict[str, Result]:
    """Style LoRA alone (20 steps), LCM-LoRA alone (4 steps), and both (4 steps)."""
    ensure_adapters(loaded, *_COMPOSED)
    return {
        "style LoRA, DPM-Solver++ 20": run(
            loaded, style(base_guidance(loaded.tier)), style="outlined"
        ),
        "LCM-LoRA, 4 steps": run(loaded, lcm(4)),
        "LCM-LoRA + style LoRA, 4 steps": run(loaded, lcm(4, style=1.0), style="outlined"),
    }


def _composition_study(loaded: sd.Loaded) -> dict:
    return {"results": [[name, r.to_dict()] for name, r in composition(loaded).items()]}


#: `composition` as a stored measurement: lessons 2 and 3 both show it, the first page that
#: asks measures it, and the other loads it (keyed on the code, the weights and the device)
COMPOSITION = Study(
    "sd-composition",
    _composition_study,
    what="the style LoRA at 20 steps, LCM-LoRA at 4, and both at 4",
    identity=lambda loaded: loaded_identity(loaded, _COMPOSED),
)


def stored_composition(loaded: sd.Loaded) -> tuple[dict[str, Result], dict]:
    """`composition(loaded)` through the results store: (the results, their record, whose
    `fastgen_book.results.provenance` says whether this call measured them)."""
    ensure_adapters(loaded, *_COMPOSED)
    record = measure(COMPOSITION, loaded=loaded)
    return {name: Result.from_dict(r) for name, r in record["result"]["results"]}, record


#: the matrix pairs of the two key formats LoRA files use: peft's (diffusers' own saves) and
#: kohya's (most published files, the LCM-LoRA for SD v1.5 among them)
_DOWN_UP = (("lora_A.", "lora_B."), ("lora_down.", "lora_up."))


@dataclass(frozen=True)
class LoRAAnatomy:
    """What an adapter file holds for the UNet, read from the file itself."""

    name: str
    rank: int
    parameters: int  # of the UNet's A, B matrices (text-encoder parts and alphas excluded)
    file_bytes: int
    modules: int  # UNet weight matrices that get an A, B pair
    base_parameters: int  # parameters of the UNet it adapts

    @property
    def fraction(self) -> float:
        return self.parameters / self.base_parameters

    def summary(self) -> str:
        """'rank 16, 84 adapted matrices, 1,234 parameters (8.0% of the UNet's ...), file ...'."""
        return (
            f"rank {self.rank}, {self.modules} adapted matrices, {self.parameters:,} parameters "
            f"({100 * self.fraction:.1f}% of the UNet's {self.base_parameters:,}), "
            f"file {self.file_bytes / 1e6:.2f} MB"
        )

    def glue(self, prefix: str) -> None:
        """`prefix`rank, params (with thousands separators), frac (% of the UNet), mb."""
        from fastgen_book.book.glue import glue_values

        values = {"rank": self.rank, "params": f"{self.parameters:,}"}
        values |= {"frac": 100 * self.fraction, "mb": self.file_bytes / 1e6}
        glue_values(values, prefix)


def anatomy_of(state: dict[str, torch.Tensor]) -> tuple[int, int, int]:
    """(rank, UNet parameters, UNet modules) of a LoRA state dict in either key format."""
    unet = {k: v for k, v in state.items() if k.startswith(("unet.", "lora_unet_"))}
    downs = [v for k, v in unet.items() if any(d in k for d, _ in _DOWN_UP)]
    pairs = [v for k, v in unet.items() if any(d in k or u in k for d, u in _DOWN_UP)]
    if not downs:
        raise ValueError("no UNet LoRA matrices (lora_A/lora_B or lora_down/lora_up) in file")
    return max(v.shape[0] for v in downs), sum(v.numel() for v in pairs), len(downs)


def lora_anatomy(loaded: sd.Loaded, name: str) -> LoRAAnatomy:
    """Rank, parameter count, file size and module count of a loaded adapter's file."""
    from safetensors.torch import load_file

    file = loaded.adapters[name].file()
    rank, params, modules = anatomy_of(load_file(str(file)))
    return LoRAAnatomy(
        name,
        rank,
        params,
        file.stat().st_size,
        modules,
        sum(p.numel() for n, p in loaded.pipe.unet.named_parameters() if "lora_" not in n),
    )


def architecture_mismatch() -> str:
    """Load the tiny LCM-LoRA into a UNet of another shape (wider channels): the error it
    raises (its header and the first size-mismatch line). A LoRA is tied to the architecture
    it was trained on."""
    import logging

    from fastgen_book.sd.tiny import TinySDConfig, build_unet

    loaded = sd.load_pipeline("tiny")
    wider = build_unet(TinySDConfig(unet_channels=(48, 96)))
    loaded.pipe.unet = wider
    log = logging.getLogger("diffusers")
    level = log.level
    log.setLevel(logging.CRITICAL)  # diffusers logs the whole error before raising it
    try:
        sd.load_adapter(loaded, "lcm")
    except (RuntimeError, ValueError) as err:
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
        detail = next((line for line in lines if "size mismatch" in line), "")
        return "\n".join(filter(None, [lines[0], detail[:300]]))
    finally:
        log.setLevel(level)
    raise AssertionError("a LoRA for one UNet shape loaded into another")


def latent_shape(loaded: sd.Loaded, height: int | None = None) -> tuple[int, int, int]:
    """[channels, h, w] of the latents the UNet works on, from the live pipeline's configs."""
    vae = loaded.pipe.vae.config
    size = height or loaded.pipe.unet.config.sample_size * 2 ** (len(vae.block_out_channels) - 1)
    factor = 2 ** (len(vae.block_out_channels) - 1)
    return (vae.latent_channels, size // factor, size // factor)


def pick_images(result: Result, prompts=SHOWN, seed_index: int = 0) -> torch.Tensor:
    """The images `result` generated for `prompts` with its `seed_index`-th seed."""
    per_seed = len(result.prompts) // len(result.record["seeds"])
    offset = seed_index * per_seed
    index = [offset + result.prompts.index(p) for p in prompts]
    return torch.stack([result.images[i] for i in index])
