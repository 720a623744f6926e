"""Evaluation carries a recurrent agent's memory through an episode and resets it at each episode start."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from repgym.runs import EvalProtocol, play


class CountingAgent:
    """Its 'memory' counts the steps since the episode started; it records what it saw on every call."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, bool]] = []

    def predict(self, obs, state=None, episode_start=None, deterministic=True, action_masks=None):
        start = bool(np.asarray(episode_start).reshape(-1)[0])
        count = 0 if start or state is None else state
        self.seen.append((count, start))
        return np.array(0), count + 1


def _check_memory(seen: list[tuple[int, bool]], episodes: int) -> None:
    starts = [i for i, (_, start) in enumerate(seen) if start]
    assert len(starts) == episodes and starts[0] == 0
    for begin, end in zip(starts, starts[1:] + [len(seen)], strict=True):
        assert [count for count, _ in seen[begin:end]] == list(range(end - begin))  # memory carried, then reset


def test_evaluate_agent_carries_recurrent_state() -> None:
    agent = CountingAgent()
    result = play(agent, gym.make("CartPole-v1"), EvalProtocol(3, first_seed=0))
    assert len(agent.seen) == int(result.lengths.sum())
    _check_memory(agent.seen, 3)


def test_recurrent_state_is_carried_also_under_epsilon() -> None:
    agent = CountingAgent()
    play(agent, gym.make("CartPole-v1"), EvalProtocol(2, epsilon=0.5))
    _check_memory(agent.seen, 2)
