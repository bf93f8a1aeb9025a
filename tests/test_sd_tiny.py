"""The tiny Stable Diffusion groundwork: procedural data, offline tokenizer, real pipeline."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace

import pytest
import torch

from fastgen_book.sd import shapes
from fastgen_book.sd.tiny import TinySDConfig, build_pipeline
from fastgen_book.sd.tokenizer import MAX_LENGTH, train_clip_tokenizer
from fastgen_book.tinysd.config import TrainConfig
from fastgen_book.tinysd.train import train_vae


def test_rendering_is_seeded_and_in_range():
    items = shapes.prompt_suite()
    a = shapes.render(items, generator=torch.Generator().manual_seed(1))
    b = shapes.render(items, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == (48, 3, shapes.SIZE, shapes.SIZE)
    assert a.min() >= 0 and a.max() <= 1


def test_the_relation_puts_the_first_object_before_the_second():
    """The red (first) object's pixels lie left of (or above) the blue (second) one's, by more
    than they stray across."""
    for relation, axis in shapes.RELATIONS.items():
        pair = shapes.Item("red", "square", relation, "blue", "circle")
        for seed in range(20):
            both = shapes.render([pair], generator=torch.Generator().manual_seed(seed))[0]
            # the red object: where red dominates; the blue one: where blue does
            red = (both[0] - both[2]).clamp(min=0) > 0.3
            blue = (both[2] - both[0]).clamp(min=0) > 0.3
            ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
            at = [torch.stack([xs[m].mean(), ys[m].mean()]) for m in (red, blue)]
            along, across = (at[1] - at[0])[axis], (at[1] - at[0])[1 - axis]
            assert along > 0 and along > 2 * across.abs(), (relation, seed)


def test_every_caption_names_two_colours_two_shapes_and_a_relation():
    items = shapes.all_items()
    assert len(items) == len(set(items)) == 4 * 3 * 3 * 3 * len(shapes.RELATIONS)
    assert all(i.colour != i.other_colour for i in items)
    suite = shapes.prompt_suite()
    assert len(suite) == len(set(suite)) == 48 and set(suite) <= set(items)
    for field in ("colour", "shape", "relation", "other_colour", "other_shape"):
        counts = {}
        for i in suite:
            counts[getattr(i, field)] = counts.get(getattr(i, field), 0) + 1
        assert max(counts.values()) - min(counts.values()) <= 2, (field, counts)


def test_the_shown_prompts_come_from_the_suite_and_cover_the_vocabulary():
    """Image grids pick SHOWN out of measurements that draw the suite."""
    from fastgen_book.sd.budget import SHOWN

    suite = {i.caption: i for i in shapes.prompt_suite()}
    assert set(SHOWN) <= set(suite)
    shown = [suite[p] for p in SHOWN]
    assert {i.colour for i in shown} | {i.other_colour for i in shown} == set(shapes.COLOURS)
    assert {i.shape for i in shown} | {i.other_shape for i in shown} == set(shapes.SHAPES)
    assert {i.relation for i in shown} == set(shapes.RELATIONS)


def test_outlines_cover_less_of_the_image_than_filled_shapes():
    items = shapes.prompt_suite()
    for bg in shapes.BACKGROUNDS:
        # the background alone: `render` draws it first, from the same generator state
        grid = shapes._grid(shapes.SIZE)
        plain = shapes._background(len(items), bg, *grid, torch.Generator().manual_seed(0))
        ink = {}
        for style in shapes.STYLES:
            img = shapes.render(
                items, generator=torch.Generator().manual_seed(0), style=style, background=bg
            )
            ink[style] = ((img - plain).abs().sum(1) > 0.1).sum(dim=(1, 2))  # pixels drawn on
        assert (ink["outlined"] < ink["filled"]).all()


def test_captions_round_trip_and_unknown_captions_are_refused():
    for item in shapes.all_items():
        assert shapes.parse_caption(item.caption) == item
    with pytest.raises(ValueError, match="e.g. 'a red circle left of a blue square'"):
        shapes.parse_caption("a purple hexagon in the middle")
    with pytest.raises(ValueError, match="two different colours"):
        shapes.parse_caption("a red circle left of a red square")


def test_tokenizer_matches_clip_conventions():
    tok = train_clip_tokenizer()
    ids = tok("a red triangle left of a blue circle").input_ids
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    words = ["a", "red", "triangle", "left", "of", "a", "blue", "circle"]
    assert tok.convert_ids_to_tokens(ids[1:-1]) == [f"{w}</w>" for w in words]
    assert tok.model_max_length == MAX_LENGTH


def test_the_tokenizer_numbers_its_tokens_the_same_way_every_time():
    """The BPE trainer breaks ties in a different order on each call; the ids must not move
    (they pick which embedding row of a freshly initialised text encoder a word gets)."""
    vocabs = [train_clip_tokenizer().get_vocab() for _ in range(6)]
    assert all(v == vocabs[0] for v in vocabs)
    tokens = sorted(vocabs[0], key=vocabs[0].get)
    assert tokens[:2] == ["<|startoftext|>", "<|endoftext|>"] and tokens[2:] == sorted(tokens[2:])


def test_the_real_diffusers_pipeline_runs_on_the_tiny_model():
    pipe = build_pipeline(TinySDConfig())
    out = pipe(
        "a red triangle left of a blue circle",
        num_inference_steps=2,
        guidance_scale=2.0,
        generator=torch.Generator().manual_seed(0),
        output_type="pt",
    )
    assert out.images.shape == (1, 3, 64, 64)
    text = pipe.text_encoder.config
    assert (text.bos_token_id, text.eos_token_id) == (
        pipe.tokenizer.bos_token_id,
        pipe.tokenizer.eos_token_id,
    )
    assert text.max_position_embeddings == pipe.tokenizer.model_max_length


def test_training_resumes_where_it_stopped(tmp_path):
    cfg = TinySDConfig()
    straight = build_pipeline(cfg).vae
    train_vae(straight, TrainConfig(steps=3, batch=4, save_every=1), tmp_path / "a", False)
    resumed = build_pipeline(cfg).vae
    train_vae(resumed, TrainConfig(steps=2, batch=4, save_every=1), tmp_path / "b", False)
    again = build_pipeline(cfg).vae
    train_vae(again, TrainConfig(steps=3, batch=4, save_every=1), tmp_path / "b", False)
    for p, q in zip(straight.parameters(), again.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert not list((tmp_path / "b").glob("*.tmp"))


def test_frechet_distance_closed_forms():
    from fastgen_book.sd.judge import frechet_distance

    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64)
    assert frechet_distance(a, a + shift) == pytest.approx(9.0, rel=1e-9)
    # doubling: means mu and 2 mu, covariances S and 4S: |mu|^2 + Tr(S + 4S - 2 * 2S)
    expected = float((a.mean(0) ** 2).sum() + torch.trace(torch.cov(a.T)))
    assert frechet_distance(a, 2 * a) == pytest.approx(expected, rel=1e-6)


def test_judge_scores_count_attribute_matches():
    from fastgen_book.sd.judge import HEADS, Judge, score

    class Oracle(Judge):
        def __init__(self, answers):
            super().__init__()
            self.answers = answers

        def forward(self, images):
            return {
                k: torch.nn.functional.one_hot(v, len(HEADS[k])).float()
                for k, v in self.answers.items()
            }

    prompts = ["a red circle left of a green square", "a blue square above a yellow triangle"]
    index = {k: {name: i for i, name in enumerate(v)} for k, v in HEADS.items()}
    answers = {  # image 1: all right; image 2: its second shape and its background wrong
        "colour": [index["colour"]["red"], index["colour"]["blue"]],
        "shape": [index["shape"]["circle"], index["shape"]["square"]],
        "other_colour": [index["other_colour"]["green"], index["other_colour"]["yellow"]],
        "other_shape": [index["other_shape"]["square"], index["other_shape"]["circle"]],
        "relation": [index["relation"]["left of"], index["relation"]["above"]],
        "style": [index["style"]["filled"]] * 2,
        "background": [index["background"]["dark"], index["background"]["paper"]],
    }
    answers = {k: torch.tensor(v) for k, v in answers.items()}
    s = score(Oracle(answers), torch.zeros(2, 3, 64, 64), prompts, "filled", "dark")
    assert s.accuracy["colour"] == 1.0 and s.accuracy["relation"] == 1.0
    assert s.accuracy["shape"] == 0.5 and s.accuracy["background"] == 0.5
    assert s.all_correct == 0.5 and s.per_image["all"] == [1, 0]


def test_the_cli_lists_every_stage_scheduler_and_adapter():
    from fastgen_book import cli
    from fastgen_book.sd.adapters import GPU_ADAPTERS, TINY_ADAPTERS
    from fastgen_book.sd.pipeline import SCHEDULERS, TINY_VARIANTS
    from fastgen_book.tinysd.recipe import STAGES
    from fastgen_book.tinysd.stages import STAGE_NAMES
    from fastgen_book.tinysd.weighting import WEIGHTINGS

    assert tuple(STAGES) == STAGE_NAMES and tuple(SCHEDULERS) == cli.SCHEDULER_NAMES
    assert tuple(TINY_ADAPTERS) == cli.ADAPTER_NAMES and set(GPU_ADAPTERS) < set(TINY_ADAPTERS)
    assert tuple(TINY_VARIANTS) == cli.args.VARIANT_NAMES
    train = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    (what,) = [a for a in train._actions if a.dest == "what"]
    assert list(what.choices) == [*STAGE_NAMES, "all"]
    assert WEIGHTINGS == cli.args.WEIGHTINGS


def test_the_unet_attends_to_the_text_where_its_config_says():
    from fastgen_book import cli
    from fastgen_book.sd.tiny import TinySDConfig, build_unet

    def attending(unet):
        return [type(b).__name__.startswith("CrossAttn") for b in unet.down_blocks], [
            type(b).__name__.startswith("CrossAttn") for b in unet.up_blocks
        ]

    for levels in cli.args.ATTENTION.values():
        unet = build_unet(TinySDConfig(unet_attention=levels))
        down, up = attending(unet)
        assert down == list(levels) and up == list(reversed(levels))
        assert type(unet.mid_block).__name__ == "UNetMidBlock2DCrossAttn"
    with pytest.raises(ValueError, match="one flag per UNet level"):
        TinySDConfig(unet_attention=(True,))
    for heads in (0, 3):
        with pytest.raises(ValueError, match=r"unet_heads must divide every UNet width"):
            TinySDConfig(unet_heads=heads)


def test_a_trial_refuses_eval_steps_inside_the_decay_before_training(tmp_path):
    from fastgen_book import cli
    from fastgen_book.tinysd.trial import unet_trial

    config = TrainConfig(steps=100, decay_steps=40)
    with pytest.raises(ValueError, match=r"\[70\] are not in the constant-rate phase \(1..60\)"):
        unet_trial(config, (30, 70), tmp_path / "trial")
    assert not (tmp_path / "trial").exists()
    with pytest.raises(SystemExit, match="error: eval steps"):
        cli.main(["trial", "unet", "--steps", "100", "--decay-steps", "40", "--eval-at", "70"])


def test_a_trial_trains_on_the_shipped_autoencoder_and_prints_its_scores(tmp_path, capsys):
    from fastgen_book import cli

    args = ["trial", "unet", "--steps", "4", "--decay-steps", "2", "--eval-at", "2"]
    args += ["--pool", "32", "--batch", "4", "--seeds", "1", "--work", str(tmp_path / "t")]
    args += ["--attention", "8x8", "--heads", "2"]  # not the shipped architecture
    assert cli.main(args + ["--weighting", "truncated-snr", "--snr-floor", "0.1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["step", "train", "s"]
    rows = [line.split() for line in lines[1:]]
    assert [int(r[0]) for r in rows] == [2, 4]
    for r in rows:  # accuracies are percentages; a fresh UNet's distance is above the floor
        assert all(0 <= float(v) <= 100 for v in r[2:7]) and float(r[7]) > float(r[8])


def test_style_lora_and_fine_tune_train_and_save(tmp_path):
    from safetensors.torch import load_file

    from fastgen_book.tinysd.train import finetune_unet, train_style_lora

    pipe = build_pipeline()
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    cfg = TrainConfig(steps=2, batch=2, pool=4, styles=("outlined",))
    record = train_style_lora(pipe, cfg, 4, tmp_path / "work", tmp_path / "style", False)
    saved = load_file(str(tmp_path / "style" / "pytorch_lora_weights.safetensors"))
    assert record["lora_parameters"] == sum(v.numel() for v in saved.values()) > 0
    assert not list(tmp_path.glob("*.tmp"))
    # the adapter is gone (peft keeps its wrapper, hence "base_layer"), base weights untouched
    for k, v in pipe.unet.state_dict().items():
        torch.testing.assert_close(v, before[k.replace(".base_layer", "")])
    finetune_unet(
        pipe, TrainConfig(steps=1, batch=2, pool=4, backgrounds=("paper",)), tmp_path, "ft", False
    )
    after = {k.replace(".base_layer", ""): v for k, v in pipe.unet.state_dict().items()}
    assert any(not torch.equal(v, before[k]) for k, v in after.items())


def test_fine_tune_snapshots_are_the_shorter_fine_tunes(tmp_path):
    """With a constant learning rate the snapshot after n steps equals an n-step fine-tune, bit
    for bit; a run resumed past a snapshot it never saved refuses to pass for complete."""
    from safetensors.torch import load_file

    from fastgen_book.tinysd.train import finetune_unet, snapshot_dir

    cfg = TrainConfig(steps=3, batch=2, pool=4, backgrounds=("paper",), save_every=1)
    record = finetune_unet(build_pipeline(), cfg, tmp_path / "a", "ft", False, snapshots=(1, 2))
    assert record["snapshots"] == [1, 2]
    short = build_pipeline()
    finetune_unet(short, replace(cfg, steps=2), tmp_path / "b", "ft", False)
    snap = load_file(str(snapshot_dir(tmp_path / "a", 2) / "diffusion_pytorch_model.safetensors"))
    for k, v in short.unet.state_dict().items():
        assert torch.equal(snap[k], v), k
    assert not list((tmp_path / "a" / "snapshots").glob("*.tmp"))
    shutil.rmtree(snapshot_dir(tmp_path / "a", 1))
    with pytest.raises(RuntimeError, match=r"snapshot step\(s\) \[1\]"):
        finetune_unet(build_pipeline(), cfg, tmp_path / "a", "ft", False, snapshots=(1, 2))


def test_train_configs_refuse_unknown_styles_and_schedules():
    from fastgen_book.tinysd.lcm import LCMLoRAConfig

    with pytest.raises(ValueError, match="unknown style 'striped'"):
        TrainConfig(styles=("striped",))
    with pytest.raises(ValueError, match="schedule"):
        LCMLoRAConfig(schedule="linear")


def test_learning_rate_schedules_closed_forms():
    from fastgen_book.tinysd.config import learning_rate

    cos = TrainConfig(steps=100, lr=1.0, schedule="cosine")
    assert learning_rate(cos, 0) == 1.0 and learning_rate(cos, 50) == pytest.approx(0.5)
    assert learning_rate(cos, 100) == pytest.approx(0.0, abs=1e-12)
    anneal = TrainConfig(steps=100, lr=1.0, decay_steps=40)
    assert learning_rate(anneal, 59) == 1.0 and learning_rate(anneal, 60) == 1.0
    assert learning_rate(anneal, 80) == pytest.approx(0.5)
    # the LCM-LoRA distillation shares the schedule
    from fastgen_book.tinysd.lcm import LCMLoRAConfig

    lcm = LCMLoRAConfig(steps=100, lr=1.0)
    assert learning_rate(lcm, 25) == pytest.approx(0.5 * (1 + 2**-0.5))


@pytest.mark.parametrize("target_ema", [0.0, 0.95], ids=["student-target", "ema-target"])
def test_lcm_lora_distils_with_either_target(tmp_path, target_ema):
    """Both targets of the distillation run and save a LoRA; the base weights are untouched."""
    from safetensors.torch import load_file

    from fastgen_book.tinysd.lcm import LCMLoRAConfig, train_lcm_lora

    pipe = build_pipeline()
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    config = LCMLoRAConfig(steps=2, batch=2, target_ema=target_ema)
    record = train_lcm_lora(pipe, config, tmp_path / "run", tmp_path / "lora", False)
    saved = load_file(str(tmp_path / "lora" / "pytorch_lora_weights.safetensors"))
    assert record["target_ema"] == target_ema and record["lora_parameters"] > 0
    assert sum(v.numel() for v in saved.values()) == record["lora_parameters"]
    for k, v in pipe.unet.state_dict().items():
        torch.testing.assert_close(v, before[k.replace(".base_layer", "")])


def test_lcm_lora_training_resumes_where_it_stopped(tmp_path):
    """LCM-LoRA runs on the shared loop: 2 steps, then a rerun to 3, gives the LoRA of 3 steps
    straight (the student, its EMA target, the optimiser and the generator all resume; a
    constant rate, since a cosine one is a function of the total)."""
    from safetensors.torch import load_file

    from fastgen_book.tinysd.lcm import LCMLoRAConfig, train_lcm_lora

    def lora(steps, run, out):
        config = LCMLoRAConfig(steps=steps, batch=2, save_every=1, schedule="constant")
        train_lcm_lora(build_pipeline(), config, tmp_path / run, tmp_path / out, False)
        return load_file(str(tmp_path / out / "pytorch_lora_weights.safetensors"))

    straight = lora(3, "a", "straight")
    lora(2, "b", "first")
    resumed = lora(3, "b", "resumed")
    assert straight.keys() == resumed.keys()
    for k in straight:
        torch.testing.assert_close(straight[k], resumed[k], rtol=0, atol=0)


def test_a_stage_runs_in_two_processes_with_accelerate(tmp_path):
    """`accelerate launch --num_processes 2` spreads a stage over two CPU processes: each draws
    its own batches, gradients are averaged (the loop fails if the processes' weights differ
    at the end), and the main process alone writes the adapter and the record."""
    import json
    import socket
    import subprocess
    import sys
    from pathlib import Path

    from fastgen_book.sd.tiers import tiny_model_dir

    model = tmp_path / "model"
    model.mkdir()
    (model / "pipeline").symlink_to(tiny_model_dir() / "pipeline")
    with socket.socket() as sock:  # a free port for the processes to meet on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    accelerate = Path(sys.executable).with_name("accelerate")
    launch = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--main_process_port", str(port)]
    train = ["-m", "fastgen_book", "train", "style-lora", "--out", str(model)]
    train += ["--work", str(tmp_path / "work"), "--steps", "3", "--threads", "1"]
    done = subprocess.run(launch + train, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("wrote style-lora") == 1  # the main process says it, once
    record = json.loads((model / "record.json").read_text())["style-lora"]
    assert record["processes"] == 2 and record["steps"] == 3
    assert record["command"].startswith("accelerate launch --multi_gpu --num_processes 2")
    assert (model / "style-lora" / "pytorch_lora_weights.safetensors").exists()


def test_adapters_start_from_their_seed_not_the_global_generator():
    """peft draws LoRA matrices from torch's global generator, so two runs of one training
    command started from different adapters; `add_seeded_adapter` draws them from the seed."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from fastgen_book.tinysd.lora import LORA_TARGETS, add_seeded_adapter

    def adapter(global_seed, seed, init):
        torch.manual_seed(global_seed)
        unet = build_pipeline().unet
        config = LoraConfig(r=4, lora_alpha=4, target_modules=LORA_TARGETS, init_lora_weights=init)
        add_seeded_adapter(unet, config, seed)
        return get_peft_model_state_dict(unet)

    for init in ("gaussian", True):  # the LCM-LoRA's and the style LoRA's
        a, b, other = adapter(1, 0, init), adapter(2, 0, init), adapter(1, 1, init)
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert not all(torch.equal(a[k], other[k]) for k in a)


