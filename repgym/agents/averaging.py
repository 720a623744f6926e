"""Polyak averaging of a network's weights: the acting copy of an agent that trains another.

A greedy policy read off the latest weights can swing from one gradient step to the next (rudder's Q-network on
KeyToDoor, the distilled policy between checkpoints); acting with a running average of the weights, as SWA and
Polyak-Ruppert averaging do, keeps what the recent steps agree on. The trained network keeps learning undisturbed.

(The DQN agent's soft target update, ``tau``, is the same rule for another purpose, a bootstrap target; it runs on
the flat parameter buffer its fused optimiser owns, :mod:`repgym.agents.distributional.optim`, and stays there.)
"""

from __future__ import annotations

import copy
from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)


def check_keep(name: str, keep: float) -> None:
    """A one-line error unless ``keep`` (the share of the average kept per update) is in [0, 1): at 1 the average
    would never move from the initial weights."""
    if not 0.0 <= keep < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {keep}")


def averaged_copy(trained: M) -> M:
    """A frozen copy of ``trained`` to average into (no gradients flow to it)."""
    return copy.deepcopy(trained).requires_grad_(False)


@torch.no_grad()
def average_into(average: nn.Module, trained: nn.Module, keep: float) -> None:
    """``average <- keep * average + (1 - keep) * trained``, parameter by parameter (``keep`` 0 copies ``trained``);
    buffers (e.g. normalisation statistics) are copied, not averaged."""
    check_keep("keep", keep)
    for mine, theirs in zip(average.parameters(), trained.parameters(), strict=True):
        mine.lerp_(theirs, 1.0 - keep)
    for mine, theirs in zip(average.buffers(), trained.buffers(), strict=True):
        mine.copy_(theirs)
