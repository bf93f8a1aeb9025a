"""The command line answers bad input in one line that says what to do, with no traceback, and
a normal run prints no library notes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def fastgen(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fastgen_book", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run-page", "lessons/nope.md"], "no page lessons/nope.md"),
        (
            ["bench", "toy2d", "--samples", "-5"],
            "argument --samples: must be an integer >= 1, got -5",
        ),
        (
            ["generate", "--prompt", "a red circle left of a blue square", "--lora", "nope"],
            "argument --lora: unknown adapter 'nope'; choose one of: lcm, lcm-small, style",
        ),
        (
            [
                "generate",
                "--prompt",
                "a red circle left of a blue square",
                "--out",
                "/nonexistent/dir/x.png",
            ],
            "no folder /nonexistent/dir",
        ),
        (
            ["bench", "sd", "--tier", "tiny", "--seeds", "0"],
            "argument --seeds: must be an integer >= 1, got 0",
        ),
        (["results", "list", "nope"], "no study 'nope'; studies are toy-seed-spread"),
    ],
    ids=["run-page", "bench-samples", "generate-lora", "generate-out", "bench-seeds", "results"],
)
def test_bad_input_gets_one_line(args, says, tmp_path):
    done = fastgen(*args, cwd=tmp_path if args[0] == "generate" else None)
    assert done.returncode != 0
    assert done.stderr.startswith("error:") and says in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_a_normal_run_prints_its_record_and_no_library_notes(tmp_path):
    """LCM-LoRA at 4 steps from the command line: a PNG, a JSON record on stdout (guidance 1 by
    default with the adapter), nothing on stderr."""
    out = tmp_path / "x.png"
    done = fastgen(
        "generate",
        "--prompt",
        "a red triangle left of a blue circle",
        "--tier",
        "tiny",
        "--scheduler",
        "lcm",
        "--steps",
        "4",
        "--lora",
        "lcm",
        "--repeats",
        "1",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    record = json.loads(done.stdout)
    assert record["adapters"] == {"lcm": 1.0} and record["guidance"] == 1.0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generate_defaults_to_guidance_1_with_either_lcm_lora():
    from fastgen_book.cli.args import DISTILLED_GUIDANCE, default_guidance
    from fastgen_book.sd.adapters import TINY_ADAPTERS

    assert set(DISTILLED_GUIDANCE) == {n for n in TINY_ADAPTERS if n.startswith("lcm")}
    for name in DISTILLED_GUIDANCE:
        assert default_guidance({name: 1.0, "style": 1.0}, 2.0) == 1.0
    assert default_guidance({"style": 1.0}, 2.0) == 2.0 and default_guidance({}, 7.5) == 7.5
