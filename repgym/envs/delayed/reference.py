"""The two reference policies of every delayed game — optimal (the env's oracle) and uniformly random — and a
function that measures a policy's return and success rate.

```python
from repgym.envs.delayed.reference import evaluate
result = evaluate("repgym/Umbrella-v0", "random", episodes=1000, seed=0, delay=50)
result.success_rate, result.returns.mean()
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from repgym.envs.delayed.base import DelayedGameEnv

Policy = Callable[[DelayedGameEnv, np.ndarray, np.random.Generator], int]
"""``policy(env, obs, rng) -> action``; ``env`` is the unwrapped game, so an oracle may read its hidden state."""


def random_policy(env: DelayedGameEnv, obs: np.ndarray, rng: np.random.Generator) -> int:
    """Uniformly random actions."""
    return int(rng.integers(env.action_space.n))


def optimal_policy(env: DelayedGameEnv, obs: np.ndarray, rng: np.random.Generator) -> int:
    """The game's oracle, :meth:`DelayedGameEnv.optimal_action`."""
    return env.optimal_action()


POLICIES: dict[str, Policy] = {"random": random_policy, "optimal": optimal_policy}


@dataclass
class Evaluation:
    """Per-episode results; each array has shape ``(episodes,)``."""

    returns: np.ndarray  # float64, sum of rewards
    successes: np.ndarray  # bool, info["success"] at the episode's end
    lengths: np.ndarray  # int64, steps

    @property
    def success_rate(self) -> float:
        return float(self.successes.mean())


def evaluate(
    env: str | gym.Env, policy: str | Policy, episodes: int = 100, seed: int = 0, **env_kwargs: Any
) -> Evaluation:
    """Play ``episodes`` episodes of a delayed game (an id or an env) with ``policy`` (``"random"``,
    ``"optimal"`` or a :data:`Policy`); episode ``i`` is reset with seed ``seed + i``."""
    if isinstance(policy, str):
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {sorted(POLICIES)} or a callable, got {policy!r}")
        policy = POLICIES[policy]
    env = gym.make(env, **env_kwargs) if isinstance(env, str) else env
    game = env.unwrapped
    if not isinstance(game, DelayedGameEnv):
        raise ValueError(f"evaluate() plays the delayed games only, got {type(game).__name__}")
    rng = np.random.default_rng(seed)
    returns, successes, lengths = np.zeros(episodes), np.zeros(episodes, bool), np.zeros(episodes, np.int64)
    for i in range(episodes):
        obs, info = env.reset(seed=seed + i)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(game, obs, rng))
            returns[i] += reward
            lengths[i] += 1
            done = terminated or truncated
        successes[i] = info["success"]
    return Evaluation(returns, successes, lengths)