def test_loss_weights_closed_forms():
    from fastgen_book.sd.tiny import training_scheduler
    from fastgen_book.tinysd.weighting import loss_weights

    a = training_scheduler().alphas_cumprod
    t = torch.arange(1000)
    snr = a / (1 - a)
    hi, lo = snr > 5, snr < 1
    torch.testing.assert_close(loss_weights(a, t, "epsilon"), torch.ones(1000))
    # min-SNR: 1 where SNR <= gamma (high noise), gamma / SNR where the signal dominates
    w = loss_weights(a, t, "min-snr", 5.0)
    torch.testing.assert_close(w[~hi], torch.ones(int((~hi).sum())))
    torch.testing.assert_close(w[hi], 5 / snr[hi])
    # truncated SNR: 1 / SNR at high noise (= 1 / a - 1, about 212 at t = 999), 1 elsewhere
    w = loss_weights(a, t, "truncated-snr")
    torch.testing.assert_close(w[lo], 1 / snr[lo])
    torch.testing.assert_close(w[~lo], torch.ones(int((~lo).sum())))
    assert float(w[999]) == pytest.approx(float(1 / a[999] - 1), rel=1e-5)
    # a lower floor: the image error weighted by max(SNR, 0.1)
    w = loss_weights(a, t, "truncated-snr", floor=0.1)
    torch.testing.assert_close(w * snr, snr.clamp(min=0.1))
    with pytest.raises(ValueError, match="min_snr_gamma"):
        TrainConfig(min_snr_gamma=0.0)
    with pytest.raises(ValueError, match="snr_floor"):
        TrainConfig(snr_floor=-1.0)
    with pytest.raises(ValueError, match="weighting"):
        TrainConfig(weighting="p2")


