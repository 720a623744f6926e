"""evaluate_agent with continuous actions (float arrays reach the env) and discrete ones (Python ints)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import repgym  # noqa: F401  (registers the ids)
from repgym.agents import make_agent
from repgym.agents.base import Agent
from repgym.runs import EvalProtocol, env_action, play

REACH = "repgym/TwoLinkReach-v0"


class FixedPolicy(Agent):
    """Acts by ``policy(observation)``; nothing to learn or save."""

    name = "fixed-policy"

    def __init__(self, policy) -> None:
        self.policy = policy

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> Agent:
        return self

    def predict(self, observation, state=None, episode_start=None, deterministic=True, action_masks=None):
        return self.policy(observation), None

    def save(self, path):
        raise NotImplementedError

    @classmethod
    def load(cls, path, env=None):
        raise NotImplementedError


class RecordActions(gym.Wrapper):
    """Keeps every action passed to ``step``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.actions: list[Any] = []

    def step(self, action):
        self.actions.append(action)
        return self.env.step(action)


def manual_returns(env: gym.Env, agent: Agent, episodes: int, seed: int) -> list[float]:
    """Returns of playing ``agent`` by hand, episode ``i`` from ``reset(seed=seed + i)``."""
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            action, _ = agent.predict(obs)
            obs, reward, terminated, truncated, _ = env.step(np.asarray(action, np.float32))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


def test_continuous_actions_reach_the_env_as_float_arrays() -> None:
    # a damping controller: torque against each joint's velocity (obs[4:6]), fractional commands
    agent = FixedPolicy(lambda obs: np.clip(-0.3 * obs[4:6], -1.0, 1.0).astype(np.float32))
    env = RecordActions(gym.make(REACH))
    result = play(agent, env, EvalProtocol(2, first_seed=3))
    assert result.lengths.tolist() == [200, 200]
    first = env.actions[0]
    assert isinstance(first, np.ndarray) and first.dtype == np.float32 and first.shape == (2,)
    assert any(0.0 < abs(x) < 1.0 for a in env.actions for x in a)  # fractions survive (no int cast)
    expected = manual_returns(gym.make(REACH), agent, episodes=2, seed=3)
    np.testing.assert_allclose(result.returns, expected, rtol=0, atol=1e-9)


def test_batched_or_float64_continuous_actions_take_the_space_shape_and_dtype() -> None:
    space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action = env_action(np.array([[0.25, -0.5]]), space)  # (1, 2) float64, as from a batch of one
    assert action.shape == (2,) and action.dtype == np.float32 and action.tolist() == [0.25, -0.5]
    with pytest.raises(ValueError, match="3 entries"):
        env_action(np.zeros(3), space)


def test_discrete_actions_stay_python_ints() -> None:
    agent = FixedPolicy(lambda obs: np.array(1 if obs[2] > 0 else 0))  # push toward the pole's lean
    env = RecordActions(gym.make("CartPole-v1"))
    result = play(agent, env, EvalProtocol(2, first_seed=0))
    assert all(type(a) is int for a in env.actions) and set(env.actions) == {0, 1}
    assert result.mean > 25  # the lean-following policy balances far longer than a random one (~22 steps)
    assert env_action(np.array([2]), gym.spaces.Discrete(3)) == 2


def test_sb3_sac_evaluates_on_a_continuous_body() -> None:
    torch.set_num_threads(1)
    agent = make_agent(
        "sb3-sac", REACH, seed=0, learning_starts=100, batch_size=32, policy_kwargs={"net_arch": [16, 16]}
    )
    agent.learn(300)
    env = RecordActions(gym.make(REACH))
    result = play(agent, env, EvalProtocol(2, first_seed=5))
    assert result.returns.shape == (2,) and np.isfinite(result.returns).all()
    assert env.actions[0].dtype == np.float32 and env.actions[0].shape == (2,)
    expected = manual_returns(gym.make(REACH), agent, episodes=2, seed=5)
    np.testing.assert_allclose(result.returns, expected, rtol=0, atol=1e-9)
