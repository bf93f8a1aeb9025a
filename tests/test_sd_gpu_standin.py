"""The gpu tier, run on a stand-in of the real Hugging Face files (tests/standin.py): the same
repository ids, file names and key formats, the tiny model's weights inside, offline, with the
accelerator mapped to the CPU. Each test names the defect of the gpu tier it keeps fixed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from fastgen_book.sd import adapters, budget, hub
from fastgen_book.sd import experiments as ex
from fastgen_book.sd import pipeline as sd
from fastgen_book.sd.clip import clip_inputs, clip_scores, load_clip


@pytest.fixture
def gpu(gpu_standin):
    return sd.load_pipeline("auto")


def test_auto_picks_the_gpu_tier_and_loads_the_fp16_variant(gpu, standin_cache):
    """Defect 8: fp16 variant files, SD v1.5's own scheduler and model index."""
    assert gpu.tier == "gpu" and gpu.model_id == hub.SD15.repo_id
    assert gpu.pipe.unet.dtype == torch.float16 and gpu.pipe.vae.dtype == torch.float16
    assert type(gpu.pipe.scheduler).__name__ == "PNDMScheduler"
    assert gpu.pipe.tokenizer.model_max_length == 77
    assert gpu.pipe.vae.use_slicing  # defect 6: decoded image by image
    # the cache holds the fp16 files only, as `fetch sd15` leaves it
    snapshot = hub.snapshot(hub.SD15)
    assert not list(snapshot.rglob("diffusion_pytorch_model.safetensors"))


def test_a_partial_download_names_what_is_missing(
    gpu_standin, standin_cache, tmp_path, monkeypatch, capsys
):
    """Defect 8: presence means every file, not model_index.json alone."""
    partial = tmp_path / "hub"
    shutil.copytree(standin_cache, partial)
    unet = next((partial).rglob("unet/diffusion_pytorch_model.fp16.safetensors"))
    unet.unlink()
    monkeypatch.setenv("HF_HUB_CACHE", str(partial))
    with pytest.raises(FileNotFoundError) as info:
        sd.load_pipeline("gpu")
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in str(info.value)
    assert hub.FETCH_COMMAND in str(info.value)
    loaded = sd.load_pipeline("auto")  # falls back, and says why in one line
    notice = capsys.readouterr().out.strip()
    assert loaded.tier == "tiny" and len(notice.splitlines()) == 1
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in notice and hub.FETCH_COMMAND in notice


def test_an_empty_cache_on_a_cuda_machine_is_said_not_silent(tmp_path, monkeypatch, capsys):
    """Defect 10: auto on a CUDA machine without the files prints a notice."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("FASTGEN_GPU_DEVICE", raising=False)
    monkeypatch.delenv(sd.TIER_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    loaded = sd.load_pipeline("auto")
    out = capsys.readouterr().out
    assert loaded.tier == "tiny" and "cuda is available" in out and hub.FETCH_COMMAND in out
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    sd.load_pipeline("auto")
    assert capsys.readouterr().out == ""  # a CPU machine expects the tiny model: no notice


def test_the_published_lcm_lora_loads_offline_by_hub_id(gpu):
    """Defect 1: the hub id needs its weight_name offline; every kohya key arrives."""
    sd.load_adapter(gpu, "lcm")
    source = gpu.adapters["lcm"]
    assert source.location == hub.LCM_LORA.repo_id and source.weight_name == hub.LCM_LORA.files[0]
    file = load_file(str(source.file()))
    assert any(k.startswith("lora_unet_") and k.endswith(".alpha") for k in file)
    state = gpu.pipe.unet.state_dict()
    for key, value in file.items():
        if key.endswith("lora_down.weight"):
            module = key.removeprefix("lora_unet_").removesuffix(".lora_down.weight")
            match = [
                k
                for k in state
                if k.endswith(".lcm.weight")
                and "lora_A" in k
                and k.replace(".", "_").startswith(module + "_lora_A")
            ]
            assert len(match) == 1, key
            assert torch.equal(state[match[0]], value), key


def test_lora_anatomy_reads_the_kohya_format(gpu):
    """Defect 2: rank and sizes from the published key format, same as the peft file's."""
    sd.load_adapter(gpu, "lcm")
    kohya = ex.lora_anatomy(gpu, "lcm")
    peft_file = sd.tiny_model_dir() / "lcm-lora" / adapters.LORA_FILE
    rank, params, modules = ex.anatomy_of(load_file(str(peft_file)))
    assert (kohya.rank, kohya.parameters, kohya.modules) == (rank, params, modules)
    assert kohya.modules > 0 and kohya.file_bytes == gpu.adapters["lcm"].file().stat().st_size


