"""tiny-turbo's training (adversarial diffusion distillation) and the measures it is judged by:
timesteps against diffusers' scheduler, each loss reaching only its own player, resumption,
and sharpness and diversity against closed forms."""

from __future__ import annotations

import pytest
import torch

from fastgen_book.sd import fidelity
from fastgen_book.sd.judge import Judge
from fastgen_book.sd.tiny import build_pipeline
from fastgen_book.tinysd.add import (
    ADDConfig,
    Discriminator,
    add_losses,
    student_timesteps,
    total_loss,
    train_turbo,
)


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_student_timesteps_are_the_trailing_ones_sdxl_turbo_samples(steps):
    """The student is trained where diffusers' Euler-ancestral scheduler with trailing spacing
    (SDXL-Turbo's) will call it."""
    from diffusers import EulerAncestralDiscreteScheduler

    from fastgen_book.sd.tiny import training_scheduler

    sched = EulerAncestralDiscreteScheduler.from_config(
        training_scheduler().config, timestep_spacing="trailing"
    )
    sched.set_timesteps(steps)
    assert sched.timesteps.long().tolist() == student_timesteps(steps).tolist()
    assert set(student_timesteps(steps).tolist()) <= set(student_timesteps(4).tolist())


def _setup():
    pipe = build_pipeline()
    torch.manual_seed(0)
    judge = Judge().eval()
    disc = Discriminator(judge, pipe.text_encoder.config.hidden_size, width=8)
    return pipe, disc


def _losses(pipe, disc, seed=0):
    import copy

    from fastgen_book.tinysd.data import encode_prompts
    from fastgen_book.tinysd.train import noise_schedule

    g = torch.Generator().manual_seed(seed)
    real = torch.rand(2, 3, 64, 64, generator=g)
    latents = torch.randn(2, 4, 8, 8, generator=g)
    with torch.no_grad():
        cond = encode_prompts(pipe, ["a red circle left of a blue square"] * 2)
        uncond = encode_prompts(pipe, ["", ""])
    teacher = copy.deepcopy(pipe.unet).requires_grad_(False)
    pipe.vae.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    student = pipe.unet.requires_grad_(True)

    def decode(z):
        return (pipe.vae.decode(z).sample / 2 + 0.5).clamp(0, 1)

    sched = noise_schedule(pipe)
    parts = add_losses(student, teacher, disc, decode, latents, real, cond, uncond, sched, 3.0, g)
    return parts, list(student.parameters())


def _grads(loss, params):
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if d is None else d for p, d in zip(params, grads, strict=True)]


def test_each_loss_reaches_only_its_own_player():
    """The summed loss trains both players in one backward pass: the student gets the gradient
    of L_adv^G + lambda L_distill alone, the heads that of L_adv^D alone (Sauer et al. 2023,
    eq. 3 and 5), and the frozen judge none."""
    pipe, disc = _setup()
    parts, student = _losses(pipe, disc)
    config = ADDConfig()
    heads, judge = disc.trainable(), list(disc.judge.parameters())
    total = total_loss(parts, config)
    own = parts["adv"] + config.distill_weight * parts["distill"]
    for a, b in zip(_grads(total, student), _grads(own, student), strict=True):
        torch.testing.assert_close(a, b)
    for a, b in zip(_grads(total, heads), _grads(parts["disc"], heads), strict=True):
        torch.testing.assert_close(a, b)
    assert all(d.abs().sum() == 0 for d in _grads(parts["disc"], student))
    assert not any(p.requires_grad for p in judge)  # frozen: no gradient can reach it
    assert any(d.abs().sum() > 0 for d in _grads(parts["adv"], student))
    assert any(d.abs().sum() > 0 for d in _grads(parts["distill"], student))


def test_turbo_training_saves_a_full_unet_and_resumes(tmp_path):
    """2 steps, then a rerun to 3, gives the student of 3 steps straight (student, heads,
    optimiser and generator all resume); the saved folder loads as a diffusers UNet."""
    from diffusers import UNet2DConditionModel

    def student(steps, run, out):
        torch.manual_seed(0)
        judge = Judge().eval()
        # a constant rate: an annealed one is a function of the total steps
        config = ADDConfig(steps=steps, batch=2, save_every=1, head_width=8, decay_steps=0)
        train_turbo(build_pipeline(), config, tmp_path / run, tmp_path / out, False, judge)
        return UNet2DConditionModel.from_pretrained(tmp_path / out).state_dict()

    straight = student(3, "a", "straight")
    student(2, "b", "first")
    resumed = student(3, "b", "resumed")
    for k in straight:
        torch.testing.assert_close(straight[k], resumed[k], rtol=0, atol=0)
    base = build_pipeline().unet.state_dict()
    assert any(not torch.equal(base[k], straight[k]) for k in base)


