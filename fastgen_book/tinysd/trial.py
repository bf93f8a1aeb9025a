"""Quick trials of training recipes for the tiny model, scored by the judge, that retrain
nothing shipped.

    python -m fastgen_book trial unet --steps 4000 --decay-steps 1500 --lr 1e-3 \\
        --weighting truncated-snr --snr-floor 0.1 --eval-at 1500,2500
    python -m fastgen_book trial vae --steps 1600

`unet`: a fresh UNet and text encoder trained on the shipped autoencoder's latents, scored as
they learn (DPM-Solver++ 20 steps at guidance 7.5 on every prompt, `seeds` images each): "does
this recipe learn colours, shapes and relation in fewer steps?" in a quarter of an hour. `vae`: a
fresh autoencoder, scored by how well the judge reads its reconstructions, next to the shipped
one's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fastgen_book.sd.judge import ATTRIBUTES as JUDGED
from fastgen_book.sd.tiny import TinySDConfig
from fastgen_book.tinysd.config import TrainConfig


def recipe_with(what: str, steps: int | None = None, **given) -> TrainConfig:
    """The shipped recipe of `what` ("unet" or "vae"), changed where `given` is not None;
    `steps` defaults to 4000 (unet) or the shipped count (vae). The autoencoder has no final
    decay, so `decay_steps` is ignored for it; the UNet trial uses the shipped autoencoder, so
    `logvar_offset` and `mse_weight` are ignored for it."""
    from fastgen_book._checks import check_choice
    from fastgen_book.tinysd.recipe import VAE_STEPS, unet_recipe, vae_recipe

    check_choice(what, ("unet", "vae"), "what")
    if what == "vae":
        config = vae_recipe(steps or VAE_STEPS)
        given.pop("decay_steps", None)
    else:
        config = unet_recipe(steps or 4000)
        given.pop("logvar_offset", None)
        given.pop("mse_weight", None)
    return with_given(config, **given)


def with_given(config, **given):
    """`config` (a frozen dataclass) with the fields in `given` that are not None replaced: an
    option left out keeps the shipped value."""
    return replace(config, **{k: v for k, v in given.items() if v is not None})


def unet_trial(
    config: TrainConfig,
    eval_at: tuple[int, ...],
    work_dir: Path,
    seeds: int = 2,
    model: TinySDConfig | None = None,
):
    """A UNet of architecture `model` (default: the shipped one) trained with `config`; yields
    {"step", "seconds", accuracy per attribute, "all", "distance", "floor"} at each
    `eval_at` step and at `config.steps`. Eval points must lie before the final decay, where
    the learning rate does not depend on the run's length (checked before anything runs)."""
    from fastgen_book.sd import pipeline as sd

    constant_until = config.steps - config.decay_steps if config.schedule == "constant" else 0
    bad = [s for s in eval_at if not 0 < s <= constant_until]
    if bad:
        raise ValueError(
            f"eval steps {bad} are not in the constant-rate phase (1..{constant_until}); "
            "pick earlier steps or a smaller --decay-steps"
        )
    shipped = sd.tiny_model_dir() / "pipeline"
    if not (shipped / "vae").exists():
        raise FileNotFoundError(
            f"no autoencoder at {shipped}: run `python -m fastgen_book train tiny-sd`"
        )
    model = model or TinySDConfig()
    return _run(config, sorted(set(eval_at)), shipped, Path(work_dir), seeds, model)


