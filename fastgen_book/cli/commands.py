"""What each `python -m fastgen_book` command does: one function per command, called with the parsed
arguments; bad input ends in one line (`SystemExit("error: ...")`), never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

from fastgen_book.cli.args import ATTENTION, default_guidance


def cmd_notebooks(args) -> int:
    from fastgen_book.book.colab import write_all

    for path in write_all():
        print(f"wrote {path}")
    return 0


def _require_pages(pages: list[Path]) -> None:
    """One line naming the first page that does not exist."""
    for page in pages:
        if not page.is_file():
            raise SystemExit(f"error: no page {page}; pages are lessons/*.md")


def cmd_run_page(args) -> int:
    from fastgen_book.book.pages import PageExecutionError, execute_page

    _require_pages([args.page])
    try:
        page = execute_page(args.page, cache_path=None if args.no_cache else args.cache)
    except PageExecutionError as err:
        print(err, file=sys.stderr)
        return 1
    how = "from cache" if page.from_cache else "executed"
    print(f"{page.path}: ok ({how}, {page.seconds:.1f} s)")
    return 0


def cmd_check_site(args) -> int:
    from fastgen_book.book.site_check import check_site

    failed = 0
    for report in check_site(args.html, screenshot_dir=args.screenshots):
        status = "ok" if not report.problems else "FAIL: " + "; ".join(report.problems)
        print(f"{report.path} ({report.scheme}): {report.charts} chart(s), {status}")
        failed += bool(report.problems)
    return 1 if failed else 0


def cmd_bench(args) -> int:
    if args.suite == "toy2d":
        from fastgen_book.toy2d.bench import main

        return main(args.json, args.dataset, args.samples, args.threads)
    if args.suite == "machine":
        from fastgen_book.tinysd.machine import main

        return main(args.threads, args.json)
    if args.suite == "pages":
        from fastgen_book.book.readability import main

        try:
            return main(args.json)
        except FileNotFoundError as err:
            raise SystemExit(f"error: {err}") from None
    if args.suite == "build":
        from fastgen_book.book.bench import main

        _require_pages(args.pages)
        from fastgen_book.book.pages import PageExecutionError

        try:
            return main(args.json, args.pages or None)
        except (RuntimeError, PageExecutionError) as err:
            raise SystemExit(f"error: {str(err).splitlines()[0]}") from None
    from fastgen_book.sd.bench import main

    store_card = None
    if args.card:
        from fastgen_book.tinysd.card import store_card
    try:
        return main(args.json, args.tier, args.seeds, args.threads, store_card, args.quick)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        raise SystemExit(f"error: {err}") from None


def cmd_results(args) -> int:
    import torch

    from fastgen_book import results

    registry = results.studies()
    unknown = [n for n in args.names if n not in registry]
    if unknown:
        raise SystemExit(f"error: no study {unknown[0]!r}; studies are {', '.join(registry)}")
    names = args.names or sorted(registry)
    if args.action == "refresh":
        torch.set_num_threads(args.threads)
        for path in results.refresh(names):
            print(f"current: {path.relative_to(results.PACKAGE_DIR.parent)}")
        return 0
    for name in names:
        study = registry[name]
        found = results.stored(study)
        where = found[1] if found else "not stored (measured on first use)"
        print(f"{name:<18} {results.key(study)}  {where:<10} {study.what}")
    return 0


def cmd_fetch(args) -> int:
    from fastgen_book.sd import hub

    try:
        folders = hub.fetch(args.what)
    except Exception as err:  # network, authentication, a renamed file: one line, no traceback
        raise SystemExit(f"error: fetch {args.what} failed: {err}") from None
    for folder in folders:
        print(f"cached {folder}")
    return 0


def cmd_trial(args) -> int:
    import torch

    from fastgen_book.sd.tiny import TinySDConfig
    from fastgen_book.tinysd import trial

    torch.set_num_threads(args.threads)
    try:
        config = trial.recipe_with(
            args.what,
            args.steps,
            batch=args.batch,
            lr=args.lr,
            decay_steps=args.decay_steps,
            weighting=args.weighting,
            min_snr_gamma=args.min_snr_gamma,
            snr_floor=args.snr_floor,
            weighting_until=args.weighting_until,
            pool=args.pool,
            logvar_offset=args.logvar_offset,
            mse_weight=args.mse_weight,
        )
        if args.what == "vae":
            print(trial.VAE_HEADER, flush=True)
            for row in trial.vae_trial(config, args.work):
                print(trial.format_vae_row(row), flush=True)
            return 0
        eval_at = tuple(int(s) for s in args.eval_at.split(",") if s)
        model = trial.with_given(
            TinySDConfig(), unet_heads=args.heads, unet_attention=ATTENTION.get(args.attention)
        )
        rows = trial.unet_trial(config, eval_at, args.work, seeds=args.seeds, model=model)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}") from None
    print(trial.HEADER, flush=True)
    for row in rows:
        print(trial.format_row(row), flush=True)
    return 0


def cmd_train(args) -> int:
    import torch

    from fastgen_book.sd.pipeline import tiny_model_dir
    from fastgen_book.tinysd.loop import is_main_process
    from fastgen_book.tinysd.recipe import run_stage
    from fastgen_book.tinysd.stages import STAGE_NAMES

    if args.what == "all" and (args.steps or args.vae_steps):
        raise SystemExit("error: train all runs every stage's own steps; drop --steps/--vae-steps")
    torch.set_num_threads(args.threads)
    out = args.out or tiny_model_dir()
    for stage in STAGE_NAMES if args.what == "all" else (args.what,):
        try:
            record = run_stage(stage, out, args.work, steps=args.steps, vae_steps=args.vae_steps)
        except (ValueError, FileNotFoundError) as err:
            raise SystemExit(f"error: {err}") from None
        if is_main_process():
            print(f"wrote {stage} to {out} ({record['seconds']:.0f} s); recorded in record.json")
    return 0


def cmd_generate(args) -> int:
    # bad paths are answered before torch loads
    if args.out.suffix.lower() != ".png":
        raise SystemExit(f"error: --out must name a .png file, got {args.out}")
    if not args.out.parent.is_dir():
        raise SystemExit(f"error: --out {args.out}: no folder {args.out.parent}; create it first")
    import json

    import torch

    from fastgen_book.sd.shapes import parse_caption
    from fastgen_book.sd.tiers import resolve_tier

    try:  # and a prompt the tiny model cannot draw, before diffusers loads
        if resolve_tier(args.tier) == "tiny":
            parse_caption(args.prompt)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    from fastgen_book.sd import pipeline as sd
    from fastgen_book.sd.guidance import base_guidance
    from fastgen_book.sd.images import save_png

    torch.set_num_threads(args.threads)
    adapters = dict(args.lora)
    try:
        loaded = sd.load_pipeline(args.tier, variant=args.variant)
        guidance = args.guidance
        if guidance is None:
            guidance = default_guidance(adapters, base_guidance(loaded.tier), args.variant)
        for name in adapters:
            sd.load_adapter(loaded, name)
        images, record = sd.generate(
            loaded,
            args.prompt,
            scheduler=args.scheduler,
            steps=args.steps,
            guidance=guidance,
            adapters=adapters,
            seed=args.seed,
            repeats=args.repeats,
        )
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        raise SystemExit(f"error: {err}") from None
    save_png(images[0], args.out, pixels=args.size)
    print(json.dumps({**record, "out": str(args.out)}, indent=2))
    return 0
