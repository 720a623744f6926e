"""M, the memory model: an LSTM over (z, action) with a mixture-density head (World Models' MDN-RNN).

At step t the LSTM reads ``[z_t, a_t]`` and its state ``h_t``; its output predicts
- the next latent ``z_{t+1}``: per latent dimension a mixture of ``mixtures`` Gaussians (continuous V), or per
  latent position a categorical over the codebook (VQ-VAE V: ``codebook_size`` given);
- the reward ``r_t`` (regression) and whether the episode ends, ``done_t`` (a logit).

Sampling takes a temperature ``tau``: mixture logits are divided by tau and the Gaussians' standard deviations
multiplied by ``sqrt(tau)`` (as in World Models); categorical logits are divided by tau; ``tau = 0`` picks the
most likely component (its mean) or code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.nn import functional as F

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
LOG_SIGMA_MIN, LOG_SIGMA_MAX = -7.0, 4.0  # the Gaussians' standard deviations stay in [9e-4, 55]
State = tuple[torch.Tensor, torch.Tensor]


def action_size(space: spaces.Space) -> int:
    """Width of the action features M reads: one-hot for ``Discrete``, the flattened vector otherwise."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.Box | spaces.MultiBinary | spaces.MultiDiscrete):
        return int(np.prod(space.shape))
    raise ValueError(f"world models support Discrete, Box, MultiBinary and MultiDiscrete actions, got {space}")


def action_encoder(space: spaces.Space) -> Callable[[Any], torch.Tensor]:
    """``encode(actions) -> (B, action_size) float32`` for a batch (or sequence ``(..., )``) of actions."""
    if isinstance(space, spaces.Discrete):
        n, start = int(space.n), int(space.start)
        return lambda a: F.one_hot(torch.as_tensor(np.asarray(a), dtype=torch.long) - start, n).float()
    size = action_size(space)

    def encode(a: Any) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(a), dtype=torch.float32)
        return t.reshape(*t.shape[: t.ndim - len(space.shape)], size)

    return encode


@dataclass
class MemoryOutput:
    """One forward pass. Gaussian head: ``logits``, ``mu``, ``log_sigma`` each ``(B, T, latent_dim, mixtures)``;
    categorical head: ``logits (B, T, positions, codebook_size)`` and ``mu = log_sigma = None``. Plus
    ``reward (B, T)``, ``done_logit (B, T)``, ``features (B, T, hidden)`` and the LSTM ``state`` (h, c)."""

    logits: torch.Tensor
    mu: torch.Tensor | None
    log_sigma: torch.Tensor | None
    reward: torch.Tensor
    done_logit: torch.Tensor
    features: torch.Tensor
    state: State


