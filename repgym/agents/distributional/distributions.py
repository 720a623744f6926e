"""Discrete return distributions and their statistics: expectiles, quantiles, CDFs, Wasserstein-1.

A discrete distribution is atoms ``values`` ``(..., M)`` with probabilities ``probs`` ``(..., M)`` (summing to 1
along the last axis). Every head's output becomes one (C51: support and softmax; QR: quantiles with mass ``1/N``
each; expectile: the imputed atoms; DQN: one atom), so plots and comparisons treat all heads alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ReturnDistribution:
    """Per-action return distributions at one state, as discrete distributions.

    ``values`` ``(A, M)`` atoms and ``probs`` ``(A, M)`` their probabilities, per action; ``q_values`` ``(A,)`` the
    agent's action values (the means it acts on); ``head`` the head that produced them.
    """

    values: np.ndarray
    probs: np.ndarray
    q_values: np.ndarray
    head: str

    @property
    def means(self) -> np.ndarray:
        """``(A,)`` mean of each action's distribution."""
        return (self.values * self.probs).sum(axis=-1)

    def cdf(self, grid: np.ndarray) -> np.ndarray:
        """``(A, G)`` CDF of each action's distribution at the points ``grid`` ``(G,)``."""
        return (self.probs[:, None, :] * (self.values[:, None, :] <= grid[None, :, None])).sum(axis=-1)


def expectiles(
    values: torch.Tensor, taus: torch.Tensor, probs: torch.Tensor | None = None, iters: int = 64
) -> torch.Tensor:
    """The ``taus``-expectiles of discrete distributions: atoms ``values`` ``(..., M)`` with ``probs`` ``(..., M)``
    (default: equal weights). Returns ``(..., N)`` for ``taus`` ``(N,)``, in the dtype of ``values``.

    The tau-expectile ``e`` solves ``sum_j p_j |tau - 1{x_j < e}| (x_j - e) = 0``, whose left side falls strictly
    with ``e``; bisection between the smallest and largest atom pins it down to ``range / 2**iters``.
    """
    x = values.to(torch.float64)
    p = torch.full_like(x, 1.0 / x.shape[-1]) if probs is None else probs.to(torch.float64)
    t = taus.to(torch.float64)
    lo = x.min(dim=-1, keepdim=True).values.expand(*x.shape[:-1], t.numel()).clone()  # (..., N)
    hi = x.max(dim=-1, keepdim=True).values.expand_as(lo).clone()
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        u = x[..., None, :] - mid[..., :, None]  # (..., N, M)
        slope = (p[..., None, :] * (t[:, None] - (u < 0).to(u.dtype)).abs() * u).sum(dim=-1)
        above = slope > 0  # the root lies above mid
        lo = torch.where(above, mid, lo)
        hi = torch.where(above, hi, mid)
    return (0.5 * (lo + hi)).to(values.dtype)


def quantiles(values: np.ndarray, probs: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The ``levels``-quantiles ``(N,)`` of one discrete distribution (``values``, ``probs`` ``(M,)``): the smallest
    atom whose CDF reaches each level."""
    order = np.argsort(values)
    cdf = np.cumsum(probs[order])
    idx = np.searchsorted(cdf, np.asarray(levels) - 1e-12, side="left").clip(max=len(values) - 1)
    return values[order][idx]


def wasserstein1(values_a: np.ndarray, probs_a: np.ndarray, values_b: np.ndarray, probs_b: np.ndarray) -> float:
    """Wasserstein-1 distance between two discrete distributions on the line: ``integral |F_a(x) - F_b(x)| dx``."""
    grid = np.union1d(values_a, values_b)
    if grid.size < 2:
        return 0.0
    f_a = (probs_a[None, :] * (values_a[None, :] <= grid[:-1, None])).sum(axis=1)
    f_b = (probs_b[None, :] * (values_b[None, :] <= grid[:-1, None])).sum(axis=1)
    return float((np.abs(f_a - f_b) * np.diff(grid)).sum())
