"""C, the controller: a linear map (or one hidden layer) from M's features ``[z, h]`` to an action.

Its weights are one flat vector for CMA-ES (:meth:`Controller.get_flat` / :meth:`Controller.set_flat`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn


def space_to_json(space: spaces.Space) -> dict[str, Any]:
    """A JSON description of a ``Discrete`` or ``Box`` action space (for checkpoints)."""
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "low": space.low.tolist(), "high": space.high.tolist(), "dtype": str(space.dtype)}
    raise ValueError(f"the world-model controller acts in Discrete or Box action spaces, got {space}")


def space_from_json(data: dict[str, Any]) -> spaces.Space:
    if data["type"] == "Discrete":
        return spaces.Discrete(data["n"], start=data.get("start", 0))
    dtype = np.dtype(data["dtype"])
    return spaces.Box(np.asarray(data["low"], dtype), np.asarray(data["high"], dtype), dtype=dtype)


class Controller(nn.Module):
    """``action = f(W [z, h] + b)``: argmax over logits for ``Discrete`` actions, ``tanh`` scaled to the bounds
    for a bounded ``Box`` (raw values where a bound is infinite).

    Args:
        input_dim: size of the features (latent_dim, plus M's hidden size when the controller reads h).
        action_space: ``Discrete`` or ``Box``.
        hidden: units of one tanh hidden layer; 0 (default) for the linear controller of World Models.
    """

    def __init__(self, input_dim: int, action_space: spaces.Space, hidden: int = 0) -> None:
        super().__init__()
        self.input_dim, self.hidden, self.action_space = input_dim, hidden, action_space
        self._space_json = space_to_json(action_space)
        out = int(action_space.n) if isinstance(action_space, spaces.Discrete) else int(np.prod(action_space.shape))
        if hidden > 0:
            self.net: nn.Module = nn.Sequential(nn.Linear(input_dim, hidden), nn.Tanh(), nn.Linear(hidden, out))
        else:
            self.net = nn.Linear(input_dim, out)
        for p in self.parameters():
            nn.init.zeros_(p)
        if isinstance(action_space, spaces.Box):
            low, high = torch.as_tensor(action_space.low, dtype=torch.float32), torch.as_tensor(action_space.high)
            self._bounded = bool(np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high)))
            self._low, self._span = low.flatten(), (high.float() - low).flatten()

    @property
    def config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "hidden": self.hidden, "action_space": self._space_json}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Controller:
        return cls(config["input_dim"], space_from_json(config["action_space"]), config.get("hidden", 0))

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def get_flat(self) -> np.ndarray:
        return torch.nn.utils.parameters_to_vector(self.parameters()).detach().numpy().astype(np.float64)

    def set_flat(self, flat: np.ndarray) -> None:
        flat = np.asarray(flat, dtype=np.float64)
        if flat.shape != (self.num_params,):
            raise ValueError(f"expected {self.num_params} controller parameters, got shape {flat.shape}")
        torch.nn.utils.vector_to_parameters(torch.as_tensor(flat, dtype=torch.float32), self.parameters())

    def frozen_at(self, features: np.ndarray | torch.Tensor) -> Controller:
        """A copy that ignores its input and always acts as this controller does on ``features`` (its first
        layer's weights folded into the bias at that point). Frozen at the mean of the features it saw while
        playing, it is the constant action this controller would fall back on if ``[z, h]`` did not vary:
        played next to it, what reading its input adds shows as the difference."""
        x = torch.as_tensor(np.asarray(features, dtype=np.float32)).reshape(-1)
        if x.numel() != self.input_dim:
            raise ValueError(f"expected {self.input_dim} features, got {x.numel()}")
        frozen = Controller.from_config(self.config)
        frozen.load_state_dict(self.state_dict())
        first = frozen.net if isinstance(frozen.net, nn.Linear) else frozen.net[0]
        with torch.no_grad():
            first.bias += first.weight @ x
            first.weight.zero_()
        return frozen

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``(B, actions)``: logits (Discrete) or pre-squash values (Box)."""
        return self.net(features)

    @torch.no_grad()
    def act(self, features: torch.Tensor) -> np.ndarray:
        """Actions for a batch of features ``(B, input_dim)``: ``(B,) int64`` or ``(B, *shape)`` in the bounds."""
        out = self.net(features)
        if isinstance(self.action_space, spaces.Discrete):
            return out.argmax(-1).numpy().astype(np.int64) + int(self.action_space.start)
        if self._bounded:
            out = self._low + (torch.tanh(out) + 1) * 0.5 * self._span
        return out.numpy().astype(self.action_space.dtype).reshape(-1, *self.action_space.shape)