def test_the_style_lora_defaults_to_the_published_one_or_a_named_file(gpu, tmp_path, monkeypatch):
    """Defect 3 (default published style LoRA with its trigger words) and defect 2 (a style
    LoRA whose file is not named pytorch_lora_weights.safetensors)."""
    source = sd.adapter_source(gpu, "style")
    assert source.location == hub.STYLE_LORA.repo_id and source.trigger == hub.STYLE_TRIGGER
    own = tmp_path / "mine"
    own.mkdir()
    shutil.copy(source.file(), own / "my-style-v2.safetensors")
    monkeypatch.setenv(sd.STYLE_ENV, str(own))
    assert sd.adapter_source(gpu, "style").file() == own / "my-style-v2.safetensors"
    sd.load_adapter(gpu, "style")
    _, record = sd.generate(
        gpu,
        ex.SHOWN[0],
        scheduler="lcm",
        steps=1,
        guidance=1.0,
        adapters={"style": 1.0},
        repeats=1,
        warmup=False,
    )
    assert record["adapters"] == {"style": 1.0}
    (own / "second.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="name the LoRA file itself"):
        sd.adapter_source(gpu, "style")


def test_clip_scores_uint8_images_on_the_tier_device(gpu_standin):
    """Defect 5: CLIP's processor rescales by 1/255, so it gets 0-255 values; loaded once."""
    model, processor = load_clip("cpu")
    assert load_clip("cpu")[0] is model
    black = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    white = torch.full((1, 3, 32, 32), 255, dtype=torch.uint8)
    px = [clip_inputs(processor, x, ["a"])["pixel_values"] for x in (black, white)]
    assert px[1].mean() > px[0].mean() + 3  # white reads as white, not as black
    assert not torch.equal(
        clip_scores(black, ["a red circle"]), clip_scores(white, ["a red circle"])
    )
    with pytest.raises(TypeError, match="uint8"):
        clip_scores(black.float() / 255, ["a red circle"])


def test_generation_is_micro_batched_and_results_keep_uint8(gpu):
    """Defect 6: prompts go through the pipeline 8 at a time; results hold uint8 images."""
    calls = []
    original = type(gpu.pipe).__call__

    def counting(pipe, prompt, **kw):
        calls.append(len(prompt))
        return original(pipe, prompt, **kw)

    type(gpu.pipe).__call__ = counting
    try:
        prompts = list(budget.GPU.prompts) + list(budget.SHOWN[:2])
        sd.generate(gpu, prompts, steps=2, repeats=1, warmup=True)
    finally:
        type(gpu.pipe).__call__ = original
    assert calls == [8, 8, 2]  # the warm-up: one batch of the same shape, one step
    sd.load_adapter(gpu, "lcm")
    result = ex.run(gpu, ex.lcm(2))
    assert result.images.dtype == torch.uint8 and len(result.prompts) == budget.GPU.images()
    assert result.clip_score is not None and result.distance is None


@pytest.fixture
def unet_calls(monkeypatch) -> list[int]:
    """Every UNet and decoder in this process replaced by stubs of the right shapes (zeros);
    yields the running count of images through the UNet. For tests of what the pipeline and
    the experiments do (how many calls, which rows), not of the weights: the fp16 convolutions
    of the real modules are slow on a CPU, and the page tests run those."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.models.autoencoders.vae import DecoderOutput
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

    count = [0]

    def unet_stub(self, sample, timestep, encoder_hidden_states=None, *a, return_dict=True, **k):
        count[0] += sample.shape[0]
        out = torch.zeros_like(sample)
        return UNet2DConditionOutput(sample=out) if return_dict else (out,)

    def decode_stub(self, z, return_dict=True, generator=None):
        up = 2 ** (len(self.config.block_out_channels) - 1)
        n, _, h, w = z.shape
        out = torch.zeros(n, self.config.out_channels, h * up, w * up, dtype=z.dtype)
        return DecoderOutput(sample=out) if return_dict else (out,)

    monkeypatch.setattr(UNet2DConditionModel, "forward", unet_stub)
    monkeypatch.setattr(AutoencoderKL, "decode", decode_stub)
    return count


def test_every_gpu_experiment_fits_the_cell_budget(gpu, unet_calls):
    """Defect 6: count UNet evaluations (images through the UNet) of each experiment a page
    runs on the gpu tier; none may exceed the per-cell budget (about a minute on an A100).
    The count is the pipeline's and the experiments' doing, so stubs stand in for the UNet and
    the decoder (`unet_calls`)."""
    from fastgen_book.landscape import evidence as ev
    from fastgen_book.sd.wallclock import time_settings

    count = unet_calls
    experiments = {
        "adapter_difference": lambda: ex.adapter_difference(gpu),
        "fusing": lambda: ex.fusing(gpu),
        "teacher_guidance": lambda: ex.teacher_guidance(gpu),
        "step_progression": lambda: ex.step_progression(gpu),
        "guidance_sweep": lambda: ex.guidance_sweep(gpu),
        "composition": lambda: ex.composition(gpu),
        "sd_curve": lambda: ev.sd_curve(gpu),
        "kitchen_sink": lambda: ev.kitchen_sink(gpu, samples=500),
        "curve_timings": lambda: time_settings(
            gpu, [s for _, s in ev.curve_settings("gpu")], batch=ev.curve_batch("gpu")
        ),
        "step_timings": lambda: time_settings(gpu, [ex.lcm(n) for n in (1, 2, 4, 8)]),
    }
    spent = {}
    for name, run in experiments.items():
        count[0] = 0
        run()
        spent[name] = count[0]
    assert all(n > 0 for n in spent.values()), spent
    over = {k: v for k, v in spent.items() if v > budget.GPU_EVALS_PER_CELL}
    print("UNet evaluations per experiment on the gpu tier:", spent)
    assert not over, f"over {budget.GPU_EVALS_PER_CELL} UNet evaluations: {over}"
    assert all(s.steps <= 100 for _, s in ev.curve_settings("gpu"))  # no DDPM 500 on gpu


def test_the_gpu_tier_computes_in_the_dtype_asked_for_from_the_same_fp16_files(
    gpu_standin, monkeypatch
):
    """`FASTGEN_GPU_DTYPE=float32` upcasts the fp16 files on load (a setting that overflows in
    fp16 runs in float32); a dtype it does not know is one clear line."""
    monkeypatch.setenv("FASTGEN_GPU_DTYPE", "float32")
    loaded = sd.load_pipeline("gpu")
    assert loaded.pipe.unet.dtype == torch.float32 and loaded.pipe.vae.dtype == torch.float32
    monkeypatch.setenv("FASTGEN_GPU_DTYPE", "bfloat")
    with pytest.raises(ValueError, match="FASTGEN_GPU_DTYPE='bfloat'; choose one of: float16"):
        sd.load_pipeline("gpu")


def test_fusing_restores_fp16_base_weights_exactly(gpu):
    """Defect 12: ten fuse/unfuse cycles leave the fp16 UNet bit for bit as loaded."""
    sd.load_adapter(gpu, "lcm")
    before = {k: v.clone() for k, v in gpu.pipe.unet.state_dict().items()}
    for _ in range(10):
        sd.fuse_adapters(gpu, {"lcm": 1.0})
        sd.unfuse_adapters(gpu)
    after = gpu.pipe.unet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_figures_and_pngs_are_sized_for_display(tmp_path):
    """Defect 7: a 512 px image is shown at most 256 px wide; `generate` writes no 4096 px."""
    from PIL import Image

    from fastgen_book.sd.images import save_png
    from fastgen_book.viz.images import image_grid_figure

    big = torch.rand(2, 3, 512, 512)
    fig = image_grid_figure({"a": big}, ["p", "q"])
    assert sum(len(t.source) for t in fig.data) < 200_000
    save_png(big[0], tmp_path / "big.png")
    save_png(torch.rand(3, 32, 32), tmp_path / "tiny.png")
    assert Image.open(tmp_path / "big.png").size == (512, 512)
    assert Image.open(tmp_path / "tiny.png").size == (256, 256)


def run_cli(*args, env=None, timeout=600):
    import os

    return subprocess.run(
        [sys.executable, "-m", "fastgen_book", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def test_bench_sd_gpu_quick_prints_every_row_and_writes_json(
    gpu_standin, unet_calls, tmp_path, capsys
):
    """`bench sd --tier gpu --quick` as the command line runs it (in this process, so the UNet
    stubs apply): every suite row printed and in the JSON, each with a CLIP score."""
    from fastgen_book.cli import main
    from fastgen_book.sd.bench import suite_rows
    from fastgen_book.sd.guidance import GPU_GUIDANCE

    out = tmp_path / "bench.json"
    assert main(["bench", "sd", "--tier", "gpu", "--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["tier"] == "gpu" and result["seeds"] == 1
    assert [r["label"] for r in result["rows"]] == [
        s.name for _, s, _, _ in suite_rows("gpu", GPU_GUIDANCE)
    ]
    assert result["teacher_guidance"]["chosen"] == GPU_GUIDANCE
    assert {r["guidance"] for r in result["rows"] if not r["adapters"]} >= {GPU_GUIDANCE}
    assert all(r["clip_score"] is not None for r in result["rows"]) and unet_calls[0] > 0
    assert "CLIP" in printed and len(printed.splitlines()) >= len(result["rows"]) + 1


def test_fetch_downloads_only_the_listed_files(monkeypatch, tmp_path):
    """Defect 9: an explicit fetch with allow-patterns (no single-file checkpoints), sizes said
    first; CLIP's weights in whichever format the repository has."""
    import huggingface_hub

    class Sibling:
        def __init__(self, name):
            self.rfilename, self.size = name, 1_000_000

    class Api:
        def model_info(self, repo_id, files_metadata=False):
            repo = next(r for r in hub.GPU_TIER if r.repo_id == repo_id)
            names = [*repo.files, *repo.one_of[1:], "v1-5-pruned.safetensors"]
            return type("Info", (), {"siblings": [Sibling(n) for n in names]})()

    fetched = {}

    def snapshot_download(repo_id, allow_patterns, cache_dir):
        fetched[repo_id] = allow_patterns
        return str(tmp_path / repo_id)

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    said = []
    hub.fetch("sd15", progress=said.append)
    assert fetched[hub.SD15.repo_id] == list(hub.SD15.files)
    assert "v1-5-pruned.safetensors" not in fetched[hub.SD15.repo_id]
    assert fetched[hub.CLIP.repo_id][-1] == "pytorch_model.bin"
    assert "GB" in said[0] and all("MB" in line for line in said[1:])


def test_nothing_downloads_offline_and_the_cli_says_so_in_one_line():
    """Tests and builds run with HF_HUB_OFFLINE=1 (conftest); a fetch there fails at once."""
    done = run_cli("fetch", "sd15", timeout=120)
    assert done.returncode != 0 and done.stderr.startswith("error: fetch sd15 failed")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_sdxl_turbo_runs_from_its_published_files_on_the_standin(gpu_standin):
    """Level 3b's gpu counterpart: SDXL-Turbo by hub id, its fp16 files, its own Euler
    ancestral scheduler on trailing timesteps, one step, no guidance."""
    from fastgen_book.sd.turbo import generate_turbo, turbo_available

    assert turbo_available()
    images, record = generate_turbo(["a red circle left of a blue square"], steps=1, repeats=1)
    assert images.shape == (1, 3, 512, 512) and torch.isfinite(images).all()
    assert record["model"] == hub.SDXL_TURBO.repo_id
    assert record["guidance"] == 0.0 and record["steps"] == 1
