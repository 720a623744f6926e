"""Imputation: a distribution whose expectiles are the predicted ones, for the expectile head's targets.

An expectile agent learns statistics, not samples; to bootstrap it needs a distribution with the predicted
expectiles. Rowland et al. (2019, "Statistics and Samples in Distributional Reinforcement Learning") find equal-weight
samples that solve the expectiles' first-order conditions with a root finder, one transition at a time. Here the same
conditions are solved in closed form, for a whole batch, with *weighted* samples:

For a distribution with mean ``m`` and call function ``U(x) = E[(Z - x)+]``, ``e`` is the tau-expectile iff
``tau U(e) = (1 - tau) (U(e) - m + e)``, i.e. ``U(e_i) = (1 - tau_i)(e_i - m) / (2 tau_i - 1)`` (tau = 0.5 gives the
mean). ``U`` is convex and decreasing with slope ``-P(Z > x)``, so the piecewise-linear function through the points
``(e_i, U(e_i))``, closed by the asymptotes ``m - x`` (left) and ``0`` (right), is the call function of a discrete
distribution: atoms at the kinks, masses the changes of slope. Its expectiles at every ``tau_i`` are exactly the
``e_i`` (tested). Predictions that no distribution has (a non-convex ``U``) are projected onto valid slopes and the
result shifted to the predicted mean, so every output is a proper distribution with the predicted mean.
"""

from __future__ import annotations

import torch

MIN_TAIL_MASS = 1e-3  # bounds how far out a tail atom may sit (distance <= U / mass)


def impute_distribution(expectile_values: torch.Tensor, taus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Atoms and probabilities of a distribution whose ``taus``-expectiles are ``expectile_values``.

    ``expectile_values`` ``(..., N)`` at asymmetries ``taus`` ``(N,)`` (increasing, at least two of them not 0.5);
    values are sorted first, since the expectiles of any distribution increase with tau and a network's outputs need
    not. The mean is the 0.5-expectile when 0.5 is among ``taus``, else interpolated. Returns ``(atoms, probs)``,
    both ``(..., K)`` with ``K`` the number of taus other than 0.5, in the input dtype; the solve runs in float64.
    """
    n = expectile_values.shape[-1]
    if taus.shape != (n,):
        raise ValueError(f"taus must have shape ({n},) to match the expectile values, got {tuple(taus.shape)}")
    t = taus.to(device=expectile_values.device, dtype=torch.float64)
    is_mean = (t - 0.5).abs() < 1e-9
    if int((~is_mean).sum()) < 2:
        raise ValueError(f"imputation needs at least two asymmetries other than 0.5, got taus {taus.tolist()}")
    e = expectile_values.reshape(-1, n).to(torch.float64).sort(dim=-1).values  # (B, N)
    mean = _mean(e, t, is_mean)  # (B, 1)
    e, t = e[:, ~is_mean], t[~is_mean]  # (B, K)
    call = ((1 - t) * (e - mean) / (2 * t - 1)).clamp(min=0)
    call = torch.maximum(call, mean - e)  # U(x) >= m - x: a put price is never negative
    # Chord slopes are -P(Z > x) between consecutive expectiles: in (-1, 0) and increasing for a convex U.
    slope = (call[:, 1:] - call[:, :-1]) / (e[:, 1:] - e[:, :-1]).clamp(min=1e-12)
    slope = slope.clamp(-1 + MIN_TAIL_MASS, -MIN_TAIL_MASS).cummax(dim=1).values
    left_mass = 1 + slope[:, :1]  # the first chord, extended, meets the asymptote m - x at the lowest atom
    left = torch.minimum((mean + slope[:, :1] * e[:, :1] - call[:, :1]) / left_mass, e[:, :1])
    right_mass = -slope[:, -1:]  # ... and the last one meets 0 at the highest atom
    right = torch.maximum(e[:, -1:] + call[:, -1:] / right_mass, e[:, -1:])
    atoms = torch.cat([left, e[:, 1:-1], right], dim=1)
    probs = torch.cat([left_mass, slope[:, 1:] - slope[:, :-1], right_mass], dim=1)
    # Exact expectiles give exactly the mean m; after a projection, shift the atoms to keep it.
    atoms = atoms + (mean - (atoms * probs).sum(dim=1, keepdim=True))
    shape = (*expectile_values.shape[:-1], atoms.shape[-1])
    dtype = expectile_values.dtype
    return atoms.reshape(shape).to(dtype), probs.reshape(shape).to(dtype)


def _mean(e: torch.Tensor, t: torch.Tensor, is_mean: torch.Tensor) -> torch.Tensor:
    """``(B, 1)``: the 0.5-expectile, taken from ``e`` ``(B, N)`` or interpolated linearly in tau."""
    if bool(is_mean.any()):
        return e[:, is_mean][:, :1]
    j = int(torch.searchsorted(t, torch.tensor(0.5, dtype=t.dtype, device=t.device)).clamp(1, t.numel() - 1))
    w = (0.5 - t[j - 1]) / (t[j] - t[j - 1])
    return (e[:, j - 1] + w * (e[:, j] - e[:, j - 1]))[:, None]
