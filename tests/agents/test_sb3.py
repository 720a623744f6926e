"""SB3 baselines behind repgym's agent interface: registry, learning, masks, safe save/load."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import repgym  # noqa: F401
from repgym.agents import AGENTS, load_agent, make_agent
from repgym.agents.sb3 import default_policy

TINY = {"rows": 4, "cols": 4, "colours": 3}


def test_registry_and_errors(tmp_path) -> None:
    assert {"sb3-ppo", "sb3-sac", "sb3-maskable-ppo", "sb3-qrdqn"} <= set(AGENTS)
    with pytest.raises(ValueError, match="unknown agent 'nope'"):
        make_agent("nope", "CartPole-v1")
    with pytest.raises(ValueError, match="not a repgym checkpoint"):
        load_agent(tmp_path)


def test_ppo_learns_cartpole_a_little_and_round_trips(tmp_path) -> None:
    agent = make_agent("sb3-ppo", "CartPole-v1", seed=0, n_steps=256, batch_size=64, n_epochs=4)
    agent.learn(2048)
    assert agent.num_timesteps >= 2048
    agent.save(tmp_path / "ppo")
    meta = json.loads((tmp_path / "ppo" / "agent.json").read_text())
    assert meta["agent"] == "sb3-ppo" and meta["env_id"] == "CartPole-v1" and meta["num_timesteps"] >= 2048
    loaded = load_agent(tmp_path / "ppo")
    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32) * 0.05
    assert np.array_equal(agent.predict(obs)[0], loaded.predict(obs)[0])
    names = list(agent.latent_modules())
    assert any("policy_net" in n for n in names) and any("value_net" in n for n in names)


def test_maskable_ppo_never_clicks_illegally_on_bubble_breaker() -> None:
    env = gym.make("repgym/BubbleBreaker-v0", **TINY)
    agent = make_agent("sb3-maskable-ppo", env, seed=0, n_steps=64, batch_size=32, n_epochs=2)
    agent.learn(128)
    obs, info = env.reset(seed=1)
    for _ in range(30):
        action, _ = agent.predict(obs, deterministic=False, action_masks=info["action_mask"])
        obs, _, terminated, truncated, info = env.step(int(action))
        assert not info["illegal_action"]
        if terminated or truncated:
            break


def test_default_policy_picks_by_space() -> None:
    assert default_policy(gym.spaces.Box(0, 1, (6, 14, 10), np.uint8)) == "MlpPolicy"
    assert default_policy(gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)) == "CnnPolicy"
    assert default_policy(gym.spaces.Box(-1, 1, (4,))) == "MlpPolicy"


@pytest.mark.parametrize(
    ("agent", "env_id", "space"),
    [
        ("sb3-sac", "CartPole-v1", "Box"),
        ("sb3-dqn", "Pendulum-v1", "Discrete"),
        ("sb3-qrdqn", "Pendulum-v1", "Discrete"),
    ],
)
def test_an_algorithm_in_the_wrong_action_space_is_a_clear_error(agent, env_id, space) -> None:
    with pytest.raises(ValueError, match=f"{agent} acts in {space} action spaces; {env_id} has"):
        make_agent(agent, env_id)


def test_making_and_training_leave_the_global_generators_alone_and_stay_reproducible() -> None:
    small = {"seed": 0, "n_steps": 64, "batch_size": 32, "n_epochs": 1, "policy_kwargs": {"net_arch": [8]}}
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    first = make_agent("sb3-ppo", "CartPole-v1", **small)
    second = make_agent("sb3-ppo", "CartPole-v1", **small)
    first.learn(64)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    torch.rand(3), np.random.rand(3)  # the caller draws: the second agent's training does not see it
    second.learn(64)
    for a, b in zip(first.model.policy.parameters(), second.model.policy.parameters(), strict=True):
        assert torch.equal(a, b)


def test_repgym_callbacks_drive_sb3_agents() -> None:
    from repgym.agents.callbacks import Callback

    class Counter(Callback):
        def __init__(self) -> None:
            self.started, self.steps, self.ended = 0, 0, 0

        def on_training_start(self, agent, total_timesteps: int) -> None:
            self.started = total_timesteps

        def on_step(self, agent) -> bool:
            self.steps += 1
            return agent.num_timesteps < 40  # stop SB3 once 40 steps are taken

        def on_training_end(self, agent) -> None:
            self.ended += 1

    agent = make_agent("sb3-a2c", "CartPole-v1", seed=0, n_steps=8)
    counter = Counter()
    agent.learn(1_000, callback=counter)
    assert counter.started == 1_000 and counter.ended == 1 and agent.num_timesteps == 40 and counter.steps == 40
    agent.learn(16, callback=lambda a: None)  # a plain function works too (None: go on)
    assert agent.num_timesteps == 56
