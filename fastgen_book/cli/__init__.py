"""`python -m fastgen_book …`: the project's command line (`python -m fastgen_book --help` lists
it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fastgen_book.cli import args, commands
from fastgen_book.cli.args import ADAPTER_NAMES, SCHEDULER_NAMES

__all__ = ["ADAPTER_NAMES", "SCHEDULER_NAMES", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from fastgen_book.sd.hub import FETCH_SETS  # no torch import: --help stays fast
    from fastgen_book.tinysd.stages import STAGE_NAMES

    parser = args.Parser(prog="fastgen-book", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("notebooks", help="regenerate the Colab notebooks from the lesson pages")
    p.set_defaults(func=commands.cmd_notebooks)

    p = sub.add_parser("run-page", help="execute one lesson page in a fresh kernel")
    p.add_argument("page", type=Path)
    p.add_argument("--cache", type=Path, default=Path("_build/.jupyter_cache"))
    p.add_argument("--no-cache", action="store_true", help="always execute, store nothing")
    p.set_defaults(func=commands.cmd_run_page)

    p = sub.add_parser("check-site", help="check the built book in headless Chromium")
    p.add_argument("html", type=Path, nargs="?", default=Path("_build/html"))
    p.add_argument("--screenshots", type=Path, default=None, help="save a PNG of every page")
    p.set_defaults(func=commands.cmd_check_site)

    p = sub.add_parser("bench", help="print a benchmark table (quality, NFE, time)")
    p.add_argument(
        "suite",
        choices=["toy2d", "sd", "machine", "build", "pages"],
        help="machine: this machine's training speed, and the tiny model's training time here; "
        "build: each page's execution time, cold and from the cache, and its slowest cell; "
        "pages: what each built page puts before its reader (prose words, numbers per word, "
        "visible cell lengths, plumbing on show) against the book's bounds",
    )
    p.add_argument("--pages", type=Path, nargs="*", default=[], help="build: these pages only")
    p.add_argument("--json", type=Path, default=None, help="also write the result as JSON")
    p.add_argument("--dataset", default="two_moons", choices=["two_moons", "eight_gaussians"])
    p.add_argument("--samples", type=args.count, default=20000)
    p.add_argument(
        "--threads", type=args.count, default=2, help="torch threads (pinned for timing)"
    )
    p.add_argument("--tier", default="auto", choices=["tiny", "gpu", "auto"], help="sd only")
    p.add_argument(
        "--seeds", type=args.count, default=None, help="sd: images per prompt (default: the tier's)"
    )
    p.add_argument("--card", action="store_true", help="sd: update the tiny model's card")
    p.add_argument("--quick", action="store_true", help="sd: one seed; writes bench-sd-<tier>.json")
    p.set_defaults(func=commands.cmd_bench)

    p = sub.add_parser(
        "results", help="list the stored measurements, or re-measure and commit them"
    )
    p.add_argument("action", choices=["list", "refresh"])
    p.add_argument("names", nargs="*", help="studies (default: all)")
    p.add_argument("--threads", type=args.count, default=2, help="torch threads (pinned)")
    p.set_defaults(func=commands.cmd_results)

    p = sub.add_parser(
        "fetch", help="download the Hugging Face files the gpu tier reads (only when asked)"
    )
    p.add_argument("what", choices=list(FETCH_SETS))
    p.set_defaults(func=commands.cmd_fetch)

    p = sub.add_parser(
        "train", help="train a stage of the tiny SD model (resumable: rerun to continue)"
    )
    p.add_argument("what", choices=[*STAGE_NAMES, "all"], help="a stage, or all in order")
    p.add_argument("--out", type=Path, default=None, help="model folder (default: the shipped)")
    p.add_argument("--work", type=Path, default=Path("_build/sd-train"), help="checkpoints")
    p.add_argument(
        "--steps", type=args.count, default=None, help="training steps (default per stage)"
    )
    p.add_argument("--vae-steps", type=args.count, default=None, help="tiny-sd: autoencoder steps")
    p.add_argument("--threads", type=args.count, default=2)
    p.set_defaults(func=commands.cmd_train)

    p = sub.add_parser(
        "trial", help="try a UNet or autoencoder recipe, scored by the judge (retrains nothing)"
    )
    p.add_argument("what", choices=["unet", "vae"])
    p.add_argument("--steps", type=args.count, default=None, help="default 4000 (unet), 1800 (vae)")
    # every other option defaults to the shipped recipe's value
    # (`fastgen_book.tinysd.recipe.*_recipe`)
    p.add_argument("--decay-steps", type=int, default=None, help="unet: final cosine decay")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch", type=args.count, default=None)
    p.add_argument("--weighting", default=None, choices=list(args.WEIGHTINGS))
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
    # the architecture defaults to the shipped model's (`fastgen_book.sd.tiny.TinySDConfig`)
    p.add_argument("--heads", type=args.count, default=None, help="unet: attention heads per block")
    p.add_argument(
        "--attention",
        choices=list(args.ATTENTION),
        default=None,
        help="unet: where it attends to the text besides its 4x4 mid block",
    )
    p.add_argument("--eval-at", default="", help="steps to score at, e.g. 1500,2500")
    p.add_argument("--seeds", type=args.count, default=2, help="images per prompt (48 prompts)")
    p.add_argument("--work", type=Path, default=Path("_build/sd-trial"), help="checkpoints")
    p.add_argument("--threads", type=args.count, default=2)
    p.set_defaults(func=commands.cmd_trial)

    p = sub.add_parser("generate", help="text to image with the tiny model (or SD v1.5 on a GPU)")
    p.add_argument("--prompt", required=True)
    p.add_argument("--scheduler", default="dpmpp_2m", choices=list(args.SCHEDULER_NAMES))
    p.add_argument("--steps", type=args.count, default=20)
    p.add_argument(
        "--guidance",
        type=float,
        default=None,
        help="default 1 with an LCM-LoRA, else the tier's: 7.5 on SD v1.5, tiny-sd's from its card",
    )
    p.add_argument("--lora", type=args.adapter, action="append", default=[], help="NAME[=WEIGHT]")
    p.add_argument("--variant", default="base", choices=args.VARIANT_NAMES)
    p.add_argument("--tier", default="auto", choices=["tiny", "gpu", "auto"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=args.count, default=3, help="timed runs after a warm-up")
    p.add_argument(
        "--size", type=args.count, default=None, help="PNG's longest side (default: own, >= 256 px)"
    )
    p.add_argument("--out", type=Path, default=Path("fastgen_book.png"))
    p.add_argument("--threads", type=args.count, default=2)
    p.set_defaults(func=commands.cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parsed = build_parser().parse_args(argv)
    return parsed.func(parsed)
