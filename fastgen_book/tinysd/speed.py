"""How fast a machine trains the tiny model: one fixed reference training step, timed.

The same computation ran up to twice as fast in one hour as in another on the 2-core machines
this model is trained on, so wall times recorded on different days do not compare by
themselves. Every training stage records this step's time beside its own wall time
(`fastgen_book.tinysd.recipe`), and `python -m fastgen_book bench machine`
(`fastgen_book.tinysd.machine`) times it
here and scales the recorded chain to this machine.
"""

from __future__ import annotations

import statistics
import time

import torch


def reference_step_ms(steps: int = 6, warmup: int = 2, batch: int = 64) -> float:
    """Median wall time (ms) of one step of the tiny UNet + text encoder trained as the base
    model is (epsilon loss, backward, AdamW), on fixed seeded inputs at `batch`, with the
    current torch thread count. The modules are built afresh from the shipped architecture;
    nothing outside this function changes."""
    import torch.nn.functional as F

    from fastgen_book._checks import check_steps
    from fastgen_book.sd.shapes import all_items
    from fastgen_book.sd.tiny import TinySDConfig, build_pipeline
    from fastgen_book.tinysd.data import encode_prompts
    from fastgen_book.tinysd.loop import adamw

    check_steps(steps, "steps")
    check_steps(batch, "batch")
    pipe = build_pipeline(TinySDConfig())
    unet, size = pipe.unet, pipe.unet.config.sample_size
    g = torch.Generator().manual_seed(0)
    noisy = torch.randn(batch, unet.config.in_channels, size, size, generator=g)
    noise = torch.randn(noisy.shape, generator=g)
    t = torch.randint(0, 1000, (batch,), generator=g)
    captions = [item.caption for item in all_items()]
    captions = (captions * (batch // len(captions) + 1))[:batch]
    opt = adamw(list(unet.parameters()) + list(pipe.text_encoder.parameters()), 1e-4)
    times = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        states = encode_prompts(pipe, captions)
        loss = F.mse_loss(unet(noisy, t, encoder_hidden_states=states).sample, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[warmup:])


def expected_seconds(recorded_seconds: float, recorded_ms: float, here_ms: float) -> float:
    """A recorded wall time scaled to a machine whose reference step takes `here_ms`."""
    return recorded_seconds * here_ms / recorded_ms


def scaled_record(record: dict, here_ms: float) -> dict:
    """{stage: {"seconds", "reference_step_ms", "expected_seconds"}} for the stages of `record`
    (a model folder's record.json) that recorded their speed, scaled to `here_ms`."""
    rows = {}
    for stage, r in record.items():
        then = r.get("reference_step_ms")
        if then:  # stages trained before their speed was recorded have none
            mean = sum(then) / len(then)
            rows[stage] = {
                "seconds": r["seconds"],
                "reference_step_ms": mean,
                "expected_seconds": expected_seconds(r["seconds"], mean, here_ms),
            }
    return rows
