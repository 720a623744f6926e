"""DelayedReward: rewards withheld and paid later, with the episode's return unchanged."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given
from hypothesis import strategies as st

import repgym  # noqa: F401
from repgym.envs.delayed import DelayedReward


class ScriptedRewards(gym.Env):
    """Pays a given list of rewards, one per step; ends (terminated or truncated) after the last."""

    observation_space = spaces.Discrete(1)
    action_space = spaces.Discrete(1)

    def __init__(self, rewards: list[float], truncate: bool) -> None:
        self.rewards, self.truncate = rewards, truncate

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return 0, {}

    def step(self, action):
        self.t += 1
        last = self.t == len(self.rewards)
        return 0, self.rewards[self.t - 1], last and not self.truncate, last and self.truncate, {}


def left_sum(values) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def episode_rewards(env: gym.Env, seed: int = 0, policy=None) -> list[float]:
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    rewards, done = [], False
    while not done:
        action = policy(env, rng) if policy else env.action_space.sample()
        _, r, terminated, truncated, info = env.step(action)
        rewards.append(r)
        done = terminated or truncated
    return rewards


floats = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.lists(floats, min_size=1, max_size=40), st.booleans())
def test_at_end_pays_the_exact_return_once(rewards: list[float], truncate: bool) -> None:
    paid = episode_rewards(DelayedReward(ScriptedRewards(rewards, truncate), at_end=True))
    assert len(paid) == len(rewards) and all(p == 0 for p in paid[:-1])
    assert left_sum(paid) == left_sum(rewards)  # bit for bit


@given(st.lists(st.integers(-100, 100), min_size=1, max_size=40), st.integers(1, 10), st.booleans())
def test_every_k_pays_partial_sums(rewards: list[int], k: int, truncate: bool) -> None:
    env = DelayedReward(ScriptedRewards([float(r) for r in rewards], truncate), every=k)
    paid = episode_rewards(env)
    assert sum(paid) == sum(rewards)
    for t, p in enumerate(paid, start=1):
        if t % k and t != len(rewards):
            assert p == 0
        else:
            start = (t - 1) // k * k
            assert p == sum(rewards[start:t])


@given(st.lists(floats, min_size=1, max_size=40), st.integers(1, 10))
def test_every_k_float_returns_agree_to_rounding(rewards: list[float], k: int) -> None:
    paid = episode_rewards(DelayedReward(ScriptedRewards(rewards, True), every=k))
    assert left_sum(paid) == pytest.approx(left_sum(rewards), rel=1e-9, abs=1e-6)


def masked_random(env: gym.Env, rng: np.random.Generator) -> int:
    return int(rng.choice(np.flatnonzero(env.unwrapped.action_masks())))


@pytest.mark.parametrize("kwargs", [{"at_end": True}, {"every": 3}])
def test_bubble_breaker_return_unchanged_including_truncation(kwargs: dict) -> None:
    # A step limit shorter than the game: the last payment comes on the truncating step.
    plain = gym.make("repgym/BubbleBreaker-v0", max_episode_steps=7)
    wrapped = DelayedReward(gym.make("repgym/BubbleBreaker-v0", max_episode_steps=7), **kwargs)
    raw, paid = episode_rewards(plain, 5, masked_random), episode_rewards(wrapped, 5, masked_random)
    assert len(raw) == len(paid) == 7 and sum(raw) > 0
    assert left_sum(paid) == left_sum(raw)
    if "at_end" in kwargs:
        assert paid[:-1] == [0.0] * 6
    full = episode_rewards(DelayedReward(gym.make("repgym/BubbleBreaker-v0"), **kwargs), 5, masked_random)
    assert left_sum(full) == left_sum(episode_rewards(gym.make("repgym/BubbleBreaker-v0"), 5, masked_random))


def test_withheld_reward_is_reported_and_cleared_on_reset() -> None:
    env = DelayedReward(ScriptedRewards([1.0, 2.0, 3.0, 4.0], False), every=2)
    _, info = env.reset()
    assert info["withheld_reward"] == 0.0
    seen = [env.step(0)[4]["withheld_reward"] for _ in range(3)]
    assert seen == [1.0, 0.0, 3.0]
    _, info = env.reset()
    assert info["withheld_reward"] == 0.0 and env.step(0)[1] == 0.0


@pytest.mark.parametrize("kwargs", [{}, {"every": 2, "at_end": True}, {"every": 0}, {"every": 1.5}, {"every": True}])
def test_bad_arguments_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="every"):
        DelayedReward(ScriptedRewards([1.0], False), **kwargs)
