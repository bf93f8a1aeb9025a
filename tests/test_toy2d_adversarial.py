"""The toy adversarial distillation: its losses and mode measures against closed forms."""

from __future__ import annotations

import pytest
import torch

from fastgen_book.toy2d import adversarial as adv


def test_hinge_losses_closed_forms():
    real, fake = torch.ones(5, 1), -torch.ones(5, 1)
    d_loss, g_loss = adv.hinge_losses(real, fake)
    assert d_loss.item() == 0.0 and g_loss.item() == 1.0  # a perfect critic: no critic loss
    d_loss, g_loss = adv.hinge_losses(torch.zeros(3, 1), torch.zeros(3, 1))
    assert d_loss.item() == 2.0 and g_loss.item() == 0.0  # an undecided critic: 1 + 1


def test_mode_report_counts_sharp_samples_and_covered_modes():
    centres = adv.mode_centres()
    assert centres.shape == (8, 2)
    exact = centres.repeat(10, 1)
    report = adv.mode_report(exact)
    assert report.sharp == 1.0 and report.modes_covered == 8
    assert report.share == pytest.approx([1 / 8] * 8)
    collapsed = adv.mode_report(centres[:1].repeat(80, 1))
    assert collapsed.modes_covered == 1 and collapsed.share[0] == 1.0
    midway = (centres[0] + centres[1]) / 2  # between two modes: not sharp
    assert adv.mode_report(midway[None].repeat(4, 1)).sharp == 0.0


def test_the_data_sits_on_the_modes():
    from fastgen_book.toy2d.data import sample

    x = sample("eight_gaussians", 4000, generator=torch.Generator().manual_seed(0))
    report = adv.mode_report(x)
    # within 3 std of a 2D Gaussian: 1 - exp(-9/2) = 98.9 %
    assert report.sharp == pytest.approx(1 - torch.exp(torch.tensor(-4.5)).item(), abs=0.01)
    assert report.modes_covered == 8


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="unknown mode 'wgan'"):
        adv.AdversarialConfig(mode="wgan")
    with pytest.raises(ValueError, match="distill_weight must be >= 0"):
        adv.AdversarialConfig(distill_weight=-1.0)
