"""How many dimensions a representation uses: participation ratio (linear) and TwoNN intrinsic dimension
(nonlinear).

- **Participation ratio** ``(sum λ)^2 / sum λ^2`` over the covariance eigenvalues ``λ``: 1 when one direction
  holds all variance, ``p`` when ``p`` directions hold equal variance.
- **TwoNN** (Facco, d'Errico, Rodriguez & Laio 2017): for each point the ratio ``μ = r2 / r1`` of its second to
  first nearest-neighbour distance follows ``P(μ) = d μ^-(d+1)`` on a ``d``-dimensional manifold, so
  ``-log(1 - F(μ))`` is a line of slope ``d`` through the origin in ``log μ``; the largest ``discard`` fraction of
  ``μ`` (most affected by curvature and density changes) is dropped from the fit. Duplicate points make
  ``r1 = 0``: duplicate *states* are dropped first (replay data repeats states), then any remaining duplicate
  activation rows (distinct states the layer maps to one point); both counts are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repgym.analysis.tidy import Table


def participation_ratio(x: np.ndarray) -> float:
    """``(sum λ)^2 / sum λ^2`` of the covariance of ``x (n, p)`` (NaN for a constant representation)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 states, got {x.shape[0]}")
    x = x - x.mean(axis=0)
    s = np.linalg.svd(x, compute_uv=False)
    lam = s * s
    total = lam.sum()
    return float(total * total / np.sum(lam * lam)) if total > 0 else float("nan")


@dataclass(frozen=True)
class TwoNNResult:
    """TwoNN estimate ``dimension`` from ``n_used`` points, after dropping ``duplicate_states`` repeated states
    and ``duplicate_points`` repeated activation rows."""

    dimension: float
    n_used: int
    duplicate_states: int
    duplicate_points: int


def _unique_rows(x: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row."""
    flat = np.ascontiguousarray(x.reshape(len(x), -1))
    _, first = np.unique(flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1]))), return_index=True)
    return np.sort(first)


def two_nearest(x: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """``(r1, r2)``: each point's distances to its nearest and second-nearest other point (exact, chunked)."""
    sq = np.sum(x * x, axis=1)
    r = np.empty((x.shape[0], 2))
    for lo in range(0, x.shape[0], chunk):
        block = x[lo : lo + chunk]
        d2 = np.maximum(sq[lo : lo + chunk, None] + sq[None, :] - 2.0 * block @ x.T, 0.0)
        d2[np.arange(block.shape[0]), np.arange(lo, lo + block.shape[0])] = np.inf
        r[lo : lo + chunk] = np.sqrt(np.partition(d2, 1, axis=1)[:, :2])
    return r[:, 0], r[:, 1]


def two_nn(
    x: np.ndarray, states: np.ndarray | None = None, discard: float = 0.1, max_points: int = 5000, seed: int = 0
) -> TwoNNResult:
    """TwoNN intrinsic dimension of ``x (n, ...)``; ``states`` (``(n, ...)``, e.g. observations) identify
    duplicate states. At most ``max_points`` points are used (random subset)."""
    if not 0.0 <= discard < 1.0:
        raise ValueError(f"discard must be in [0, 1), got {discard}")
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    keep = np.arange(x.shape[0])
    duplicate_states = 0
    if states is not None:
        states = np.asarray(states)
        if states.shape[0] != x.shape[0]:
            raise ValueError(f"states must have {x.shape[0]} rows like x, got {states.shape[0]}")
        keep = _unique_rows(states)
        duplicate_states = x.shape[0] - keep.size
    x = x[keep]
    unique = _unique_rows(x)
    duplicate_points = x.shape[0] - unique.size
    x = x[unique]
    if x.shape[0] > max_points:
        x = x[np.random.default_rng(seed).choice(x.shape[0], max_points, replace=False)]
    if x.shape[0] < 10:
        raise ValueError(f"TwoNN needs at least 10 distinct points, got {x.shape[0]}")
    r1, r2 = two_nearest(x)
    mu = np.sort(r2 / r1)
    n = mu.size
    cdf = np.arange(1, n + 1) / n
    used = slice(0, max(2, int(np.floor(n * (1.0 - discard)))))
    lx = np.log(mu[used])
    ly = -np.log(1.0 - cdf[used] + 1e-300)
    finite = np.isfinite(lx) & np.isfinite(ly)
    denom = np.sum(lx[finite] ** 2)
    dimension = float(np.sum(lx[finite] * ly[finite]) / denom) if denom > 0 else float("nan")
    return TwoNNResult(dimension, n, duplicate_states, duplicate_points)


def dimensionality(acts: dict[str, np.ndarray], states: np.ndarray | None = None, discard: float = 0.1) -> Table:
    """Per layer: ``participation_ratio`` and ``twonn`` (with the duplicate counts in params)."""
    table = Table()
    for layer, act in acts.items():
        act = np.asarray(act)
        n = act.shape[0]
        units = int(np.prod(act.shape[1:]))
        table.add("dimensionality", layer, None, "participation_ratio", participation_ratio(act), n, p=units)
        try:
            result = two_nn(act, states, discard)
        except ValueError as err:
            table.add("dimensionality", layer, None, "twonn", float("nan"), n, p=units, error=str(err))
            continue
        table.add(
            "dimensionality",
            layer,
            None,
            "twonn",
            result.dimension,
            result.n_used,
            p=units,
            discard=discard,
            duplicate_states=result.duplicate_states,
            duplicate_points=result.duplicate_points,
        )
    return table
