"""The toy 2D stack checked against closed forms: Gaussian data has an exact denoiser, an exact
probability-flow ODE and an exact consistency function, so every piece has a known answer."""

from __future__ import annotations

import math

import pytest
import torch

from fastgen_book.toy2d import data, store
from fastgen_book.toy2d.consistency import (
    ConsistencyModel,
    consistency_scalings,
    denoiser_scalings,
    sample_consistency,
)
from fastgen_book.toy2d.distill import ConsistencyConfig, ct_ema, ct_levels, distance
from fastgen_book.toy2d.ema import EMA
from fastgen_book.toy2d.metrics import sliced_wasserstein
from fastgen_book.toy2d.nets import MLP
from fastgen_book.toy2d.samplers import get_sampler, nfe, sample_ddim, sample_euler
from fastgen_book.toy2d.schedules import append_zero, karras_sigmas, vp_t_from_sigma
from fastgen_book.toy2d.teachers import FlowTeacher, TeacherConfig, VPTeacher, train_teacher

MU = torch.tensor([0.5, -1.0], dtype=torch.float64)
S = 0.7  # data ~ N(MU, S^2 I)


def gaussian_denoiser(x, sigma):
    """E[x_0 | x_sigma] for N(MU, S^2 I) data on the VE scale."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1)
    return MU + S**2 / (S**2 + sigma**2) * (x - MU)


def gaussian_endpoint(x, sigma):
    """The exact PF-ODE map from level sigma to 0: MU + S / sqrt(S^2 + sigma^2) (x - MU)."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1)
    return MU + S / torch.sqrt(S**2 + sigma**2) * (x - MU)


def x_at(n=256, sigma=20.0, seed=0):
    return (
        torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        * (math.sqrt(S**2 + sigma**2))
        + MU
    )


# --- consistency function ---------------------------------------------------------------------


def test_boundary_condition_holds_exactly_at_sigma_min():
    model = ConsistencyModel(MLP(), sigma_data=1.0, sigma_min=0.002, sigma_max=20.0)
    x = torch.randn(64, 2)
    assert torch.equal(model(x, torch.full((64,), 0.002)), x)
    c_skip, c_out = consistency_scalings(torch.tensor(0.002), 1.0, 0.002)
    assert c_skip == 1 and c_out == 0


def test_boundary_condition_holds_for_a_student_wrapping_the_teacher():
    teacher = FlowTeacher(MLP())
    model = ConsistencyModel(teacher, 1.0, 0.002, 20.0, wraps_denoiser=True)
    x = torch.randn(64, 2)
    assert torch.equal(model(x, torch.full((64,), 0.002)), x)
    sigma = torch.logspace(-2, 1, 50)
    c_skip, c_out = denoiser_scalings(sigma, 1.0, 0.002)
    torch.testing.assert_close(c_skip + c_out, torch.ones(50))  # a convex blend of x and D
    hi = torch.full((64,), 20.0)
    torch.testing.assert_close(model(x, hi), teacher(x, hi), atol=1e-3, rtol=0)


def test_exact_consistency_function_is_constant_along_a_trajectory():
    x_T = x_at()
    for sigma in (10.0, 1.0, 0.1):
        x_mid = MU + math.sqrt(S**2 + sigma**2) / math.sqrt(S**2 + 400) * (x_T - MU)
        torch.testing.assert_close(gaussian_endpoint(x_mid, sigma), gaussian_endpoint(x_T, 20.0))