class MDNRNN(nn.Module):
    """LSTM + mixture-density (or categorical) head.

    Args:
        latent_dim: size of z.
        action_dim: size of the action features (:func:`action_size`).
        hidden: LSTM units (256 in World Models).
        mixtures: Gaussians per latent dimension (5).
        positions, codebook_size: set both for a VQ-VAE's codes: the head is then a categorical over
            ``codebook_size`` codes at each of ``positions`` latent positions.
        reward_weight, done_weight: weights of the reward MSE and done BCE terms in the loss.
        residual: predict the next latent relative to the current one (see :meth:`forward`).
    """

    def __init__(
        self,
        latent_dim: int,
        action_dim: int,
        hidden: int = 256,
        mixtures: int = 5,
        positions: int | None = None,
        codebook_size: int | None = None,
        reward_weight: float = 1.0,
        done_weight: float = 1.0,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if (positions is None) != (codebook_size is None):
            raise ValueError("give both positions and codebook_size (categorical head) or neither (Gaussian head)")
        self.latent_dim, self.action_dim, self.hidden, self.mixtures = latent_dim, action_dim, hidden, mixtures
        self.positions, self.codebook_size = positions, codebook_size
        self.reward_weight, self.done_weight = float(reward_weight), float(done_weight)
        self.residual = residual
        self.stay = nn.Parameter(torch.tensor(2.0)) if residual and codebook_size is not None else None
        self.lstm = nn.LSTM(latent_dim + action_dim, hidden, batch_first=True)
        if self.categorical:
            self.next_latent = nn.Linear(hidden, positions * codebook_size)
        else:
            self.next_latent = nn.Linear(hidden, 3 * latent_dim * mixtures)
        self.reward_done = nn.Linear(hidden, 2)

    @property
    def categorical(self) -> bool:
        return self.codebook_size is not None

    @property
    def config(self) -> dict[str, Any]:
        return {"latent_dim": self.latent_dim, "action_dim": self.action_dim, "hidden": self.hidden,
                "mixtures": self.mixtures, "positions": self.positions, "codebook_size": self.codebook_size,
                "reward_weight": self.reward_weight, "done_weight": self.done_weight,
                "residual": self.residual}  # fmt: skip

    def initial_state(self, batch: int = 1) -> State:
        zeros = torch.zeros(1, batch, self.hidden)
        return zeros, zeros.clone()

    def forward(
        self, z: torch.Tensor, action: torch.Tensor, state: State | None = None, codes: torch.Tensor | None = None
    ) -> MemoryOutput:
        """``z (B, T, latent_dim)``, ``action (B, T, action_dim)`` -> predictions for step t+1 at every t.

        With ``residual`` the Gaussian means are offsets from ``z_t`` (an LSTM copies its input only roughly, and
        most latents move little per step); a categorical head adds a learnt "stay" logit to each position's
        current code, given as ``codes (B, T, positions)``."""
        features, state = self.lstm(torch.cat([z, action], dim=-1), state)
        b, t = features.shape[:2]
        head = self.next_latent(features)
        rd = self.reward_done(features)
        if self.categorical:
            logits = head.view(b, t, self.positions, self.codebook_size)
            if self.residual:
                if codes is None:
                    raise ValueError("a residual categorical memory needs the current codes (codes=)")
                logits = logits + self.stay * F.one_hot(codes.long(), self.codebook_size)
            return MemoryOutput(logits, None, None, rd[..., 0], rd[..., 1], features, state)
        logits, mu, log_sigma = head.view(b, t, self.latent_dim, 3 * self.mixtures).split(self.mixtures, dim=-1)
        if self.residual:
            mu = mu + z.unsqueeze(-1)
        log_sigma = log_sigma.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX)
        return MemoryOutput(logits, mu, log_sigma, rd[..., 0], rd[..., 1], features, state)

    def latent_nll(self, out: MemoryOutput, target: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` negative log-likelihood (nats) of the next latent, summed over dimensions (Gaussian head:
        ``target (B, T, latent_dim)``) or positions (categorical head: ``target (B, T, positions)`` code indices)."""
        if self.categorical:
            logp = F.log_softmax(out.logits, dim=-1)
            return -logp.gather(-1, target.long().unsqueeze(-1)).squeeze(-1).sum(-1)
        x = target.unsqueeze(-1)
        log_normal = -0.5 * ((x - out.mu) * torch.exp(-out.log_sigma)).pow(2) - out.log_sigma - LOG_SQRT_2PI
        return -torch.logsumexp(F.log_softmax(out.logits, dim=-1) + log_normal, dim=-1).sum(-1)

    def loss(
        self,
        out: MemoryOutput,
        target: torch.Tensor,
        reward: torch.Tensor,
        done: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-dimension latent NLL + ``reward_weight`` * reward MSE + ``done_weight`` * done BCE, averaged over
        the steps where ``mask`` (``(B, T)``, 1 = real step) is set. ``parts["nll"]`` is per step (summed over
        latent dimensions or positions)."""
        if mask is None:
            mask = torch.ones_like(reward)
        n = mask.sum().clamp(min=1.0)
        nll = (self.latent_nll(out, target) * mask).sum() / n
        mse = (F.mse_loss(out.reward, reward, reduction="none") * mask).sum() / n
        bce = (F.binary_cross_entropy_with_logits(out.done_logit, done.float(), reduction="none") * mask).sum() / n
        width = self.positions if self.categorical else self.latent_dim
        total = nll / width + self.reward_weight * mse + self.done_weight * bce
        return total, {"loss": total.item(), "nll": nll.item(), "reward_mse": mse.item(), "done_bce": bce.item()}

    @torch.no_grad()
    def sample(self, out: MemoryOutput, tau: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """The next latent at the last step: ``(B, latent_dim)`` floats, or ``(B, positions)`` code indices."""
        if tau < 0:
            raise ValueError(f"temperature tau must be >= 0, got {tau}")
        logits = out.logits[:, -1]  # (B, D, K)
        if tau == 0:
            pick = logits.argmax(-1)
        else:
            probs = F.softmax(logits / tau, dim=-1)
            pick = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).view(probs.shape[:-1])
        if self.categorical:
            return pick
        mu = out.mu[:, -1].gather(-1, pick.unsqueeze(-1)).squeeze(-1)
        if tau == 0:
            return mu
        sigma = out.log_sigma[:, -1].gather(-1, pick.unsqueeze(-1)).squeeze(-1).exp()
        noise = torch.randn(mu.shape, generator=generator)
        return mu + sigma * math.sqrt(tau) * noise
