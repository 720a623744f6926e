"""The look-ahead agent behind repgym's agent interface: learning, acting, saving, searching."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import repgym  # noqa: F401  (registers the ids)
from repgym.agents import AGENTS, load_agent, make_agent
from repgym.agents.lookahead import LookaheadAgent, load_value
from repgym.benchmark.baseline_stats import game_keys
from repgym.envs.bubble import rules

TINY = {"rows": 6, "cols": 6, "colours": 3}
SMALL_NET = {
    "games": 16,
    "channels": 16,
    "blocks": 2,
    "hidden": 32,
    "batch_size": 64,
    "learning_starts": 500,
    "exploration_steps": 2000,
}


def lookahead_scores(agent: LookaheadAgent, seeds: np.ndarray) -> np.ndarray:
    """Scores of the deterministic one-step look-ahead on the boards the env shows after ``reset(seed=s)``."""
    config = agent.config
    state = rules.initial_state(game_keys(seeds), config)
    active = np.arange(seeds.size)
    while active.size:
        sub = state.index(active)
        result = rules.step(sub, agent.predict(sub.board[:, None] == np.arange(4)[None, :, None, None])[0], config)
        assert not result.illegal.any()
        state.board[active], state.score[active] = result.state.board, result.state.score
        active = active[~result.terminal]
    return state.score


def test_value_training_learns_on_a_tiny_board_with_a_fixed_seed() -> None:
    """Self-play lifts the look-ahead agent's score well above the same agent untrained (same seed, same boards)."""
    seeds = np.arange(1000, 1100)
    untrained = make_agent("lookahead", "repgym/BubbleBreaker-v0", env_kwargs=TINY, seed=0, **SMALL_NET)
    before = lookahead_scores(untrained, seeds).mean()
    agent = make_agent("lookahead", "repgym/BubbleBreaker-v0", env_kwargs=TINY, seed=0, **SMALL_NET)
    agent.learn(4000)
    after = lookahead_scores(agent, seeds).mean()
    assert agent.num_timesteps >= 4000 and agent._trainer.updates > 100
    assert after > 1.1 * before, (before, after)


def test_registry_predict_save_load_and_latents(tmp_path) -> None:
    assert "lookahead" in AGENTS
    env = gym.make("repgym/BubbleBreaker-v0", **TINY)
    agent = make_agent("lookahead", env, seed=1, target="mc", **SMALL_NET)
    agent.learn(600, callback=lambda a: a.num_timesteps < 300)  # a function callback stops training early
    assert 300 <= agent.num_timesteps < 600
    obs, info = env.reset(seed=3)
    action, state = agent.predict(obs)
    assert np.ndim(action) == 0 and info["action_mask"][action] and state is None
    batch = np.stack([env.reset(seed=s)[0] for s in range(5)])
    assert agent.predict(batch)[0].shape == (5,)
    agent.save(tmp_path / "la")
    meta = json.loads((tmp_path / "la" / "agent.json").read_text())
    assert meta["agent"] == "lookahead" and meta["hyperparameters"]["target"] == "mc" and meta["value_scale"] > 0
    loaded = load_agent(tmp_path / "la")
    assert np.array_equal(loaded.predict(batch)[0], agent.predict(batch)[0])
    assert loaded.num_timesteps == agent.num_timesteps
    loaded.learn(100)  # training resumes
    assert list(agent.latent_modules()) == ["value.conv0", "value.conv1", "value.conv2", "value.fc", "value.out"]
    value = load_value(tmp_path / "la")
    assert value.scale == agent.value.scale and value.config == agent.config
    with pytest.raises(ValueError, match="unknown lookahead hyperparameter"):
        make_agent("lookahead", env, gamma=0.9)
    with pytest.raises(ValueError, match="Bubble Breaker / SameGame"):
        make_agent("lookahead", "CartPole-v1")


def test_board_observations_and_the_vector_env() -> None:
    env = gym.make("repgym/SameGame-v0", rows=6, cols=6, obs_mode="board")
    agent = make_agent("lookahead", env, seed=0, channels=8, blocks=1, hidden=8)
    obs, info = env.reset(seed=0)
    assert info["action_mask"][agent.predict(obs)[0]]
    vec = gym.make_vec("repgym/BubbleBreaker-v0", num_envs=4, vectorization_mode="vector_entry_point", **TINY)
    agent = make_agent("lookahead", vec, seed=0, channels=8, blocks=1, hidden=8)
    obs, info = vec.reset(seed=0)
    actions, _ = agent.predict(obs)
    assert info["action_mask"][np.arange(4), actions].all()
    with pytest.raises(ValueError, match="expected 'planes' observations"):
        agent.predict(np.zeros((3, 6, 6)))


def test_continuous_variant_learns_with_unknown_columns() -> None:
    env = gym.make("repgym/BubbleBreakerContinuous-v0", max_new_columns=3, **TINY)
    agent = make_agent("lookahead", env, seed=0, **{**SMALL_NET, "learning_starts": 100})
    agent.learn(400)
    assert agent._trainer.updates > 0 and agent.value.net.conv0[0].in_channels == 3 + 2 + 1  # + grey + unknown
    obs, info = env.reset(seed=0)
    done = False
    while not done:
        action, _ = agent.predict(obs)
        obs, _, terminated, truncated, info = env.step(action)
        assert not info["illegal_action"]
        done = terminated or truncated


def test_search_agent_plays_its_searched_line_through_the_env() -> None:
    env = gym.make("repgym/SameGame-v0", rows=8, cols=8, colours=3)
    agent = make_agent("lookahead", env, seed=0, search="mcts", search_time=0.3, channels=8, blocks=1, hidden=8)
    obs, info = env.reset(seed=0)
    first, _ = agent.predict(obs)
    planned = [move for _, move in agent._plan]
    total, done, played = 0.0, False, []
    action = first
    while not done:
        played.append(int(action))
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        done = terminated or truncated
        if not done:
            action, _ = agent.predict(obs)
    assert played == [int(first), *planned]  # no second search: the game followed the plan


def test_making_and_training_leave_the_global_torch_generator_alone() -> None:
    state = torch.random.get_rng_state()
    tiny_net = {"channels": 4, "blocks": 1, "hidden": 8, "games": 2, "learning_starts": 10, "batch_size": 8}
    agent = make_agent(
        "lookahead", gym.make("repgym/BubbleBreaker-v0", **TINY), seed=0, calibration_games=4, **tiny_net
    )
    agent.learn(40)
    assert agent._trainer.updates > 0 and torch.equal(torch.random.get_rng_state(), state)
