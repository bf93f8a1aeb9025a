"""`python -m fastgen …`: the project's command line (`python -m fastgen --help` lists it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_notebooks(args) -> int:
    from fastgen.book.colab import write_all

    for path in write_all():
        print(f"wrote {path}")
    return 0


def _require_pages(pages: list[Path]) -> None:
    """One line naming the first page that does not exist."""
    for page in pages:
        if not page.is_file():
            raise SystemExit(f"error: no page {page}; pages are lessons/*.md")


def _cmd_run_page(args) -> int:
    from fastgen.book.pages import PageExecutionError, execute_page

    _require_pages([args.page])
    try:
        page = execute_page(args.page, cache_path=None if args.no_cache else args.cache)
    except PageExecutionError as err:
        print(err, file=sys.stderr)
        return 1
    how = "from cache" if page.from_cache else "executed"
    print(f"{page.path}: ok ({how}, {page.seconds:.1f} s)")
    return 0


def _cmd_check_site(args) -> int:
    from fastgen.book.site_check import check_site

    failed = 0
    for report in check_site(args.html, screenshot_dir=args.screenshots):
        status = "ok" if not report.problems else "FAIL: " + "; ".join(report.problems)
        print(f"{report.path} ({report.scheme}): {report.charts} chart(s), {status}")
        failed += bool(report.problems)
    return 1 if failed else 0


def _cmd_bench(args) -> int:
    if args.suite == "toy2d":
        from fastgen.toy2d.bench import main

        return main(args.json, args.dataset, args.samples, args.threads)
    if args.suite == "machine":
        from fastgen.tinysd.machine import main

        return main(args.threads, args.json)
    if args.suite == "build":
        from fastgen.book.bench import main

        _require_pages(args.pages)
        from fastgen.book.pages import PageExecutionError

        try:
            return main(args.json, args.pages or None)
        except (RuntimeError, PageExecutionError) as err:
            raise SystemExit(f"error: {str(err).splitlines()[0]}") from None
    from fastgen.sd.bench import main

    store_card = None
    if args.card:
        from fastgen.tinysd.card import store_card
    try:
        return main(args.json, args.tier, args.seeds, args.threads, store_card, args.quick)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        raise SystemExit(f"error: {err}") from None


def _cmd_results(args) -> int:
    import torch

    from fastgen import results

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


def _cmd_fetch(args) -> int:
    from fastgen.sd import hub

    try:
        folders = hub.fetch(args.what)
    except Exception as err:  # network, authentication, a renamed file: one line, no traceback
        raise SystemExit(f"error: fetch {args.what} failed: {err}") from None
    for folder in folders:
        print(f"cached {folder}")
    return 0


def _cmd_trial(args) -> int:
    import torch

    from fastgen.sd.tiny import TinySDConfig
    from fastgen.tinysd import trial

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


def _cmd_train(args) -> int:
    import torch

    from fastgen.sd.pipeline import tiny_model_dir
    from fastgen.tinysd.recipe import run_stage
    from fastgen.tinysd.stages import STAGE_NAMES

    if args.what == "all" and (args.steps or args.vae_steps):
        raise SystemExit("error: train all runs every stage's own steps; drop --steps/--vae-steps")
    torch.set_num_threads(args.threads)
    out = args.out or tiny_model_dir()
    from fastgen.tinysd.loop import is_main_process

    for stage in STAGE_NAMES if args.what == "all" else (args.what,):
        try:
            record = run_stage(stage, out, args.work, steps=args.steps, vae_steps=args.vae_steps)
        except (ValueError, FileNotFoundError) as err:
            raise SystemExit(f"error: {err}") from None
        if is_main_process():
            print(f"wrote {stage} to {out} ({record['seconds']:.0f} s); recorded in record.json")
    return 0


def _parse_adapter(text: str) -> tuple[str, float]:
    name, _, weight = text.partition("=")
    if name not in ADAPTER_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown adapter {name!r}; choose one of: {', '.join(ADAPTER_NAMES)}"
        )
    try:
        return name, float(weight) if weight else 1.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME or NAME=WEIGHT") from None


def _count(text: str) -> int:
    """An argparse type: an integer >= 1 (checked before anything heavy is imported)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that answers a bad argument in one line (no usage block) that says what to do."""

    def error(self, message: str):
        self.exit(2, f"error: {message}; see `python -m {self.prog} --help`\n")


def _cmd_generate(args) -> int:
    # bad paths are answered before torch and the pipeline load
    if args.out.suffix.lower() != ".png":
        raise SystemExit(f"error: --out must name a .png file, got {args.out}")
    if not args.out.parent.is_dir():
        raise SystemExit(f"error: --out {args.out}: no folder {args.out.parent}; create it first")
    import json

    import torch

    from fastgen.sd import pipeline as sd
    from fastgen.sd.images import save_png

    torch.set_num_threads(args.threads)
    adapters = dict(args.lora)
    guidance = args.guidance if args.guidance is not None else (1.0 if "lcm" in adapters else 7.5)
    try:
        loaded = sd.load_pipeline(args.tier, variant=args.variant)
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


#: kept in sync with fastgen.sd (a test checks); listed here so --help needs no torch import
SCHEDULER_NAMES = ("ddpm", "ddim", "dpmpp_2m", "lcm", "euler")
ADAPTER_NAMES = ("lcm", "style")
WEIGHTINGS = ("epsilon", "min-snr", "truncated-snr")
#: `trial unet --attention`: TinySDConfig.unet_attention per choice
ATTENTION = {"8x8": (True, False), "mid": (False, False)}


def build_parser() -> argparse.ArgumentParser:
    from fastgen.sd.hub import FETCH_SETS  # no torch import: --help stays fast
    from fastgen.tinysd.stages import STAGE_NAMES

    parser = _Parser(prog="fastgen", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("notebooks", help="regenerate the Colab notebooks from the lesson pages")
    p.set_defaults(func=_cmd_notebooks)

    p = sub.add_parser("run-page", help="execute one lesson page in a fresh kernel")
    p.add_argument("page", type=Path)
    p.add_argument("--cache", type=Path, default=Path("_build/.jupyter_cache"))
    p.add_argument("--no-cache", action="store_true", help="always execute, store nothing")
    p.set_defaults(func=_cmd_run_page)

    p = sub.add_parser("check-site", help="check the built book in headless Chromium")
    p.add_argument("html", type=Path, nargs="?", default=Path("_build/html"))
    p.add_argument("--screenshots", type=Path, default=None, help="save a PNG of every page")
    p.set_defaults(func=_cmd_check_site)

    p = sub.add_parser("bench", help="print a benchmark table (quality, NFE, time)")
    p.add_argument(
        "suite",
        choices=["toy2d", "sd", "machine", "build"],
        help="machine: this machine's training speed, and the tiny model's training time here; "
        "build: each page's execution time, cold and from the cache, and its slowest cell",
    )
    p.add_argument("--pages", type=Path, nargs="*", default=[], help="build: these pages only")
    p.add_argument("--json", type=Path, default=None, help="also write the result as JSON")
    p.add_argument("--dataset", default="two_moons", choices=["two_moons", "eight_gaussians"])
    p.add_argument("--samples", type=_count, default=20000)
    p.add_argument("--threads", type=_count, default=2, help="torch threads (pinned for timing)")
    p.add_argument("--tier", default="auto", choices=["tiny", "gpu", "auto"], help="sd only")
    p.add_argument(
        "--seeds", type=_count, default=None, help="sd: images per prompt (default: the tier's)"
    )
    p.add_argument("--card", action="store_true", help="sd: update the tiny model's card")
    p.add_argument("--quick", action="store_true", help="sd: one seed; writes bench-sd-<tier>.json")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser(
        "results", help="list the stored measurements, or re-measure and commit them"
    )
    p.add_argument("action", choices=["list", "refresh"])
    p.add_argument("names", nargs="*", help="studies (default: all)")
    p.add_argument("--threads", type=_count, default=2, help="torch threads (pinned)")
    p.set_defaults(func=_cmd_results)

    p = sub.add_parser(
        "fetch", help="download the Hugging Face files the gpu tier reads (only when asked)"
    )
    p.add_argument("what", choices=list(FETCH_SETS))
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser(
        "train", help="train a stage of the tiny SD model (resumable: rerun to continue)"
    )
    p.add_argument("what", choices=[*STAGE_NAMES, "all"], help="a stage, or all in order")
    p.add_argument("--out", type=Path, default=None, help="model folder (default: the shipped)")
    p.add_argument("--work", type=Path, default=Path("_build/sd-train"), help="checkpoints")
    p.add_argument("--steps", type=_count, default=None, help="training steps (default per stage)")
    p.add_argument("--vae-steps", type=_count, default=None, help="tiny-sd: autoencoder steps")
    p.add_argument("--threads", type=_count, default=2)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "trial", help="try a UNet or autoencoder recipe, scored by the judge (retrains nothing)"
    )
    p.add_argument("what", choices=["unet", "vae"])
    p.add_argument("--steps", type=_count, default=None, help="default 4000 (unet), 1800 (vae)")
    # every other option defaults to the shipped recipe's value (`fastgen.tinysd.train.*_recipe`)
    p.add_argument("--decay-steps", type=int, default=None, help="unet: final cosine decay")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch", type=_count, default=None)
    p.add_argument("--weighting", default=None, choices=list(WEIGHTINGS))
    p.add_argument("--min-snr-gamma", type=float, default=None)
    p.add_argument("--snr-floor", type=float, default=None, help="truncated-snr's floor")
    p.add_argument(
        "--weighting-until", type=int, default=None, help="then the plain loss (0: never)"
    )
    p.add_argument("--pool", type=int, default=None, help="images encoded once (0: fresh)")
    p.add_argument(
        "--logvar-offset", type=float, default=None, help="vae: shift of the initial log-variance"
    )
    p.add_argument(
        "--mse-weight", type=float, default=None, help="vae: squared-error term beside L1"
    )
    # the architecture defaults to the shipped model's (`fastgen.sd.tiny.TinySDConfig`)
    p.add_argument("--heads", type=_count, default=None, help="unet: attention heads per block")
    p.add_argument(
        "--attention",
        choices=list(ATTENTION),
        default=None,
        help="unet: where it attends to the text besides its 4x4 mid block",
    )
    p.add_argument("--eval-at", default="", help="steps to score at, e.g. 1500,2500")
    p.add_argument("--seeds", type=_count, default=2, help="images per prompt (48 prompts)")
    p.add_argument("--work", type=Path, default=Path("_build/sd-trial"), help="checkpoints")
    p.add_argument("--threads", type=_count, default=2)
    p.set_defaults(func=_cmd_trial)

    p = sub.add_parser("generate", help="text to image with the tiny model (or SD v1.5 on a GPU)")
    p.add_argument("--prompt", required=True)
    p.add_argument("--scheduler", default="dpmpp_2m", choices=list(SCHEDULER_NAMES))
    p.add_argument("--steps", type=_count, default=20)
    p.add_argument("--guidance", type=float, default=None, help="default 1 with lcm, else 7.5")
    p.add_argument("--lora", type=_parse_adapter, action="append", default=[], help="NAME[=WEIGHT]")
    p.add_argument("--variant", default="base", choices=["base", "paper"])
    p.add_argument("--tier", default="auto", choices=["tiny", "gpu", "auto"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=_count, default=3, help="timed runs after a warm-up")
    p.add_argument(
        "--size", type=_count, default=None, help="PNG's longest side (default: own, >= 256 px)"
    )
    p.add_argument("--out", type=Path, default=Path("fastgen.png"))
    p.add_argument("--threads", type=_count, default=2)
    p.set_defaults(func=_cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