def test_sharpness_of_a_blurred_image_and_of_the_same_image():
    """An image is 100% as sharp as itself; its box blur has less high-frequency energy;
    a constant image has none (the Laplacian of a constant is 0)."""
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 16, 16, generator=g)
    assert fidelity.sharpness(images, images) == pytest.approx(
        [
            100 * e
            for e in (
                fidelity.high_frequency_energy(images)
                / fidelity.high_frequency_energy(images).mean()
            ).tolist()
        ]
    )
    blurred = torch.nn.functional.avg_pool2d(images, 3, stride=1, padding=1)
    assert fidelity.mean(fidelity.sharpness(blurred, images)) < 50
    assert fidelity.high_frequency_energy(torch.full((1, 3, 8, 8), 0.3)).item() == 0


def test_high_frequency_energy_of_a_checkerboard_closed_form():
    """A grey checkerboard of values 0 and a: every interior Laplacian is 4a - 0 or 0 - 4a,
    so the energy is 16 a^2."""
    a = 0.25
    board = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * a
    image = board.expand(1, 3, 8, 8).double()
    assert fidelity.high_frequency_energy(image).item() == pytest.approx(16 * a * a)


def test_diversity_is_the_mean_pairwise_distance_across_seeds():
    """Two prompts, three seeds each: one prompt's images identical (spread 0), the other's
    at the corners of a triangle with sides 3, 4, 5 (mean pairwise distance 4)."""
    prompts = ["a", "b"] * 3
    feats = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [3.0, 0.0], [0.0, 0.0], [0.0, 4.0]])
    spread = fidelity.seed_spread(feats, prompts)
    assert spread == {"a": 0.0, "b": pytest.approx(4.0)}
    assert fidelity.diversity(feats, feats, prompts) == pytest.approx([0.0, 200.0])


def _student_result(sharp: list[float], spread: list[float], hits: list[int]):
    from fastgen_book.sd.evaluate import Result, Setting

    n = len(hits)
    record = {"nfe_per_image": 1, "seeds": [0, 1], "ms_per_image": 1.0}
    prompts = [f"p{i % (n // 2)}" for i in range(n)]
    return Result(
        Setting("euler_a", 1, 0.0),
        torch.zeros(n, 3, 2, 2, dtype=torch.uint8),
        prompts,
        record,
        {"colour": 1.0},
        sum(hits) / n,
        10.0,
        5.0,
        None,
        {"all": hits, "sharpness": sharp},
        sharpness=fidelity.mean(sharp),
        diversity=fidelity.mean(spread),
        per_prompt={"diversity": spread},
    )


def test_the_students_sentence_says_only_what_the_intervals_allow():
    """Sharper and less varied only when the paired intervals exclude zero; the same numbers on
    both sides read 'within the noise of'."""
    from fastgen_book.sd.students import Students, expectation

    hits = [1, 0] * 8
    soft = _student_result([30.0 + i % 3 for i in range(16)], [90.0 + i for i in range(8)], hits)
    sharp = _student_result([80.0 + i % 5 for i in range(16)], [40.0 + i for i in range(8)], hits)
    s = Students({"LCM-LoRA": {1: soft, 4: soft}, "tiny-turbo": {1: sharp, 4: sharp}})
    assert s.sharpness_verdict(1) == "sharper than"
    assert s.diversity_verdict(4) == "less varied than"
    assert s.accuracy_verdict(1) == "within the noise of"
    assert "sharper than LCM-LoRA's" in s.sentence() and "Both halves" in expectation(s)
    assert "less varied than LCM-LoRA's across seeds" in s.sentence()
    same = Students({"LCM-LoRA": {1: soft, 4: soft}, "tiny-turbo": {1: soft, 4: soft}})
    assert same.sharpness_verdict(1) == same.diversity_verdict(1) == "within the noise of"
    assert expectation(same).startswith("Neither")
