"""The C51 projection and the quantile-Huber, expectile and Huber losses against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from repgym.agents.distributional import losses
from repgym.agents.distributional.distributions import expectiles

SUPPORT = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0])


def t(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_projection_splits_mass_between_neighbours() -> None:
    # Atoms at 1 and 3 (mass 1/2 each) shifted by 0.5 land halfway between support atoms.
    probs = t([0.0, 0.5, 0.0, 0.5, 0.0])
    out = losses.categorical_projection(probs, t(0.5), t(1.0), SUPPORT)
    assert torch.allclose(out, t([0.0, 0.25, 0.25, 0.25, 0.25]))


def test_projection_discount_zero_clamp_and_mass() -> None:
    probs = torch.full((3, 5), 0.2)
    out = losses.categorical_projection(probs, t(2.3, 10.0, -10.0), t(0.0, 0.9, 0.9), SUPPORT)
    assert torch.allclose(out[0], t([0.0, 0.0, 0.7, 0.3, 0.0]), atol=1e-6)  # terminal: all mass at r = 2.3
    assert torch.allclose(out[1], t([0.0, 0.0, 0.0, 0.0, 1.0]))  # clipped to v_max
    assert torch.allclose(out[2], t([1.0, 0.0, 0.0, 0.0, 0.0]))  # clipped to v_min
    # gamma = 0.5, r = 1: atoms 0..4 -> 1, 1.5, 2, 2.5, 3.
    out = losses.categorical_projection(probs[:1], t(1.0), t(0.5), SUPPORT)
    assert torch.allclose(out, t([0.0, 0.3, 0.4, 0.3, 0.0]), atol=1e-6)
    assert torch.allclose(out.sum(dim=1), torch.ones(1))


def test_categorical_loss_is_cross_entropy() -> None:
    out = losses.categorical_loss(torch.zeros(1, 3), t([0.0, 1.0, 0.0]))
    assert out.item() == pytest.approx(torch.log(torch.tensor(3.0)).item())


def test_quantile_huber_loss_by_hand() -> None:
    taus = t(0.25, 0.75)
    # u = 0.5 - 0 = 0.5 -> 0.25 * 0.125; u = 0.5 - 1 = -0.5 -> |0.75 - 1| * 0.125. Sum over quantiles.
    assert losses.quantile_huber_loss(t([0.0, 1.0]), t([0.5]), taus).item() == pytest.approx(0.0625)
    # |u| = 3 > kappa = 1: linear part 3 - 0.5, weight 0.5.
    assert losses.quantile_huber_loss(t([0.0]), t([3.0]), t(0.5)).item() == pytest.approx(1.25)
    # kappa = 0: plain quantile loss |tau - 1{u<0}| |u| = 0.9 * 2.
    assert losses.quantile_huber_loss(t([0.0]), t([-2.0]), t(0.1), kappa=0.0).item() == pytest.approx(1.8)
    # kappa = 2 divides by kappa: 0.5 * (0.5 * 1^2) / 2.
    assert losses.quantile_huber_loss(t([0.0]), t([1.0]), t(0.5), kappa=2.0).item() == pytest.approx(0.125)


def test_quantile_huber_loss_matches_sb3_contrib() -> None:
    from sb3_contrib.common.utils import quantile_huber_loss

    gen = torch.Generator().manual_seed(0)
    pred, target = torch.randn(16, 10, generator=gen) * 3, torch.randn(16, 10, generator=gen) * 3
    taus = (torch.arange(10) + 0.5) / 10
    ours = losses.quantile_huber_loss(pred, target, taus).mean()
    assert ours.item() == pytest.approx(quantile_huber_loss(pred, target, sum_over_quantiles=True).item(), rel=1e-6)


def test_expectile_loss_by_hand_and_its_minimiser() -> None:
    taus = t(0.2)
    # u = -1 -> 0.8 * 1; u = +1 -> 0.2 * 1; mean 0.5, or 0.25 * 0.8 + 0.75 * 0.2 with probabilities.
    assert losses.expectile_loss(t([1.0]), t([0.0, 2.0]), taus).item() == pytest.approx(0.5)
    assert losses.expectile_loss(t([1.0]), t([0.0, 2.0]), taus, t([0.25, 0.75])).item() == pytest.approx(0.35)
    # Its minimiser is the expectile: zero gradient at expectiles(samples).
    samples = torch.tensor([[0.1, 0.3, 1.2, 2.5, 5.0, 10.0, 20.0]], dtype=torch.float64)
    all_taus = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    e = expectiles(samples, all_taus).requires_grad_(True)
    losses.expectile_loss(e, samples, all_taus).sum().backward()
    assert e.grad.abs().max().item() < 1e-9


def test_huber_loss() -> None:
    assert losses.huber_loss(t([0.0]), t([0.5])).item() == pytest.approx(0.125)
    assert losses.huber_loss(t([0.0]), t([3.0])).item() == pytest.approx(2.5)
