"""Q-networks: a torso chosen from the observation space, then a head layer with ``n_actions * n_outputs`` units.

- vector observations ``(d,)``: an MLP (``net_arch``);
- boards and one-hot planes (``(rows, cols)`` or ``(planes, rows, cols)``, either side < 36 cells): a CNN of 3x3
  same-padding convolutions, which keeps one activation per cell (the Bubble Breaker actions are cells);
- images (both sides >= 36 pixels, channels first or last): the Nature-DQN CNN (8x8/4, 4x4/2, 3x3/1).

Integer observations are scaled by the space's upper bound (pixels by 255, one-hot planes by 1). Every layer has a
name (``torso.fc1``, ``torso.conv2``, ``head``...) so the analyzers can hook it.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from repgym.agents.distributional.config import DQNConfig

NATURE_CNN_MIN_SIDE = 36  # the Nature CNN's strides need at least this many pixels per side


class Preprocess(nn.Module):
    """Observations as float tensors ``(B, C, H, W)`` (images) or ``(B, d)`` (vectors), scaled to about [0, 1]."""

    def __init__(self, scale: float, layout: str) -> None:
        super().__init__()
        self.scale = float(scale)
        self.layout = layout  # "flat", "board" (add a channel), "chw" or "hwc"

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float()
        if self.scale != 1.0:
            x = x / self.scale
        if self.layout == "flat":
            return x.flatten(1)
        if self.layout == "board":
            return x.unsqueeze(1)
        if self.layout == "hwc":
            return x.permute(0, 3, 1, 2)
        return x


def observation_layout(space: spaces.Space) -> tuple[str, tuple[int, int, int] | None]:
    """``("flat", None)`` for vectors, else the image layout and its ``(channels, height, width)``.

    Three axes are channels-first when the first is no longer than the last (``(6, 14, 10)`` planes, ``(4, 84,
    84)`` frames) and channels-last otherwise (``(112, 80, 3)`` pixels)."""
    if not isinstance(space, spaces.Box):
        raise ValueError(f"the DQN agent needs a Box observation space, got {space}")
    shape = space.shape
    if len(shape) == 1:
        return "flat", None
    if len(shape) == 2:
        return "board", (1, shape[0], shape[1])
    if len(shape) == 3:
        if shape[0] <= shape[-1]:
            return "chw", (shape[0], shape[1], shape[2])
        return "hwc", (shape[2], shape[0], shape[1])
    raise ValueError(f"observations must have 1, 2 or 3 axes (vector, board, image), got shape {shape}")


def observation_scale(space: spaces.Box) -> float:
    """The divisor that brings integer observations to about [0, 1] (1 for floats or unbounded spaces)."""
    if not np.issubdtype(space.dtype, np.integer):
        return 1.0
    high = float(np.max(space.high))
    return high if np.isfinite(high) and high > 1 else 1.0


def make_torso(space: spaces.Box, config: DQNConfig) -> tuple[nn.Sequential, int]:
    """The torso for ``space`` and the width of its output."""
    layout, image = observation_layout(space)
    scale = observation_scale(space)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if image is not None or scale != 1.0 or space.dtype != np.float32:  # float vectors need no preprocessing
        layers["input"] = Preprocess(scale, layout)
    if image is None:
        width = int(np.prod(space.shape))
        for i, hidden in enumerate(config.net_arch, start=1):
            layers[f"fc{i}"] = nn.Linear(width, hidden)
            layers[f"relu{i}"] = nn.ReLU()
            width = hidden
        return nn.Sequential(layers), width
    channels, height, width = image
    if min(height, width) >= NATURE_CNN_MIN_SIDE:
        specs = [(8, 4, 0), (4, 2, 0), (3, 1, 0)]  # Mnih et al. 2015
    else:
        specs = [(3, 1, 1)] * len(config.cnn_channels)
    for i, (out_channels, (kernel, stride, padding)) in enumerate(zip(config.cnn_channels, specs, strict=False), 1):
        layers[f"conv{i}"] = nn.Conv2d(channels, out_channels, kernel, stride, padding)
        layers[f"relu{i}"] = nn.ReLU()
        channels = out_channels
    layers["flatten"] = nn.Flatten()
    torso = nn.Sequential(layers)
    with torch.no_grad():
        flat = torso(torch.zeros(1, *space.shape, dtype=torch.float32)).shape[1]
    torso.add_module("fc", nn.Linear(flat, config.cnn_hidden))
    torso.add_module("relu_fc", nn.ReLU())
    return torso, config.cnn_hidden


class ActionOutputs(nn.Module):
    """Linear layer from features ``(B, d)`` to ``(B, n_actions, n_outputs)``."""

    def __init__(self, in_features: int, n_actions: int, n_outputs: int) -> None:
        super().__init__()
        self.shape = (n_actions, n_outputs)
        self.linear = nn.Linear(in_features, n_actions * n_outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features).view(-1, *self.shape)


class DuelingOutputs(nn.Module):
    """Dueling streams (Wang et al. 2016): ``value + advantage - mean_a advantage``, per output, ``(B, A, K)``."""

    def __init__(self, in_features: int, n_actions: int, n_outputs: int) -> None:
        super().__init__()
        self.value = ActionOutputs(in_features, 1, n_outputs)
        self.advantage = ActionOutputs(in_features, n_actions, n_outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        advantage = self.advantage(features)
        return self.value(features) + advantage - advantage.mean(dim=1, keepdim=True)


class QNetwork(nn.Module):
    """Observations ``(B, *obs_shape)`` to head outputs ``(B, n_actions, n_outputs)``."""

    def __init__(self, space: spaces.Box, n_actions: int, n_outputs: int, config: DQNConfig) -> None:
        super().__init__()
        self.torso, width = make_torso(space, config)
        outputs = DuelingOutputs if config.dueling else ActionOutputs
        self.head = outputs(width, n_actions, n_outputs)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.torso(obs))

    def latent_modules(self) -> dict[str, nn.Module]:
        """Torso layers (``torso.fc1``, ``torso.relu1``, ``torso.conv1``...) and the head (``head``, and
        ``head.value`` / ``head.advantage`` when dueling)."""
        named = {f"torso.{name}": m for name, m in self.torso.named_children() if name not in ("input", "flatten")}
        named["head"] = self.head
        if isinstance(self.head, DuelingOutputs):
            named["head.value"] = self.head.value
            named["head.advantage"] = self.head.advantage
        return named