def test_latent_pool_is_seeded_and_draws_encoded_posteriors():
    from fastgen_book.tinysd.data import encode_pool, sample_posterior

    vae = build_pipeline().vae
    config = TrainConfig(pool=6, batch=4)
    pool = encode_pool(vae, config)
    again = encode_pool(vae, config)
    assert len(pool.captions) == 6 and pool.captions == again.captions
    torch.testing.assert_close(pool.mean, again.mean)
    assert pool.mean.shape == (6, 4, 8, 8) and (pool.std > 0).all()
    (mean, std), captions = pool.draw(10, torch.Generator().manual_seed(1))
    idx = torch.randint(0, 6, (10,), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(mean, pool.mean[idx])
    torch.testing.assert_close(std, pool.std[idx])
    assert captions == [pool.captions[i] for i in idx.tolist()]
    # the reparameterised draw: mean + std * eps
    z = sample_posterior((mean, std), torch.Generator().manual_seed(2))
    eps = torch.randn(mean.shape, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(z, mean + std * eps)
    with pytest.raises(ValueError, match="pool"):
        TrainConfig(pool=-1)


def test_training_noise_ignores_a_swapped_sampler():
    """A pipeline left with DPM-Solver++ (which noises by its inference sigmas) still trains on
    the DDPM forward process: x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps."""
    from diffusers import DPMSolverMultistepScheduler

    from fastgen_book.sd.tiny import training_scheduler
    from fastgen_book.tinysd.train import noise_schedule

    pipe = build_pipeline()
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.scheduler.set_timesteps(20)
    sched = noise_schedule(pipe)
    a = training_scheduler().alphas_cumprod
    torch.testing.assert_close(sched.alphas_cumprod, a)
    x0, eps, t = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8), torch.tensor([0, 500, 999])
    want = a[t].sqrt().view(-1, 1, 1, 1) * x0 + (1 - a[t]).sqrt().view(-1, 1, 1, 1) * eps
    torch.testing.assert_close(sched.add_noise(x0, eps, t), want)


def test_a_vae_trial_scores_its_reconstructions_beside_the_shipped_ones(tmp_path):
    from fastgen_book.tinysd.recipe import vae_recipe
    from fastgen_book.tinysd.trial import ATTRIBUTES, VAE_HEADER, format_vae_row, vae_trial

    config = replace(vae_recipe(2), batch=4)
    shipped, trial = vae_trial(config, tmp_path, n=8)
    assert (shipped["name"], trial["name"]) == ("shipped", "trial") and trial["seconds"] > 0
    looks = [k for k in trial if "/" in k]
    assert len(looks) == 4 and all(0 <= trial[k] <= 100 for k in looks)
    assert trial["l1"] > shipped["l1"]  # two steps of training against the shipped recipe's
    for row in (shipped, trial):
        # an image is fully right only if every attribute is, and the looks are equal in size:
        # the looks' mean cannot beat the worst attribute
        assert sum(row[k] for k in looks) / 4 <= min(row[k] for k in ATTRIBUTES) + 1e-9
    assert format_vae_row(trial).split()[-5:] == [f"{trial[k]:.1f}" for k in ATTRIBUTES]
    assert VAE_HEADER.split()[-5:] == ["colour", "shape", "rel", "style", "bg"]


def test_a_weighting_warm_up_hands_over_to_the_plain_loss():
    """With `weighting_until`, steps before it use the weighting, steps from it on the plain
    epsilon loss: the same random draws give the same loss as a run of that one loss."""
    from fastgen_book.tinysd.data import batches
    from fastgen_book.tinysd.train import _denoising_stage

    pipe = build_pipeline()
    warm = TrainConfig(batch=8, weighting="truncated-snr", snr_floor=0.3, weighting_until=2)
    plain = replace(warm, weighting="epsilon", weighting_until=0)
    whole = replace(warm, weighting_until=0)
    batch = next(batches(warm, torch.Generator().manual_seed(0)))

    def loss(config, step):
        step_fn, _ = _denoising_stage(pipe, config, torch.Generator().manual_seed(1))
        with torch.no_grad():
            return step_fn(batch, step)

    torch.testing.assert_close(loss(warm, 0), loss(whole, 0))
    torch.testing.assert_close(loss(warm, 2), loss(plain, 2))
    assert not torch.equal(loss(warm, 0), loss(plain, 0))
    with pytest.raises(ValueError, match="weighting_until"):
        TrainConfig(weighting_until=-1)


def test_a_trial_starts_from_the_shipped_recipe():
    from fastgen_book.tinysd.recipe import VAE_STEPS, unet_recipe, vae_recipe
    from fastgen_book.tinysd.trial import recipe_with

    assert recipe_with("unet") == unet_recipe(4000)
    # the pool never holds more images than the run draws (batch x steps), at most 65,536
    assert unet_recipe(10).pool == 10 * unet_recipe(10).batch
    assert unet_recipe(9000).pool == 65_536
    assert recipe_with("unet", 100, lr=1e-3, pool=None) == replace(unet_recipe(100), lr=1e-3)
    assert recipe_with("vae", decay_steps=7) == vae_recipe(VAE_STEPS)
    assert recipe_with("unet", logvar_offset=-4.0) == unet_recipe(4000)
    assert recipe_with("vae", logvar_offset=-4.0).logvar_offset == -4.0
    assert recipe_with("unet", mse_weight=10.0) == unet_recipe(4000)
    assert recipe_with("vae", mse_weight=10.0).mse_weight == 10.0
    for bad in (-1.0, float("inf")):
        with pytest.raises(ValueError, match="mse_weight"):
            TrainConfig(mse_weight=bad)
    with pytest.raises(ValueError, match="what"):
        recipe_with("judge")


def test_a_logvar_offset_scales_the_untrained_posterior_std_by_its_closed_form():
    """logvar + offset: the same means, every std times exp(offset / 2)."""
    from fastgen_book.tinysd.train import offset_logvar

    vae = build_pipeline().vae
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        before = vae.encode(x).latent_dist
        offset_logvar(vae, -4.0)
        after = vae.encode(x).latent_dist
    torch.testing.assert_close(after.mean, before.mean)
    torch.testing.assert_close(after.std, before.std * math.exp(-2.0))
    with pytest.raises(ValueError, match="logvar_offset"):
        TrainConfig(logvar_offset=float("nan"))


def test_the_training_optimiser_matches_the_looped_adamw_bit_for_bit():
    # the shipped weights were trained with torch's default (looped) AdamW on CPU; `adamw`
    # runs the multi-tensor update for speed and must not move a single bit
    from fastgen_book.sd.tiny import build_vae
    from fastgen_book.tinysd.loop import adamw

    torch.manual_seed(0)
    start = [p.detach() for p in build_vae(TinySDConfig()).parameters()]
    grads = [[torch.randn_like(p) for p in start] for _ in range(4)]
    runs = []
    for make in (adamw, lambda ps, lr: torch.optim.AdamW(ps, lr, weight_decay=0.0, foreach=False)):
        params = [p.clone().requires_grad_(True) for p in start]
        opt = make(params, 3e-3)
        for step_grads in grads:
            for p, g in zip(params, step_grads, strict=True):
                p.grad = g.clone()
            opt.step()
        runs.append(params)
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(start, runs[0], strict=True))


def test_the_makefile_reads_the_stage_list_instead_of_repeating_it():
    from pathlib import Path

    from fastgen_book.tinysd.stages import STAGE_NAMES

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    recipe = makefile.split("\nweights:", 1)[1].split("\n\n", 1)[0]
    assert "fastgen_book train all" in recipe
    assert not any(f" {name} " in recipe or recipe.endswith(name) for name in STAGE_NAMES)
