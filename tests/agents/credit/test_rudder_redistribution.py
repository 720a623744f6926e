"""RUDDER's return decomposition: the credit lands on the decisive step, the predictor learns, the sums are right."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import repgym  # noqa: F401  (registers the repgym ids)
from repgym.agents import make_agent
from repgym.agents.credit.episodes import Episode, EpisodeRecorder, EpisodeStore
from repgym.agents.credit.networks import Credit
from repgym.agents.credit.redistribution import pad_episodes, redistribute

UMBRELLA = {"delay": 10, "distractor_reward": 0.0}


def random_episodes(env_id: str, env_kwargs: dict, n: int, first_seed: int = 10_000) -> list[Episode]:
    """``n`` episodes of uniformly random actions (seeded), recorded whole."""
    env = gym.make(env_id, **env_kwargs)
    rng = np.random.default_rng(first_seed)
    episodes = []
    for i in range(n):
        recorder = EpisodeRecorder()
        obs, _ = env.reset(seed=first_seed + i)
        recorder.start(obs, None)
        done = False
        while not done:
            action = int(rng.integers(env.action_space.n))
            obs, reward, terminated, truncated, _ = env.step(action)
            recorder.step(action, reward, obs, None)
            done = terminated or truncated
        episodes.append(recorder.finish())
    return episodes


def test_the_umbrella_choice_step_gets_the_credit_for_the_outcome() -> None:
    """Umbrella, delay 10, fixed seed: after 3,000 steps, the reward redistributed to the choice step explains most
    of the outcome (+1 / -1) on random-action episodes; without redistribution it all sits 10 steps later."""
    agent = make_agent("rudder", "repgym/Umbrella-v0", env_kwargs=UMBRELLA, seed=0)
    agent.learn(3_000)
    episodes = random_episodes("repgym/Umbrella-v0", UMBRELLA, 200)
    outcome = np.array([np.sign(e.rewards[-1]) for e in episodes])
    rewards = np.stack(agent.redistribution(episodes))  # (200, 11)
    credit_for_outcome = np.abs((rewards * outcome[:, None]).mean(axis=0))  # per step
    assert credit_for_outcome[0] / credit_for_outcome.sum() > 0.8
    assert credit_for_outcome[0] == pytest.approx(1.0, abs=0.15)
    # Return-equivalent: each episode's redistributed rewards sum to its return.
    np.testing.assert_allclose(rewards.sum(axis=1), [e.episode_return for e in episodes], atol=1e-4)


def test_the_return_predictor_loss_falls_with_training() -> None:
    """On held-out random episodes (the distractors left out: their noise is a floor no predictor goes below)."""
    episodes = random_episodes("repgym/Umbrella-v0", UMBRELLA, 100)
    agent = make_agent("rudder", "repgym/Umbrella-v0", env_kwargs=UMBRELLA, seed=1)
    before = agent.predictor_loss(episodes)
    agent.learn(1_500)
    after = agent.predictor_loss(episodes)
    assert agent.n_predictor_updates > 400
    assert after < 0.5 * before


def test_redistribute_moves_the_return_without_changing_it() -> None:
    """Differences of the predictions, plus the unexplained return at each episode's last step, 0 past its end."""
    episodes = [
        Episode(np.zeros((4, 1), np.float32), np.zeros(3, np.int64), np.array([0, 0, 2], np.float32), None),
        Episode(np.zeros((3, 1), np.float32), np.zeros(2, np.int64), np.array([1, -1], np.float32), None),
    ]
    batch = pad_episodes(episodes, torch.device("cpu"))
    predictions = torch.tensor([[1.5, 1.5, 2.5], [0.5, 0.0, 9.0]])
    rewards = redistribute(predictions, Credit()(predictions), batch)
    torch.testing.assert_close(rewards, torch.tensor([[1.5, 0.0, 0.5], [0.5, -0.5, 0.0]]))


def test_credit_continues_from_the_previous_prediction() -> None:
    predictions = torch.tensor([[2.0], [3.0]])
    torch.testing.assert_close(Credit()(predictions, torch.tensor([1.0, 3.0])), torch.tensor([[1.0], [0.0]]))


def test_the_store_keeps_whole_episodes_and_round_trips() -> None:
    store = EpisodeStore(capacity=5)
    for length in (2, 3, 2):
        store.add(Episode(np.arange(length + 1, dtype=np.float32)[:, None], np.ones(length, np.int64),
                          np.full(length, 0.5, np.float32), None))  # fmt: skip
    assert [len(e) for e in store.episodes] == [3, 2] and store.transitions == 5
    copy = EpisodeStore(capacity=5)
    copy.load_state_dict(store.state_dict())
    for mine, theirs in zip(store.episodes, copy.episodes, strict=True):
        assert np.array_equal(mine.obs, theirs.obs) and np.array_equal(mine.actions, theirs.actions)
        assert np.array_equal(mine.rewards, theirs.rewards) and mine.error == theirs.error
    with pytest.raises(ValueError, match="empty"):
        EpisodeStore(3).sample(np.random.default_rng(0), 2, 1.0)