def _run(
    config: TrainConfig,
    eval_at: list[int],
    shipped: Path,
    work_dir: Path,
    seeds: int,
    model: TinySDConfig,
):
    from diffusers import AutoencoderKL

    from fastgen_book.sd import pipeline as sd
    from fastgen_book.sd.evaluate import Setting, evaluate, load_tiny_judge
    from fastgen_book.sd.tiny import build_pipeline
    from fastgen_book.tinysd import train

    pipe = build_pipeline(model)
    pipe.vae = AutoencoderKL.from_pretrained(shipped, subfolder="vae", use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    judge = load_tiny_judge()
    (work_dir / "unet.safetensors").unlink(missing_ok=True)  # a trial always starts from scratch
    for steps in (*[s for s in eval_at if s < config.steps], config.steps):
        # segments of one run: each resumes the last one's checkpoint
        segment = config if steps == config.steps else replace(config, steps=steps, decay_steps=0)
        record = train.train_unet(pipe, segment, work_dir, progress=False)
        pipe.unet.eval()
        pipe.text_encoder.eval()
        loaded = sd.Loaded(pipe, "tiny", "trial", "cpu")
        result = evaluate(loaded, judge, Setting("dpmpp_2m", 20, 7.5), seeds=seeds, warmup=False)
        yield {
            "step": steps,
            "seconds": record["seconds"],
            **{k: 100 * v for k, v in result.accuracy.items()},
            "all": 100 * result.all_correct,
            "distance": result.distance,
            "floor": result.distance_floor,
        }


def vae_trial(config: TrainConfig, work_dir: Path, n: int = 256) -> list[dict]:
    """[shipped, trial] rows of {"name", "seconds", "l1", "<style>/<background>": % of
    reconstructions the judge reads as the right colours, shapes, relation, style and background,
    and per attribute ("colour", ...) the % read right over all looks} on `n` held-out images
    per look; the trial trains with `config` (start from `fastgen_book.tinysd.recipe.vae_recipe`)
    from
    the shipped model's initial weights."""
    from diffusers import AutoencoderKL

    from fastgen_book.sd import pipeline as sd
    from fastgen_book.sd.evaluate import load_tiny_judge
    from fastgen_book.sd.tiny import build_pipeline
    from fastgen_book.tinysd import train

    shipped = sd.tiny_model_dir() / "pipeline"
    judge = load_tiny_judge()
    vae = build_pipeline().vae
    (Path(work_dir) / "vae.safetensors").unlink(missing_ok=True)
    record = train.train_vae(vae, config, Path(work_dir), progress=False)
    rows = []
    if (shipped / "vae").exists():
        old = AutoencoderKL.from_pretrained(shipped, subfolder="vae", use_safetensors=True)
        rows.append(_score_vae(old, judge, "shipped", float("nan"), n))
    rows.append(_score_vae(vae.eval(), judge, "trial", record["seconds"], n))
    return rows


def _score_vae(vae, judge, name: str, seconds: float, n: int) -> dict:
    import torch

    from fastgen_book.sd import judge as judge_mod
    from fastgen_book.sd import shapes

    g = torch.Generator().manual_seed(777)
    row, l1, per_attribute = {"name": name, "seconds": seconds}, [], {}
    with torch.no_grad():
        for style in shapes.STYLES:
            for background in shapes.BACKGROUNDS:
                items = shapes.sample_items(n, generator=g)
                x = shapes.render(items, generator=g, style=style, background=background)
                z = vae.encode(x * 2 - 1).latent_dist.mean
                recon = (vae.decode(z).sample.clamp(-1, 1) + 1) / 2
                l1.append(float((recon - x).abs().mean()))
                prompts = [i.caption for i in items]
                scores = judge_mod.score(judge, recon, prompts, style, background)
                row[f"{style}/{background}"] = 100 * scores.all_correct
                for k, v in scores.accuracy.items():
                    per_attribute.setdefault(k, []).append(100 * v)
    # which attribute a weak autoencoder loses (the looks are equal in size: plain means)
    means = {k: sum(v) / len(v) for k, v in per_attribute.items()}
    return {**row, "l1": sum(l1) / len(l1), **means}


def format_vae_row(row: dict) -> str:
    """One line of the autoencoder trial's table."""
    looks = " ".join(f"{v:14.1f}" for k, v in row.items() if "/" in k)
    attributes = " ".join(f"{row[k]:6.1f}" for k in ATTRIBUTES)
    seconds = "-" if row["seconds"] != row["seconds"] else f"{row['seconds']:.0f}"  # nan: shipped
    return f"{row['name']:8s} {seconds:>8s} {row['l1']:7.4f} {looks} {attributes}"


ATTRIBUTES = tuple(JUDGED)  # the attributes a score reports, in its order
VAE_HEADER = (
    "name      train s      L1      filled/dark   filled/paper  outlined/dark outlined/paper"
    " colour  shape    rel  style     bg"
)


def format_row(row: dict) -> str:
    """One line of the UNet trial's table."""
    acc = " ".join(f"{row[k]:6.1f}" for k in ("colour", "shape", "relation", "style"))
    return (
        f"{row['step']:6d} {row['seconds']:8.0f} {acc} {row['all']:6.1f} "
        f"{row['distance']:8.1f} {row['floor']:6.1f}"
    )


HEADER = "  step  train s colour  shape    rel  style    all distance  floor"
