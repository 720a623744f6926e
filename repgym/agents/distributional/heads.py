"""The four heads: what the network predicts per action, its action values, its bootstrap target and its loss.

The agent's update is the same for every head (:meth:`DistributionalDQN._train`); only these four methods
differ. Shapes: ``B`` transitions, ``A`` actions, ``K`` outputs per action (``Head.n_outputs``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from repgym.agents.distributional import losses
from repgym.agents.distributional.config import DQNConfig
from repgym.agents.distributional.imputation import impute_distribution


def midpoint_taus(n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(n,)`` levels ``(2i + 1) / 2n``: quantile midpoints (QR-DQN) and expectile asymmetries."""
    return (torch.arange(n, dtype=torch.float32, device=device) + 0.5) / n


class Head(ABC):
    """A head turns the network's ``(B, A, K)`` outputs into action values, targets, losses and distributions."""

    name: str
    n_outputs: int

    @abstractmethod
    def q_values(self, outputs: torch.Tensor) -> torch.Tensor:
        """``(B, A)`` expected returns from outputs ``(B, A, K)`` (what the agent acts on and masks)."""

    @abstractmethod
    def target(self, next_outputs: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor) -> Any:
        """The bootstrapped target ``r + discount * Z(s', a*)`` from the target net's outputs at ``a*``
        ``(B, K)``, rewards ``(B,)`` and discounts ``(B,)`` (``gamma**n``, 0 after a termination)."""

    @abstractmethod
    def loss(self, outputs: torch.Tensor, target: Any) -> torch.Tensor:
        """``(B,)`` loss of the outputs at the actions taken ``(B, K)`` against :meth:`target`'s result."""

    @abstractmethod
    def distribution(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(values, probs)`` ``(A, M)`` each: the per-action distributions of one state's outputs ``(A, K)``."""


class CategoricalHead(Head):
    """C51: probabilities (softmax of logits) on ``n_atoms`` evenly spaced returns in ``[v_min, v_max]``."""

    name = "c51"

    def __init__(self, config: DQNConfig, device: torch.device | str) -> None:
        self.n_outputs = config.n_atoms
        self.support = torch.linspace(config.v_min, config.v_max, config.n_atoms, device=device)

    def q_values(self, outputs: torch.Tensor) -> torch.Tensor:
        return (outputs.softmax(dim=-1) * self.support).sum(dim=-1)

    def target(self, next_outputs: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor) -> torch.Tensor:
        return losses.categorical_projection(next_outputs.softmax(dim=-1), rewards, discounts, self.support)

    def loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return losses.categorical_loss(outputs, target)

    def distribution(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.support.expand_as(outputs), outputs.softmax(dim=-1)


class QuantileHead(Head):
    """QR-DQN: the returns' quantiles at midpoints ``(2i + 1) / 2N``, each an atom of mass ``1/N``."""

    name = "qr"

    def __init__(self, config: DQNConfig, device: torch.device | str) -> None:
        self.n_outputs = config.n_quantiles
        self.kappa = config.kappa
        self.taus = midpoint_taus(config.n_quantiles, device)

    def q_values(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.mean(dim=-1)

    def target(self, next_outputs: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor) -> torch.Tensor:
        return rewards[:, None] + discounts[:, None] * next_outputs

    def loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return losses.quantile_huber_loss(outputs, target, self.taus, self.kappa)

    def distribution(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return outputs.sort(dim=-1).values, torch.full_like(outputs, 1.0 / self.n_outputs)


class ExpectileHead(Head):
    """ER-DQN (Rowland et al. 2019): expectiles at asymmetries ``(2i + 1) / 2N``; ``N`` is odd, so the middle one
    (tau = 0.5) is the mean. Targets bootstrap from the imputed distribution (:mod:`.imputation`)."""

    name = "expectile"

    def __init__(self, config: DQNConfig, device: torch.device | str) -> None:
        self.n_outputs = config.n_expectiles
        self.taus = midpoint_taus(config.n_expectiles, device)
        self.mean_index = config.n_expectiles // 2

    def q_values(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs[..., self.mean_index]

    def target(
        self, next_outputs: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        atoms, probs = impute_distribution(next_outputs, self.taus)
        return rewards[:, None] + discounts[:, None] * atoms, probs

    def loss(self, outputs: torch.Tensor, target: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        atoms, probs = target
        return losses.expectile_loss(outputs, atoms, self.taus, probs)

    def distribution(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return impute_distribution(outputs, self.taus)


class MeanHead(Head):
    """DQN: one value per action, Huber loss (for ablations against the distributional heads)."""

    name = "mean"
    n_outputs = 1

    def __init__(self, config: DQNConfig, device: torch.device | str) -> None:
        del config, device

    def q_values(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs[..., 0]

    def target(self, next_outputs: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor) -> torch.Tensor:
        return rewards[:, None] + discounts[:, None] * next_outputs

    def loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return losses.huber_loss(outputs, target)

    def distribution(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return outputs, torch.ones_like(outputs)


HEAD_CLASSES: dict[str, type[Head]] = {
    h.name: h for h in (CategoricalHead, QuantileHead, ExpectileHead, MeanHead)
}  # fmt: skip


def make_head(config: DQNConfig, device: torch.device | str = "cpu") -> Head:
    """The head named by ``config.head``."""
    return HEAD_CLASSES[config.head](config, device)
