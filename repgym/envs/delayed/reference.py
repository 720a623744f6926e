"""The two reference policies of every delayed game: optimal (the env's oracle) and uniformly random.

They are played like any policy, through :func:`repgym.runs.play` (the benchmark's baseline players wrap them)::

    from repgym.benchmark.baseline_policies import BaselineAgent
    env = gym.make("repgym/Umbrella-v0", delay=50)
    play(BaselineAgent("optimal", env), env, EvalProtocol(1000)).success_rate
"""

from __future__ import annotations

from collections.abc import Callable

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
