"""The distributional losses and the C51 projection as pure tensor functions (checked by hand in the tests).

Shapes: ``B`` transitions, ``N`` predicted statistics (atoms, quantiles or expectiles), ``M`` target samples.
Every loss returns one value per transition, ``(B,)``, so callers can weight or average them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def categorical_projection(
    next_probs: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor, support: torch.Tensor
) -> torch.Tensor:
    """Project the distribution ``r + discount * Z`` onto the fixed ``support`` (C51, Bellemare et al. 2017, Alg. 1).

    ``next_probs`` ``(B, K)``: probabilities of the next state's distribution on ``support`` ``(K,)`` (evenly spaced).
    ``rewards``, ``discounts`` ``(B,)``. Each shifted atom ``Tz_j = clip(r + discount * z_j, v_min, v_max)`` gives its
    mass to its two neighbours on the support in proportion to closeness. Returns ``(B, K)`` probabilities.
    """
    v_min, v_max = support[0], support[-1]
    delta = support[1] - support[0]
    shifted = (rewards[:, None] + discounts[:, None] * support[None, :]).clamp(v_min, v_max)  # (B, K) source atoms
    # weight[b, i, j]: share of source atom j landing on support atom i (1 on the atom, 0 one spacing away).
    weight = (1.0 - (shifted[:, None, :] - support[None, :, None]).abs() / delta).clamp(min=0.0)
    return (weight * next_probs[:, None, :]).sum(dim=-1)


def categorical_loss(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of predicted ``logits`` ``(B, K)`` against projected ``target_probs`` ``(B, K)``; ``(B,)``."""
    return -(target_probs * F.log_softmax(logits, dim=-1)).sum(dim=-1)


def quantile_huber_loss(
    quantiles: torch.Tensor, targets: torch.Tensor, taus: torch.Tensor, kappa: float = 1.0
) -> torch.Tensor:
    """Quantile-Huber loss of QR-DQN (Dabney et al. 2018, eq. 10): ``sum_i mean_j rho^kappa_{tau_i}(u_ij)``.

    ``quantiles`` ``(B, N)`` predicted at midpoints ``taus`` ``(N,)``; ``targets`` ``(B, M)`` samples of the target
    distribution; ``u_ij = target_j - quantile_i``; ``rho^kappa_tau(u) = |tau - 1{u < 0}| * L_kappa(u) / kappa``
    with the Huber loss ``L_kappa``; ``kappa = 0`` is the plain quantile loss ``|tau - 1{u < 0}| * |u|``. ``(B,)``.
    """
    pred = quantiles[:, :, None].expand(-1, -1, targets.shape[1])  # (B, N, M)
    target = targets[:, None, :].expand_as(pred)
    if kappa > 0:
        huber = F.huber_loss(pred, target, reduction="none", delta=kappa)
        huber = huber if kappa == 1.0 else huber / kappa
    else:
        huber = (target - pred).abs()
    tau = taus[None, :, None]
    weight = torch.where(target < pred, 1.0 - tau, tau)  # |tau - 1{u < 0}| with u = target - pred
    return (weight * huber).mean(dim=2).sum(dim=1)


def expectile_loss(
    expectiles: torch.Tensor, targets: torch.Tensor, taus: torch.Tensor, target_probs: torch.Tensor | None = None
) -> torch.Tensor:
    """Expectile (asymmetric least squares) loss: ``sum_i sum_j p_j |tau_i - 1{u_ij < 0}| * u_ij^2``, ``(B,)``.

    ``expectiles`` ``(B, N)`` predicted at asymmetries ``taus`` ``(N,)``; ``targets`` ``(B, M)`` atoms of the target
    distribution with probabilities ``target_probs`` ``(B, M)`` (default ``1/M`` each); ``u_ij = target_j -
    expectile_i``. Its minimiser over ``expectile_i`` is the ``tau_i``-expectile of the targets (Newey & Powell
    1987); in the dopamine model ``tau_i`` is a unit's asymmetry between positive and negative prediction errors
    (Dabney et al. 2020).
    """
    u = targets[:, None, :] - expectiles[:, :, None]  # (B, N, M)
    tau = taus[None, :, None]
    weight = torch.where(u.detach() < 0, 1.0 - tau, tau)  # |tau - 1{u < 0}|
    if target_probs is None:
        return (weight * u.pow(2)).mean(dim=2).sum(dim=1)
    return (target_probs[:, None, :] * weight * u.pow(2)).sum(dim=(1, 2))


def huber_loss(values: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """DQN's Huber loss of ``values`` ``(B, 1)`` against ``targets`` ``(B, 1)``; ``(B,)``."""
    return F.smooth_l1_loss(values, targets, reduction="none").sum(dim=-1)
