"""Tiny envs with known answers for the DQN tests: a two-armed bandit and a short chain."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class TwoArmedBandit(gym.Env):
    """One state; arm ``a`` pays ``means[a]`` plus Gaussian noise ``noise``; every episode is one pull."""

    def __init__(self, means: tuple[float, float] = (0.2, 0.8), noise: float = 0.1) -> None:
        self.means, self.noise = np.asarray(means), noise
        self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(1, np.float32), {}

    def step(self, action):
        reward = float(self.means[int(action)] + self.noise * self.np_random.normal())
        return np.ones(1, np.float32), reward, True, False, {}


class Chain(gym.Env):
    """States ``0..length-1`` (one-hot), start at 0; action 1 moves right, 0 moves left (or stays at 0). Reaching
    the last state pays 1 and ends the episode; 20 steps truncate. Optimal: always right, ``Q*(s, right) =
    gamma ** (length - 2 - s)``."""

    def __init__(self, length: int = 4, max_steps: int = 20) -> None:
        self.length, self.max_steps = length, max_steps
        self.observation_space = spaces.Box(0.0, 1.0, (length,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.state, self.t = 0, 0

    def _obs(self) -> np.ndarray:
        return np.eye(self.length, dtype=np.float32)[self.state]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state, self.t = 0, 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        self.state = min(self.state + 1, self.length - 1) if int(action) == 1 else max(self.state - 1, 0)
        done = self.state == self.length - 1
        return self._obs(), float(done), done, self.t >= self.max_steps and not done, {}
