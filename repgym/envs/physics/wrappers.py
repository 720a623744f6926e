"""``DiscretizeActions``: a finite set of actions for a continuous-action env, for the DQN family."""

from __future__ import annotations

import math
from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

MAX_ACTIONS = 4096  # beyond this, a Discrete space over the grid of all joints is unreasonable for a Q-network


class DiscretizeActions(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """Each action dimension takes one of ``bins`` evenly spaced values from its low to its high bound.

    With ``bins=3`` on a ``Box(-1, 1, (2,))`` env, each joint's command is one of ``-1, 0, 1``. The wrapped action
    space is ``Discrete(prod(bins))`` over every combination (what SB3's DQN and QR-DQN accept): action ``k``
    chooses bin ``np.unravel_index(k, bins)`` — the last dimension varies fastest — so with 3 bins on 2 joints,
    action 0 is ``(-1, -1)``, 1 is ``(-1, 0)``, 4 is ``(0, 0)`` and 8 is ``(1, 1)``. With
    ``multi_discrete=True`` it is ``MultiDiscrete(bins)``: one bin index per dimension. An odd number of bins
    includes each range's midpoint (zero torque for a symmetric range). ``wrapper.values[i]`` holds dimension
    ``i``'s values and ``wrapper.table`` ``(n_actions, dims)`` every combination.

    Args:
        env: an env with a 1-D ``Box`` action space with finite bounds.
        bins: values per dimension (>= 2): one int for all, or one per dimension.
        multi_discrete: expose ``MultiDiscrete(bins)`` instead of ``Discrete(prod(bins))``.

    A bin index out of range, or of the wrong shape, raises ``ValueError``.
    """

    def __init__(self, env: gym.Env, bins: int | Sequence[int] = 3, multi_discrete: bool = False) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, bins=bins, multi_discrete=multi_discrete)
        gym.ActionWrapper.__init__(self, env)
        box = env.action_space
        if not isinstance(box, spaces.Box) or len(box.shape) != 1:
            raise ValueError(f"DiscretizeActions needs a 1-D Box action space, got {box}")
        if not (np.isfinite(box.low).all() and np.isfinite(box.high).all()):
            raise ValueError(f"DiscretizeActions needs finite action bounds, got low={box.low}, high={box.high}")
        dims = box.shape[0]
        counts = [bins] * dims if isinstance(bins, int | np.integer) else list(bins)
        if len(counts) != dims or not all(isinstance(n, int | np.integer) and n >= 2 for n in counts):
            raise ValueError(f"bins must be an int >= 2 or {dims} ints >= 2 (one per action dimension), got {bins!r}")
        self.bins = tuple(int(n) for n in counts)
        self.values = [
            np.linspace(lo, hi, n, dtype=box.dtype) for lo, hi, n in zip(box.low, box.high, self.bins, strict=True)
        ]
        self.multi_discrete = bool(multi_discrete)
        n_actions = math.prod(self.bins)
        if self.multi_discrete:
            self.action_space = spaces.MultiDiscrete(self.bins)
        elif n_actions > MAX_ACTIONS:
            raise ValueError(
                f"bins {self.bins} make {n_actions} discrete actions (more than {MAX_ACTIONS}); use fewer bins or "
                "multi_discrete=True"
            )
        else:
            self.action_space = spaces.Discrete(n_actions)
        grids = np.meshgrid(*self.values, indexing="ij")
        self.table = np.stack([g.reshape(-1) for g in grids], axis=1)  # (n_actions, dims), row k = action k

    def action(self, action) -> np.ndarray:
        """The continuous action ``(dims,)`` for a bin index (Discrete) or one index per dimension (MultiDiscrete)."""
        index = np.asarray(action)
        if not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"action must be integer bin indices, got {action!r}")
        if self.multi_discrete:
            if index.shape != (len(self.bins),) or (index < 0).any() or (index >= self.bins).any():
                raise ValueError(f"action must be {len(self.bins)} bin indices with index i in 0..bins[i]-1, "
                                 f"bins={self.bins}, got {action!r}")  # fmt: skip
            return np.array([v[i] for v, i in zip(self.values, index.tolist(), strict=True)], dtype=self.table.dtype)
        if index.size != 1 or not 0 <= int(index.reshape(())) < len(self.table):
            raise ValueError(f"action must be one integer in 0..{len(self.table) - 1}, got {action!r}")
        return self.table[int(index.reshape(()))].copy()
