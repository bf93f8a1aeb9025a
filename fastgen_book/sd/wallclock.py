"""Wall-clock per image of several sampling settings, measured so that they can be compared:
one fixed batch of the tier's prompts, a warm-up, and repeats interleaved across the settings
(`fastgen_book.timing`). Switching scheduler and adapters happens between the timed runs."""

from __future__ import annotations

from functools import partial

from fastgen_book.sd import device
from fastgen_book.sd.adapters import (
    fuse_adapters,
    prompt_with_triggers,
    set_adapters,
    unfuse_adapters,
)
from fastgen_book.sd.budget import budget_for
from fastgen_book.sd.pipeline import Loaded, run_batches, set_scheduler
from fastgen_book.timing import Timing, interleaved


def _switch(loaded: Loaded, setting) -> None:
    """Bring the pipeline to `setting`'s scheduler and adapters (fused or not)."""
    set_scheduler(loaded, setting.scheduler)
    want_fused = dict(setting.adapters) if setting.fused and setting.adapters else {}
    if loaded.fused and loaded.fused != want_fused:
        unfuse_adapters(loaded)
    if want_fused and not loaded.fused:
        fuse_adapters(loaded, want_fused)
    elif not want_fused:
        set_adapters(loaded, setting.adapters)


def time_settings(
    loaded: Loaded,
    settings,
    *,
    repeats: int | None = None,
    batch: int | None = None,
    on: dict[str, Loaded] | None = None,
) -> dict[str, Timing]:
    """{setting.name: Timing} per image, for `fastgen_book.sd.evaluate.Setting`s: the first `batch`
    prompts of the tier (default: its `timing_batch`) in one pipeline call per run, `repeats`
    interleaved runs each (default: the tier's `timing_repeats`) after one warm-up round.
    `on`: setting name -> another loaded pipeline of the same tier that runs it (a variant such
    as tiny-turbo); the rest run on `loaded`."""
    budget = budget_for(loaded.tier)
    prompts = list(budget.prompts[: batch or budget.timing_batch])
    names = [s.name for s in settings]
    if len(set(names)) != len(names):
        raise ValueError(f"settings to time need distinct names, got {names}")
    runs, setup = {}, {}
    pipes = {s.name: (on or {}).get(s.name, loaded) for s in settings}
    for s in settings:
        pipe = pipes[s.name]
        sent = [prompt_with_triggers(pipe, p, s.adapters) for p in prompts]
        runs[s.name] = partial(run_batches, pipe, [sent], s.steps, s.guidance, 0)
        setup[s.name] = partial(_switch, pipe, s)
    try:
        return interleaved(
            runs,
            repeats=repeats or budget.timing_repeats,
            per=len(prompts),
            setup=setup,
            sync=lambda: device.synchronize(loaded.device),
        )
    finally:
        for pipe in {id(p): p for p in pipes.values()}.values():
            if pipe.fused:
                unfuse_adapters(pipe)
