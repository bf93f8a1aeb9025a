"""LCM-LoRA's training step against the reference library: the boundary scalings and the
consistency output against diffusers' LCMScheduler, x0 and the guided DDIM step against
DDIMScheduler.step, on random tensors; the pseudo-Huber loss against its closed form."""

from __future__ import annotations

import json

import pytest
import torch
from diffusers import DDIMScheduler, LCMScheduler

from fastgen_book.sd.tiers import tiny_model_dir
from fastgen_book.tinysd.lcm import (
    boundary_scalings,
    consistency_output,
    guided_ddim_step,
    predicted_x0,
    pseudo_huber,
)

CONFIG = json.loads(
    (tiny_model_dir() / "pipeline" / "scheduler" / "scheduler_config.json").read_text()
)


@pytest.fixture
def x_eps():
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 4, 8, 8, generator=g)


def scheduler(cls):
    # SD v1.5's own scheduler config sets set_alpha_to_one=False: the last step lands on
    # alphas_cumprod[0], as the training loop's clamp and diffusers' LCM script's DDIMSolver do
    return cls.from_config(CONFIG, set_alpha_to_one=False)


@pytest.mark.parametrize("t", [0, 1, 19, 259, 999])
def test_boundary_scalings_match_lcm_scheduler(t):
    ours = boundary_scalings(torch.tensor([t]), scaling=10.0)
    theirs = scheduler(LCMScheduler).get_scalings_for_boundary_condition_discrete(t)
    for a, b in zip(ours, theirs, strict=True):
        assert float(a) == pytest.approx(float(b), rel=1e-6)
    if t == 0:  # the boundary condition f(x, 0) = x
        assert (float(ours[0]), float(ours[1])) == (1.0, 0.0)


@pytest.mark.parametrize("t", [19, 499, 999])
def test_x0_matches_ddim(x_eps, t):
    x, eps = x_eps
    ddim = scheduler(DDIMScheduler)
    ddim.set_timesteps(50)
    ref = ddim.step(eps, t, x, eta=0.0).pred_original_sample
    ours = predicted_x0(eps, torch.tensor([t, t]), x, ddim.alphas_cumprod)
    torch.testing.assert_close(ours, ref)


@pytest.mark.parametrize("t", [19, 259, 999])
def test_guided_teacher_step_is_ddim_on_the_guided_noise(x_eps, t):
    """Guiding x0 and eps separately (as the training loop does) equals DDIM on the guided eps,
    because x0_hat is linear in eps; from t = 19 the step lands on alphas_cumprod[0]."""
    x, eps_c = x_eps
    eps_u = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    w = torch.tensor([0.5, 2.0]).view(-1, 1, 1, 1)
    ddim = scheduler(DDIMScheduler)
    ddim.set_timesteps(50)  # skip 1000 // 50 = 20, the loop's ddim_timesteps=50
    guided = eps_c + w * (eps_c - eps_u)
    ref = torch.cat(
        [ddim.step(guided[i : i + 1], t, x[i : i + 1], eta=0.0).prev_sample for i in range(2)]
    )
    t_batch = torch.tensor([t, t])
    ours = guided_ddim_step(
        eps_c, eps_u, w, x, t_batch, (t_batch - 20).clamp(min=0), ddim.alphas_cumprod
    )
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_consistency_output_matches_the_lcm_schedulers_denoised(x_eps):
    x, eps = x_eps
    lcm = scheduler(LCMScheduler)
    lcm.set_timesteps(4)
    t = int(lcm.timesteps[1])
    lcm.step(eps, lcm.timesteps[0], x)  # move the scheduler to its second timestep
    ref = lcm.step(eps, t, x, generator=torch.Generator().manual_seed(0)).denoised
    ours = consistency_output(eps, torch.tensor([t, t]), x, lcm.alphas_cumprod, 10.0)
    torch.testing.assert_close(ours, ref)


def test_pseudo_huber_closed_form():
    c = 0.001
    d = torch.tensor([0.0, 1e-5, 0.3, -2.0], dtype=torch.float64)
    exact = torch.sqrt(d**2 + c**2) - c
    for i in range(len(d)):
        assert float(pseudo_huber(d[i : i + 1], torch.zeros(1, dtype=d.dtype), c)) == pytest.approx(
            float(exact[i])
        )
    assert float(pseudo_huber(d, torch.zeros(4, dtype=d.dtype), c)) == pytest.approx(
        float(exact.mean())
    )
    assert float(pseudo_huber(d[1:2], torch.zeros(1, dtype=d.dtype), c)) == pytest.approx(
        1e-10 / (2 * c), rel=1e-3
    )  # quadratic near 0
    assert float(
        pseudo_huber(torch.tensor([5.0], dtype=d.dtype), torch.zeros(1, dtype=d.dtype), c)
    ) == pytest.approx(5.0 - c, rel=1e-6)  # linear far out
