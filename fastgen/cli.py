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


def _cmd_run_page(args) -> int:
    from fastgen.book.pages import PageExecutionError, execute_page

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
    raise AssertionError(args.suite)


def _cmd_train(args) -> int:
    import torch

    torch.set_num_threads(args.threads)
    if args.what == "tiny-sd":
        from fastgen.sd.train import train_tiny_sd

        record = train_tiny_sd(args.out, args.vae_steps, args.unet_steps)
        print(
            f"wrote {args.out}: vae {record['vae']['seconds']:.0f} s, "
            f"unet {record['unet']['seconds']:.0f} s"
        )
        return 0
    raise AssertionError(args.what)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastgen", description=__doc__.split("\n")[0])
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
    p.add_argument("suite", choices=["toy2d"])
    p.add_argument("--json", type=Path, default=None, help="also write the result as JSON")
    p.add_argument("--dataset", default="two_moons", choices=["two_moons", "eight_gaussians"])
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--threads", type=int, default=2, help="torch threads (pinned for timing)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("train", help="train a model (resumable: rerun to continue)")
    p.add_argument("what", choices=["tiny-sd"])
    p.add_argument("--out", type=Path, default=Path("_build/tiny-sd"))
    p.add_argument("--vae-steps", type=int, default=2000)
    p.add_argument("--unet-steps", type=int, default=5000)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=_cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
