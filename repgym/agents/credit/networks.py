"""The RUDDER agent's networks: an observation encoder, the return predictor (an LSTM over observation-action pairs,
optionally beside a running maximum of the pairs' features), the credit module (successive differences of its
predictions) and the Q-network that reads the predictor's memory.

Encoders reuse the distributional agent's torsos (:func:`repgym.agents.distributional.networks.make_torso`: an MLP
for vectors, a CNN for boards and pixels), after scaling float vectors with finite bounds to [-1, 1] (the delayed
games' symbolic observations count steps and cells, up to tens). Every layer has a name the analyzers can hook.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from repgym.agents.credit.config import RudderConfig
from repgym.agents.distributional.networks import ActionOutputs, make_torso


class BoxScaler(nn.Module):
    """``2 * (x - low) / (high - low) - 1`` per entry of a float ``Box`` with finite bounds (others unchanged)."""

    def __init__(self, space: spaces.Box) -> None:
        super().__init__()
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        finite = np.isfinite(low) & np.isfinite(high) & (high > low)
        span = np.where(finite, high - low, 2.0)
        offset = np.where(finite, low, -1.0)
        self.register_buffer("offset", torch.as_tensor(offset, dtype=torch.float32), persistent=False)
        self.register_buffer("span", torch.as_tensor(span, dtype=torch.float32), persistent=False)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return 2.0 * (obs.float() - self.offset) / self.span - 1.0


def make_encoder(space: spaces.Box, config: RudderConfig) -> tuple[nn.Sequential, int]:
    """The encoder for ``space`` (``(B, *obs_shape)`` to ``(B, width)``) and its width."""
    torso, width = make_torso(space, config.dqn_config())
    if np.issubdtype(space.dtype, np.floating) and np.isfinite(space.low).any():
        layers = OrderedDict([("scale", BoxScaler(space)), *torso.named_children()])
        return nn.Sequential(layers), width
    return torso, width


class Credit(nn.Module):
    """The redistributed reward per step: ``g_t - g_{t-1}`` of the return predictions ``(B, T)``, ``g_{-1}`` given
    by ``previous`` ``(B,)`` (0 at an episode's start). Parameter-free; a module so that analyzers can hook it."""

    def forward(self, predictions: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        if previous is None:
            previous = torch.zeros_like(predictions[:, 0])
        return predictions - torch.cat([previous[:, None], predictions[:, :-1]], dim=1)


class RunningMax(nn.Module):
    """The running maximum over time of non-negative features ``(B, T, W)``, continuing from ``previous`` ``(B, W)``
    (zeros at an episode's start). A memory with no forgetting: a feature that fired once (the umbrella taken under
    a rain forecast) stays set for any number of steps, and the gradient of a late prediction reaches the step that
    set it directly, not through hundreds of LSTM steps. Parameter-free; a module so that analyzers can hook it."""

    features_last = True  # its output is (batch, time, features): analyzers index units on the last axis

    def forward(self, features: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        pooled = torch.cummax(features, dim=1).values
        return pooled if previous is None else torch.maximum(pooled, previous[:, None])


PredictorState = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # LSTM h, c (1, B, hidden); running max (1, B, W)


class ReturnPredictor(nn.Module):
    """Predicts the episode's return after each step from the observation-action pairs so far.

    ``forward(obs (B, T, *obs_shape), actions (B, T), state)`` returns the predictions ``g`` ``(B, T)``, the LSTM
    outputs ``(B, T, hidden)`` (the memory after each step) and the final state ``(h, c, pooled)``: the LSTM's
    ``(1, B, hidden)`` each and the running maximum ``(1, B, W)`` (``W = hidden`` with ``RudderConfig.memory_pool``,
    else 0). With ``memory_pool`` the prediction reads the running maximum of the pair features beside the LSTM's
    output (:class:`RunningMax`). With ``predicts_remaining`` (``RudderConfig.predict_remaining``) ``g`` is the
    return still to come after each step; :func:`~repgym.agents.credit.redistribution.predict_returns` adds the
    rewards already received."""

    def __init__(self, space: spaces.Box, n_actions: int, config: RudderConfig) -> None:
        super().__init__()
        self.n_actions = n_actions
        self.encoder, width = make_encoder(space, config)
        # One nonlinear layer on (observation features, action) before the LSTM: the value of an action often
        # depends on what is seen with it (take the umbrella *and* rain), which LSTM gates alone learn slowly.
        self.pair = nn.Sequential(nn.Linear(width + n_actions, config.lstm_hidden), nn.ReLU())
        self.lstm = nn.LSTM(config.lstm_hidden, config.lstm_hidden, batch_first=True)
        if config.forget_bias:
            with torch.no_grad():  # gates are ordered (input, forget, cell, output) in PyTorch's LSTM
                self.lstm.bias_ih_l0[config.lstm_hidden : 2 * config.lstm_hidden] += config.forget_bias
        self.predicts_remaining = config.predict_remaining
        self.pool = RunningMax() if config.memory_pool else None
        self.pool_width = config.lstm_hidden if config.memory_pool else 0
        self.output = nn.Linear(config.lstm_hidden + self.pool_width, 1)
        self.credit = Credit()

    def forward(
        self, obs: torch.Tensor, actions: torch.Tensor, state: PredictorState | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, PredictorState]:
        batch, steps = actions.shape
        features = self.encoder(obs.reshape(batch * steps, *obs.shape[2:])).reshape(batch, steps, -1)
        onehot = nn.functional.one_hot(actions, self.n_actions).to(features.dtype)
        pairs = self.pair(torch.cat([features, onehot], dim=2))
        memory, (h, c) = self.lstm(pairs, None if state is None else (state[0], state[1]))
        readout, pooled_last = memory, pairs.new_zeros(1, batch, 0)
        if self.pool is not None:
            pooled = self.pool(pairs, None if state is None else state[2][0])
            readout, pooled_last = torch.cat([memory, pooled], dim=2), pooled[:, -1][None]
        return self.output(readout).squeeze(2), memory, (h, c, pooled_last)


class MemoryQNetwork(nn.Module):
    """Observations ``(B, *obs_shape)`` (and the predictor's memory ``(B, hidden)`` when ``memory_input``) to head
    outputs ``(B, n_actions, n_outputs)``."""

    def __init__(self, space: spaces.Box, n_actions: int, n_outputs: int, config: RudderConfig) -> None:
        super().__init__()
        self.memory_input = config.memory_input
        self.encoder, width = make_encoder(space, config)
        width += config.lstm_hidden if self.memory_input else 0
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i, hidden in enumerate(config.q_arch, start=1):
            layers[f"fc{i}"] = nn.Linear(width, hidden)
            layers[f"relu{i}"] = nn.ReLU()
            width = hidden
        self.body = nn.Sequential(layers)
        self.head = ActionOutputs(width, n_actions, n_outputs)

    def forward(self, obs: torch.Tensor, memory: torch.Tensor | None) -> torch.Tensor:
        features = self.encoder(obs)
        if self.memory_input:
            features = torch.cat([features, memory], dim=1)
        return self.head(self.body(features))
