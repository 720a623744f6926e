"""Generality as a transfer rule: move only a source agent's *general* units into a fresh agent for a new task.

A unit's generality is the fraction of states on which it is active (:func:`repgym.analysis.generality.unit_activity`,
threshold 0: a linear or conv unit counts as active where its pre-activation is positive, i.e. where the ReLU after
it passes a signal; a conv filter where it does so at any position). It is measured on the source agent's own
activations over ``states``.

**What transferring a unit means.** The layers are a chain of weight layers (:func:`repgym.agents.surgery.weight_chain`:
``torso.fc1 -> torso.fc2 -> head.linear``, or conv layers and then linear ones). A *kept* unit (generality >=
``threshold``) gets the source's incoming weights (its weight row / filter and its bias), restricted to the inputs
that are themselves kept; every other weight keeps the target agent's fresh initialisation. So a re-initialised
unit is fresh on both sides: its incoming row and bias, and the columns through which the next layer reads it.
The observation's inputs always count as kept. The head's output units follow the same rule (active: a positive
output), so ``threshold <= 0`` copies the whole source network and ``threshold > 1`` leaves the fresh agent as it
was. A unit that is never active (generality 0) is re-initialised at any ``threshold > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from repgym.analysis.capture import agent_runner, capture_activations
from repgym.analysis.generality import unit_activity


@dataclass
class LayerTransfer:
    """One weight layer: its units' generality on the states and which were kept."""

    units: int
    kept: list[int]
    generality: list[float] = field(repr=False)

    @property
    def kept_fraction(self) -> float:
        return len(self.kept) / self.units


def unit_generality(agent: Any, states: np.ndarray) -> dict[str, np.ndarray]:
    """``{layer: (units,) active fraction}`` of each layer of the agent's weight chain on ``states``."""
    from repgym.agents.surgery import weight_chain

    chain = dict(weight_chain(agent))
    acts = capture_activations(chain, agent_runner(agent), np.asarray(states), keep_calls=False).activations
    missing = sorted(set(chain) - set(acts))
    if missing:
        raise ValueError(f"layers {missing} did not run on the states")
    return {name: unit_activity(acts[name])[0] for name in chain}


def _units(layer: nn.Module) -> int:
    return layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels


def _inputs(layer: nn.Module) -> int:
    return layer.in_features if isinstance(layer, nn.Linear) else layer.in_channels


def transfer_general_units(source: Any, target: Any, states: np.ndarray, threshold: float) -> dict[str, LayerTransfer]:
    """Copy ``source``'s units with generality >= ``threshold`` into ``target`` (in place; the rest keep the
    target's initialisation, see the module docstring) and return, per layer, which units were kept.

    ``source`` and ``target`` are repgym DQN agents with the same architecture; ``states`` ``(n, *obs_shape)``.
    The target network is set to the new online weights afterwards.
    """
    from repgym.agents.surgery import sync_target, weight_chain

    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    src_chain, dst_chain = weight_chain(source), weight_chain(target)
    shapes = [(n, tuple(m.weight.shape)) for n, m in src_chain]
    if shapes != [(n, tuple(m.weight.shape)) for n, m in dst_chain]:
        raise ValueError(
            f"source and target networks differ: {shapes} vs {[(n, m.weight.shape) for n, m in dst_chain]}"
        )
    generality = unit_generality(source, states)
    report: dict[str, LayerTransfer] = {}
    previous: torch.Tensor | None = None  # kept mask of the layer feeding this one (None: the observation)
    with torch.no_grad():
        for (name, src), (_, dst) in zip(src_chain, dst_chain, strict=True):
            g = generality[name]
            keep = torch.as_tensor(g >= threshold, device=dst.weight.device)
            inputs = _inputs(dst)
            if previous is None:
                columns = torch.ones(inputs, dtype=torch.bool, device=keep.device)
            else:  # after a flatten, each unit of the previous layer is a block of inputs (C, H, W order)
                columns = previous.repeat_interleave(inputs // previous.numel())
            mask = keep[:, None] & columns[None, :]
            mask = mask.reshape(mask.shape + (1,) * (dst.weight.dim() - 2))
            dst.weight.copy_(torch.where(mask, src.weight.to(dst.weight.device), dst.weight))
            if dst.bias is not None:
                dst.bias.copy_(torch.where(keep, src.bias.to(dst.bias.device), dst.bias))
            report[name] = LayerTransfer(_units(dst), np.flatnonzero(g >= threshold).tolist(), g.tolist())
            previous = keep
    sync_target(target)
    return report