def test_multistep_consistency_with_the_exact_function_stays_exact_in_distribution():
    x = x_at(n=20000, seed=1)
    out = sample_consistency(
        gaussian_endpoint, x, [20.0, 1.0, 0.2], 0.002, generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(out.mean(0), MU, atol=0.03, rtol=0)
    torch.testing.assert_close(out.std(0), torch.full((2,), S, dtype=out.dtype), atol=0.03, rtol=0)


# --- samplers on the exact Gaussian ODE --------------------------------------------------------


@pytest.mark.parametrize("name", ["euler", "heun", "ddim", "dpmpp_2m"])
def test_samplers_converge_to_the_analytic_endpoint(name):
    x = x_at()
    sigmas = append_zero(karras_sigmas(512, 0.002, 20.0))
    out = get_sampler(name)(gaussian_denoiser, x, sigmas)
    torch.testing.assert_close(out, gaussian_endpoint(x, 20.0), atol=2e-2, rtol=0)


def test_higher_order_samplers_are_more_accurate_at_equal_steps():
    x = x_at()
    sigmas = append_zero(karras_sigmas(8, 0.002, 20.0))
    truth = gaussian_endpoint(x, 20.0)
    err = {
        n: (get_sampler(n)(gaussian_denoiser, x, sigmas) - truth).abs().max()
        for n in ("euler", "dpmpp_2m")
    }
    assert err["dpmpp_2m"] < 0.75 * err["euler"]


def test_euler_on_a_straight_flow_is_exact_in_one_step():
    """Flow matching to a point mass c: paths are straight lines, so one Euler step is exact."""
    c = torch.tensor([0.3, -0.2], dtype=torch.float64)

    class PointVelocity(torch.nn.Module):
        def forward(self, x_t, t):  # v = (x_t - c) / t exactly for a point mass at c
            return (x_t - c) / t.reshape(-1, 1)

    teacher = FlowTeacher(PointVelocity())
    x = x_at(sigma=5.0)
    out = sample_euler(teacher, x, torch.tensor([5.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(out, c.expand_as(out))


def test_ddim_equals_euler_on_the_ve_scale():
    x = x_at()
    sigmas = append_zero(karras_sigmas(5, 0.002, 20.0))
    torch.testing.assert_close(
        sample_ddim(gaussian_denoiser, x, sigmas), sample_euler(gaussian_denoiser, x, sigmas)
    )


def test_trajectories_are_returned_step_by_step():
    x = x_at()
    out, traj = sample_euler(gaussian_denoiser, x, [20.0, 1.0, 0.0], return_trajectory=True)
    assert len(traj) == 3 and torch.equal(traj[-1], out) and torch.equal(traj[0], x)
    assert nfe("heun", 4) == 7 and nfe("euler", 4) == 4


# --- teachers: both parameterisations give the same denoiser -----------------------------------


def test_flow_and_vp_teachers_with_exact_networks_are_the_exact_denoiser():
    class ExactVelocity(torch.nn.Module):
        def forward(self, x_t, t):
            t = t.reshape(-1, 1)
            gain = (1 - t) * S**2 / ((1 - t) ** 2 * S**2 + t**2)
            x0 = MU + gain * (x_t - (1 - t) * MU)
            return (x_t - x0) / t

    class ExactEps(torch.nn.Module):
        def forward(self, x_t, t):
            t = t.reshape(-1, 1)
            a, s = torch.cos(math.pi * t / 2), torch.sin(math.pi * t / 2)
            x0 = MU + a * S**2 / (a**2 * S**2 + s**2) * (x_t - a * MU)
            return (x_t - a * x0) / s

    x = x_at(sigma=3.0)
    for sigma in (0.05, 0.5, 3.0, 20.0):
        s = torch.full((x.shape[0],), sigma, dtype=torch.float64)
        want = gaussian_denoiser(x, s)
        torch.testing.assert_close(FlowTeacher(ExactVelocity())(x, s), want)
        torch.testing.assert_close(VPTeacher(ExactEps())(x, s), want)
    assert float(vp_t_from_sigma(torch.tensor(1.0))) == pytest.approx(0.5)


def test_trained_teacher_trajectories_are_self_consistent():
    """ODE endpoints from points on one trajectory agree (the self-consistency property)."""
    from fastgen_book.toy2d.trained import get_teacher

    teacher, _ = get_teacher(TeacherConfig(kind="flow"))
    heun = get_sampler("heun")
    x_T = torch.randn(128, 2, generator=torch.Generator().manual_seed(0)) * 20
    fine = append_zero(karras_sigmas(256, 0.002, 20.0)).float()
    end, traj = heun(teacher, x_T, fine, return_trajectory=True)
    for i in (64, 128, 192):  # restart the ODE from a point on the trajectory
        again = heun(teacher, traj[i], append_zero(karras_sigmas(128, 0.002, float(fine[i]))))
        torch.testing.assert_close(again, end, atol=2e-2, rtol=0)


def test_training_is_deterministic():
    cfg = TeacherConfig(kind="vp", steps=20)
    a, _ = train_teacher(cfg)
    b, _ = train_teacher(cfg)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


# --- training pieces ---------------------------------------------------------------------------


def test_ema_update_is_the_convex_combination():
    model = torch.nn.Linear(2, 2)
    torch.nn.init.zeros_(model.weight)
    ema = EMA(model, decay=0.9)
    torch.nn.init.ones_(model.weight)
    ema.update(model)
    torch.testing.assert_close(ema.model.weight, torch.full((2, 2), 0.1))


def test_consistency_training_schedule_matches_the_paper_endpoints():
    assert ct_levels(0, 1000, 2, 150) == 2
    assert ct_levels(1000, 1000, 2, 150) == 151
    assert ct_ema(2, 2, 0.9) == pytest.approx(0.9)


def test_distances():
    a, b = torch.zeros(3, 2), torch.full((3, 2), 3.0)
    torch.testing.assert_close(distance(a, b, "l2", 0.0), torch.full((3,), 18.0))
    huber = distance(a, b, "pseudo_huber", 1.0)
    torch.testing.assert_close(huber, torch.full((3,), math.sqrt(19.0) - 1))


# --- metrics and data --------------------------------------------------------------------------


def test_sliced_wasserstein_of_a_shift_is_its_length_over_root_two():
    a = torch.randn(500, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    v = torch.tensor([0.6, -0.8], dtype=torch.float64)
    assert sliced_wasserstein(a, a) == 0
    assert sliced_wasserstein(a, a + v) == pytest.approx(1 / math.sqrt(2), rel=1e-9)


def test_data_is_normalised_and_splits_differ():
    g = torch.Generator().manual_seed(0)
    for name in data.DATASETS:
        x = data.sample(name, 50_000, generator=g)
        torch.testing.assert_close(x.mean(0), torch.zeros(2), atol=0.03, rtol=0)
        torch.testing.assert_close(x.std(0), torch.ones(2), atol=0.03, rtol=0)
    train = data.sample("two_moons", 10, generator=torch.Generator().manual_seed(5))
    held = data.sample("two_moons", 10, generator=torch.Generator().manual_seed(5), split="heldout")
    assert not torch.equal(train, held)


def test_store_round_trip_leaves_no_temporary_files(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTGEN_MODEL_DIR", str(tmp_path))
    cfg = TeacherConfig(steps=1)
    model = MLP()
    assert store.load(cfg, MLP()) is None
    record = store.save(cfg, model, {"seconds": 1.0})
    loaded = MLP()
    assert store.load(cfg, loaded)["config"] == record["config"]
    for p, q in zip(model.parameters(), loaded.parameters(), strict=True):
        assert torch.equal(p, q)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".safetensors"]
    assert store.config_key(cfg) != store.config_key(TeacherConfig(steps=2))


# --- bad inputs say what is wrong and what is allowed ------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: karras_sigmas(0), "n must be an integer >= 1"),
        (lambda: get_sampler("rk4"), "unknown sampler 'rk4'; choose one of: euler, heun"),
        (lambda: sample_euler(gaussian_denoiser, x_at(), [1.0, 2.0]), "strictly decrease"),
        (lambda: sliced_wasserstein(torch.zeros(3, 2), torch.zeros(4, 2)), "equal size"),
        (lambda: sliced_wasserstein(torch.zeros(3, 3), torch.zeros(3, 3)), "[n, 2]"),
        (lambda: data.sample("spirals", 3, generator=torch.Generator()), "unknown dataset"),
        (lambda: TeacherConfig(kind="ode"), "unknown teacher kind 'ode'"),
        (lambda: ConsistencyConfig(method="cd", teacher=None), "needs a teacher"),
        (lambda: ConsistencyConfig(distance="l1"), "unknown distance"),
        (lambda: EMA(torch.nn.Linear(1, 1), decay=1.5), "decay must lie in [0, 1]"),
    ],
)
def test_bad_inputs_raise_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=None) as info:
        call()
    assert message in str(info.value)


def test_consistency_model_rejects_out_of_range_sigma_and_bad_shapes():
    model = ConsistencyModel(MLP(), 1.0, 0.002, 20.0)
    with pytest.raises(ValueError, match=r"sigma must lie in \[sigma_min, sigma_max\]"):
        model(torch.zeros(4, 2), torch.full((4,), 50.0))
    with pytest.raises(ValueError, match="one value per sample"):
        model(torch.zeros(4, 2), torch.ones(3))


def test_without_the_boundary_parameterisation_f_is_the_network_itself():
    teacher = FlowTeacher(MLP())
    free = ConsistencyModel(teacher, 1.0, 0.002, 20.0, wraps_denoiser=True, boundary=False)
    x = torch.randn(64, 2)
    for s in (0.002, 1.0, 20.0):
        sigma = torch.full((64,), s)
        torch.testing.assert_close(free(x, sigma), teacher(x, sigma))
    raw = ConsistencyModel(MLP(), 1.0, 0.002, 20.0, boundary=False)
    assert not torch.allclose(raw(x, torch.full((64,), 0.002)), x)


def _loss_inputs(config):
    from fastgen_book.toy2d.distill import build_student

    student = build_student(config, FlowTeacher(MLP()))
    target = EMA(student, 0.0).model
    g = torch.Generator().manual_seed(0)
    x0, z = torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g)
    s_hi, s_lo = torch.full((32, 1), 2.0), torch.full((32, 1), 1.5)
    return student, target, x0, z, s_hi, s_lo


def test_the_stop_gradient_keeps_the_target_side_out_of_the_gradient():
    """With theta^- = theta (mu = 0), the loss value is the same with or without stop-gradient,
    and its gradient differs exactly by the target side's term."""
    from fastgen_book.toy2d.distill import consistency_loss

    base = ConsistencyConfig(method="ct", teacher=None, init_from_teacher=False)
    grads = {}
    for stop in (True, False):
        config = ConsistencyConfig(
            method="ct", teacher=None, init_from_teacher=False, stop_grad=stop
        )
        student, target, x0, z, s_hi, s_lo = _loss_inputs(base)
        loss = consistency_loss(student, target, None, x0, z, s_hi, s_lo, config)
        loss.backward()
        grads[stop] = (loss.item(), [p.grad.clone() for p in student.parameters()])
    assert math.isclose(grads[True][0], grads[False][0], rel_tol=1e-6)
    # manual: d/dtheta |f(x_hi) - f(x_lo)|^2 = both sides; the stop-gradient keeps only x_hi's
    student, target, x0, z, s_hi, s_lo = _loss_inputs(base)
    x_hi, x_lo = x0 + s_hi * z, x0 + s_lo * z
    lo = student(x_lo, s_lo.squeeze(1))
    hi = student(x_hi, s_hi.squeeze(1))
    (((hi - lo.detach()) ** 2).sum(1).mean()).backward()
    for mine, ref in zip(grads[True][1], (p.grad for p in student.parameters()), strict=True):
        torch.testing.assert_close(mine, ref)
    assert any(
        not torch.allclose(a, b) for a, b in zip(grads[True][1], grads[False][1], strict=True)
    )
