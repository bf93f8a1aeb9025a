"""fastgen_book.sd's front door on the real diffusers + peft path, with an untrained tiny model (the
shipped weights are not needed to test the plumbing)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from fastgen_book.sd import pipeline as sd
from fastgen_book.sd import shapes
from fastgen_book.sd.quiet import quiet_loading
from fastgen_book.sd.tiny import build_pipeline
from fastgen_book.tinysd.lcm import LCMLoRAConfig, train_lcm_lora

PROMPT = "a red circle left of a blue square"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """An untrained tiny model saved like the shipped one, plus a 2-step LoRA."""
    root = tmp_path_factory.mktemp("tiny-sd")
    pipe = build_pipeline()
    pipe.save_pretrained(root / "pipeline", safe_serialization=True)
    pipe, config = build_pipeline(), LCMLoRAConfig(steps=2, batch=2)
    train_lcm_lora(pipe, config, root / "run", root / "lora", False)
    return root


@pytest.fixture
def loaded(tiny_dir, monkeypatch):
    monkeypatch.setenv(sd.TINY_ENV, str(tiny_dir))
    return sd.load_pipeline("tiny")


def run(loaded, prompt=PROMPT, **kw):
    kw = {"scheduler": "lcm", "steps": 2, "guidance": 1.0, "repeats": 1, **kw}
    return sd.generate(loaded, prompt, **kw)


def test_auto_is_tiny_without_cuda_and_can_be_forced(monkeypatch):
    monkeypatch.delenv("FASTGEN_GPU_DEVICE", raising=False)
    if not torch.cuda.is_available():
        assert sd.resolve_tier("auto") == "tiny"
    monkeypatch.setenv(sd.TIER_ENV, "tiny")
    assert sd.resolve_tier("auto") == "tiny"


def test_missing_models_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv(sd.TINY_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="python -m fastgen_book train tiny-sd"):
        sd.load_pipeline("tiny")
    if not torch.cuda.is_available():
        monkeypatch.delenv("FASTGEN_GPU_DEVICE", raising=False)
        with pytest.raises(RuntimeError, match="needs a cuda device"):
            sd.load_pipeline("gpu")


def test_weights_load_from_safetensors_only(tiny_dir):
    files = {p.suffix for p in (tiny_dir / "pipeline").rglob("*") if p.is_file()}
    assert ".safetensors" in files and ".bin" not in files


def test_generate_returns_images_and_a_record(loaded):
    images, record = run(loaded, scheduler="dpmpp_2m", steps=3, guidance=2.0)
    size = shapes.SIZE  # the world the shipped model was trained on
    assert images.shape == (1, 3, size, size) and 0 <= images.min() and images.max() <= 1
    assert record["nfe_per_image"] == 6 and record["tier"] == "tiny"
    assert record["scheduler"] == "dpmpp_2m" and record["ms_per_image"] > 0
    assert {"torch", "diffusers", "transformers", "peft"} <= set(record["versions"])


@pytest.mark.parametrize("name", list(sd.SCHEDULERS))
def test_scheduler_swaps_keep_the_noise_schedule(loaded, name):
    before = dict(loaded.pipe.scheduler.config)
    sd.set_scheduler(loaded, name)
    after = loaded.pipe.scheduler.config
    for key in ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule"):
        assert after[key] == before[key]
    assert type(loaded.pipe.scheduler) is sd.SCHEDULERS[name][0]


def test_one_samplers_options_do_not_leak_into_the_next(loaded):
    sd.set_scheduler(loaded, "dpmpp_2m")
    assert loaded.pipe.scheduler.config["algorithm_type"] == "dpmsolver++"
    sd.set_scheduler(loaded, "lcm")
    assert "algorithm_type" not in loaded.pipe.scheduler.config


def test_lora_round_trip_is_exact(loaded, tiny_dir):
    base, _ = run(loaded)
    sd.load_adapter(loaded, "lcm", tiny_dir / "lora")
    sd.load_adapter(loaded, "style", tiny_dir / "lora")
    # every tensor in the file arrived in the UNet (no key silently dropped)
    file = load_file(str(tiny_dir / "lora" / "pytorch_lora_weights.safetensors"))
    state = loaded.pipe.unet.state_dict()
    for key, value in file.items():
        name = key.removeprefix("unet.").replace(".weight", ".lcm.weight")
        assert torch.equal(state[name], value), key
    both, record = run(loaded, adapters={"lcm": 1.0, "style": 0.5})
    assert record["adapters"] == {"lcm": 1.0, "style": 0.5} and not torch.equal(both, base)
    sd.unload_adapters(loaded)
    after, _ = run(loaded)
    assert torch.equal(after, base)


def test_adapters_come_back_after_a_run_without_them(loaded, tiny_dir):
    sd.load_adapter(loaded, "lcm", tiny_dir / "lora")
    first, _ = run(loaded, adapters={"lcm": 1.0})
    base, _ = run(loaded, adapters={})
    again, _ = run(loaded, adapters={"lcm": 1.0})
    assert not torch.equal(first, base) and torch.equal(again, first)
    sd.unload_adapters(loaded)


def test_fusing_keeps_the_output_and_unfusing_restores_the_base(loaded, tiny_dir):
    base, _ = run(loaded)
    sd.load_adapter(loaded, "lcm", tiny_dir / "lora")
    active, _ = run(loaded, adapters={"lcm": 1.0})
    sd.fuse_adapters(loaded, {"lcm": 1.0})
    fused, record = run(loaded, adapters=None)
    assert record["fused"] and record["adapters"] == {"lcm": 1.0}
    torch.testing.assert_close(fused, active, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="already fused"):
        sd.fuse_adapters(loaded, {"lcm": 1.0})
    with pytest.raises(ValueError, match="fused into the weights"):
        run(loaded, adapters={"lcm": 0.5})
    sd.unload_adapters(loaded)
    after, _ = run(loaded)
    torch.testing.assert_close(after, base, atol=1e-4, rtol=0)


def test_missing_adapters_and_variants_say_how_to_train_them(loaded, tiny_dir):
    with pytest.raises(FileNotFoundError, match="python -m fastgen_book train style-lora"):
        sd.load_adapter(loaded, "style")
    with pytest.raises(FileNotFoundError, match="python -m fastgen_book train paper"):
        sd.load_pipeline("tiny", variant="paper")
    with pytest.raises(ValueError, match="unknown variant 'anime'"):
        sd.load_pipeline("tiny", variant="anime")


def test_prompts_outside_the_tiny_vocabulary_are_refused(loaded):
    with pytest.raises(ValueError, match="not one this data set can draw"):
        run(loaded, prompt="a red star left of a blue square")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"guidance": -1.0}, "guidance must be >= 0"),
        ({"scheduler": "plms"}, "unknown scheduler 'plms'"),
        ({"adapters": {"turbo": 1.0}}, "unknown adapter 'turbo'"),
    ],
)
def test_bad_inputs_raise_value_errors(loaded, kwargs, message):
    with pytest.raises(ValueError) as info:
        run(loaded, **kwargs)
    assert message in str(info.value)


def test_too_long_prompts_are_refused(loaded):
    with pytest.raises(ValueError, match="the tokenizer allows 16"):
        sd.generate(loaded, "a red circle left of a blue square " * 4, steps=1, repeats=1)


def test_loading_adapters_drops_only_the_notes_that_are_true_of_every_adapter(loaded, tiny_dir):
    """No text-encoder keys and a second named adapter are expected here; any other diffusers
    warning (such as LoRA keys that did not load) still reaches the reader."""
    import io
    import logging
    import warnings

    log = io.StringIO()
    handler = logging.StreamHandler(log)  # beside diffusers' own stderr handler
    logging.getLogger("diffusers").addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sd.load_adapter(loaded, "lcm", tiny_dir / "lora")
            sd.load_adapter(loaded, "style", tiny_dir / "lora")
        with quiet_loading():
            logging.getLogger("diffusers.loaders.peft").warning("some LoRA keys were not loaded")
    finally:
        logging.getLogger("diffusers").removeHandler(handler)
        sd.unload_adapters(loaded)
    assert "No LoRA keys associated" not in log.getvalue()
    assert "some LoRA keys were not loaded" in log.getvalue()
    assert not [w for w in caught if "Already found a `peft_config`" in str(w.message)]
    # the progress bars come back as the caller had them, off included
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    try:
        with quiet_loading():
            pass
        assert not diffusers_logging.is_progress_bar_enabled()
    finally:
        diffusers_logging.enable_progress_bar()
    with quiet_loading():
        pass
    assert diffusers_logging.is_progress_bar_enabled()


def test_a_fused_setting_is_measured_fused_and_unfused_after(loaded, tiny_dir):
    from dataclasses import replace

    from fastgen_book.sd.evaluate import Setting, evaluate
    from fastgen_book.sd.judge import Judge

    sd.load_adapter(loaded, "lcm", tiny_dir / "lora")
    judge, setting = Judge().eval(), Setting("lcm", 2, 1.0, {"lcm": 1.0}, fused=True)
    fused = evaluate(loaded, judge, setting, seeds=1, warmup=False)
    assert fused.row()["fused"] and loaded.fused == {}  # unfused again after the run
    active = evaluate(loaded, judge, replace(setting, fused=False), seeds=1, warmup=False)
    assert not active.row()["fused"]
    assert fused.images.dtype == torch.uint8  # results keep 8-bit images
    assert (fused.images.int() - active.images.int()).abs().max() <= 1  # one level of 255
    sd.unload_adapters(loaded)


def test_an_adapters_anatomy_states_and_glues_its_share_of_the_unet():
    from fastgen_book.book import glue
    from fastgen_book.sd.experiments import LoRAAnatomy

    a = LoRAAnatomy(
        "lcm", rank=4, parameters=2_000, file_bytes=8_500_000, modules=10, base_parameters=25_000
    )
    assert "2,000 parameters (8.0% of the UNet's 25,000)" in a.summary()
    a.glue("x_")
    assert [glue.GLUED[f"x_{k}"] for k in ("rank", "params", "frac", "mb")] == [
        4,
        "2,000",
        8.0,
        8.5,
    ]
