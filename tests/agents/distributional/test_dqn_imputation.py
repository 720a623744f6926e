"""Expectiles, imputation (expectiles back to a distribution), quantiles and Wasserstein-1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repgym.agents.distributional.distributions import expectiles, quantiles, wasserstein1
from repgym.agents.distributional.heads import midpoint_taus
from repgym.agents.distributional.imputation import impute_distribution

REWARDS = torch.tensor([0.1, 0.3, 1.2, 2.5, 5.0, 10.0, 20.0], dtype=torch.float64)


def test_expectiles_by_hand() -> None:
    # Two equally likely atoms 0 and 1: tau (1 - e) = (1 - tau) e  ->  e = tau.
    taus = torch.tensor([0.1, 0.5, 0.8], dtype=torch.float64)
    assert torch.allclose(expectiles(torch.tensor([0.0, 1.0], dtype=torch.float64), taus), taus, atol=1e-12)
    # tau = 0.5 is the mean, also with weights.
    e = expectiles(REWARDS, torch.tensor([0.5], dtype=torch.float64))
    assert e.item() == pytest.approx(REWARDS.mean().item(), abs=1e-10)
    w = torch.tensor([0.5, 0.5, 0, 0, 0, 0, 0], dtype=torch.float64)
    assert expectiles(REWARDS, torch.tensor([0.5], dtype=torch.float64), w).item() == pytest.approx(0.2)


@pytest.mark.parametrize("n", [3, 5, 11, 21, 51])
def test_imputation_recovers_the_expectiles_of_a_known_distribution(n: int) -> None:
    taus = midpoint_taus(n).double()
    target = expectiles(REWARDS, taus)
    atoms, probs = impute_distribution(target, taus)
    assert atoms.shape == probs.shape == (n - 1,)
    assert (probs >= 0).all() and probs.sum().item() == pytest.approx(1.0)
    assert torch.allclose(expectiles(atoms, taus, probs), target, atol=1e-9)
    # More expectiles pin the distribution down better.
    uniform = np.full(7, 1 / 7)
    if n == 51:
        assert wasserstein1(atoms.numpy(), probs.numpy(), REWARDS.numpy(), uniform) < 0.15


def test_imputation_batched_on_random_distributions_and_invalid_inputs() -> None:
    gen = torch.Generator().manual_seed(0)
    samples = torch.randn(8, 3, 40, generator=gen, dtype=torch.float64).exp() * 4 - 2
    taus = midpoint_taus(11).double()
    target = expectiles(samples, taus)
    atoms, probs = impute_distribution(target, taus)
    assert atoms.shape == (8, 3, 10)
    assert torch.allclose(expectiles(atoms, taus, probs), target, atol=1e-8)
    # Outputs no distribution has (unsorted, non-convex) still give a proper distribution.
    invalid = torch.randn(16, 11, generator=gen)
    atoms, probs = impute_distribution(invalid, midpoint_taus(11))
    assert torch.isfinite(atoms).all() and (probs >= 0).all()
    assert torch.allclose(probs.sum(dim=-1), torch.ones(16), atol=1e-5)
    assert torch.allclose((atoms * probs).sum(dim=-1), invalid.sort(dim=-1).values[:, 5], atol=1e-5)  # the mean
    # A point mass stays a point mass.
    atoms, probs = impute_distribution(torch.full((11,), 3.0), midpoint_taus(11))
    assert torch.allclose((atoms * probs).sum(), torch.tensor(3.0)) and (atoms - 3.0).abs().max() < 1e-3


def test_imputation_errors() -> None:
    with pytest.raises(ValueError, match="taus must have shape"):
        impute_distribution(torch.zeros(5), midpoint_taus(3))
    with pytest.raises(ValueError, match="at least two asymmetries"):
        impute_distribution(torch.zeros(1), torch.tensor([0.5]))


def test_quantiles_and_wasserstein1_by_hand() -> None:
    values, probs = np.array([3.0, 1.0, 2.0]), np.array([0.2, 0.5, 0.3])
    assert quantiles(values, probs, np.array([0.1, 0.5, 0.6, 0.9])).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert wasserstein1(np.array([0.0]), np.array([1.0]), np.array([1.0]), np.array([1.0])) == pytest.approx(1.0)
    half = np.array([0.5, 0.5])
    assert wasserstein1(np.array([0.0, 1.0]), half, np.array([0.5]), np.array([1.0])) == pytest.approx(0.5)
    assert wasserstein1(values, probs, values[::-1], probs[::-1]) == pytest.approx(0.0)
