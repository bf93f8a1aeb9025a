"""How much each tier measures: which prompts, how many seeds, images per pipeline call.

The tiny tier scores the world's 48-caption suite (`shapes.prompt_suite`), four seeds each, in one
call. On the gpu
tier a 512x512 image costs ~100x more: a measurement draws a few prompts once, in micro-batches,
so that no page cell needs more than about a minute on an A100-class GPU. The bound is counted
in UNet evaluations (one image through the UNet once): `tests/test_pages.py` counts them in
every cell of the SD pages run on the gpu tier's stand-in with nothing stored, as on a fresh
runtime, and `tests/test_sd_gpu_standin.py` in every experiment on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastgen_book.sd import shapes

#: prompts shown in image grids: every colour, shape and relation at least once, all from the
#: suite (`shapes.prompt_suite`), so that a grid picks them out of any tiny-tier measurement
SHOWN = (
    "a red circle left of a blue square",
    "a green triangle above a yellow square",
    "a blue square left of a red triangle",
    "a yellow triangle above a green square",
    "a red square left of a yellow triangle",
    "a blue circle above a green square",
)
#: UNet evaluations one page cell may spend on the gpu tier: about a minute if an A100-class
#: GPU runs SD v1.5 at 512x512 in fp16 at 40 evaluations a second or more (an assumption this
#: project could not measure; `python -m fastgen_book bench sd --tier gpu --quick` prints the
#: ms per image that checks it).
GPU_EVALS_PER_CELL = 2400


@dataclass(frozen=True)
class Budget:
    """What one measurement draws on a tier."""

    prompts: tuple[str, ...]  # every measurement draws these
    seeds: int  # images per prompt, by default
    curve_prompts: tuple[str, ...]  # lesson 3's 12-point curve draws these, once each
    batch_size: int | None  # images per pipeline call (None: all at once)
    max_steps: int  # the most sampler steps a measurement may ask for
    timing_batch: int = 8  # images per timed run: one fixed batch for every setting compared
    timing_repeats: int = 5  # timed runs per setting, interleaved (`fastgen_book.timing`)

    def images(self, seeds: int | None = None) -> int:
        return len(self.prompts) * (self.seeds if seeds is None else seeds)


_ALL = tuple(item.caption for item in shapes.prompt_suite())
TINY = Budget(prompts=_ALL, seeds=4, curve_prompts=_ALL, batch_size=None, max_steps=500)
GPU = Budget(
    prompts=(
        *SHOWN,
        "a green circle left of a red triangle",
        "a yellow square above a blue circle",
    ),
    seeds=1,
    curve_prompts=SHOWN[:4],
    batch_size=8,
    max_steps=100,
    timing_batch=1,
    timing_repeats=3,
)


def budget_for(tier: str) -> Budget:
    """The budget of `tier` ('tiny' or 'gpu')."""
    return GPU if tier == "gpu" else TINY
