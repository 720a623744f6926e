"""SB3 agents' ``initial_action_bias`` (the mean-action layer starts at it, checkpoints keep it, entries declare it)
and ``train_freq`` lists (JSON and TOML have no tuples)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import repgym  # noqa: F401
from repgym.agents import load_agent, make_agent
from repgym.agents.hyperparams import declared_hyperparameters, read_entries


def small() -> dict:
    """Fresh tiny-network settings for each agent (SB3 writes into the ``policy_kwargs`` it is given)."""
    return {"policy_kwargs": {"net_arch": [8]}}


BIAS = [0.0, 0.5, -2.5]


def test_sac_starts_with_the_bias_and_explores_around_it() -> None:
    agent = make_agent("sb3-sac", "repgym/Thrower-v0", seed=0, initial_action_bias=BIAS, **small())
    assert torch.equal(agent.model.actor.mu.bias, torch.tensor(BIAS))
    obs = np.random.default_rng(0).normal(size=(256, 15)).astype(np.float32) * 0.5
    actions, _ = agent.predict(obs, deterministic=False)
    plain, _ = make_agent("sb3-sac", "repgym/Thrower-v0", seed=0, **small()).predict(obs, deterministic=False)
    assert (actions[:, 2] > 0).mean() < 0.05 < (plain[:, 2] > 0).mean()  # tanh(-2.5 + noise) is rarely > 0
    assert abs(np.median(actions[:, 2]) - np.tanh(-2.5)) < 0.1


def test_the_bias_is_saved_and_a_loaded_agent_keeps_its_trained_weights(tmp_path) -> None:
    agent = make_agent("sb3-sac", "repgym/Thrower-v0", seed=0, initial_action_bias=BIAS, **small())
    with torch.no_grad():
        agent.model.actor.mu.bias.copy_(torch.tensor([0.25, -0.25, -1.0]))  # as if training had moved it
    agent.save(tmp_path / "sac")
    saved = json.loads((tmp_path / "sac" / "agent.json").read_text())["hyperparameters"]
    assert saved["initial_action_bias"] == BIAS and saved["policy_kwargs"]["net_arch"] == [8]
    loaded = load_agent(tmp_path / "sac")
    assert torch.equal(loaded.model.actor.mu.bias, torch.tensor([0.25, -0.25, -1.0]))
    assert loaded.hyperparameters["initial_action_bias"] == BIAS
    obs = np.random.default_rng(1).normal(size=(16, 15)).astype(np.float32)
    assert np.array_equal(agent.predict(obs)[0], loaded.predict(obs)[0])


def test_td3_and_ppo_get_it_on_their_mean_layers() -> None:
    td3 = make_agent("sb3-td3", "repgym/Thrower-v0", seed=0, initial_action_bias=BIAS, **small())
    for actor in (td3.model.actor, td3.model.actor_target):
        assert torch.equal([m for m in actor.mu if isinstance(m, torch.nn.Linear)][-1].bias, torch.tensor(BIAS))
    ppo = make_agent("sb3-ppo", "Pendulum-v1", seed=0, initial_action_bias=[0.75], n_steps=64, **small())
    assert torch.equal(ppo.model.policy.action_net.bias, torch.tensor([0.75]))


def test_without_it_nothing_changes() -> None:
    first = make_agent("sb3-sac", "repgym/Thrower-v0", seed=0, **small())
    second = make_agent("sb3-sac", "repgym/Thrower-v0", seed=0, initial_action_bias=None, **small())
    assert "initial_action_bias" not in first.hyperparameters
    assert torch.equal(first.model.actor.mu.bias, second.model.actor.mu.bias)


@pytest.mark.parametrize(
    ("agent", "env_id", "bias", "match"),
    [
        ("sb3-sac", "repgym/Thrower-v0", [0.0, -1.0], "list of 3 finite numbers"),
        ("sb3-sac", "repgym/Thrower-v0", [0.0, 0.0, float("nan")], "list of 3 finite numbers"),
        ("sb3-sac", "repgym/Thrower-v0", "low", "list of 3 finite numbers"),
        ("sb3-ppo", "CartPole-v1", [0.0], "needs a Box action space"),
    ],
)
def test_a_wrong_bias_is_a_clear_error(agent, env_id, bias, match) -> None:
    with pytest.raises(ValueError, match=match):
        make_agent(agent, env_id, seed=0, initial_action_bias=bias, **small())


def test_tuned_entries_may_set_it_and_are_checked(tmp_path) -> None:
    assert "initial_action_bias" in declared_hyperparameters("sb3-sac")
    path = tmp_path / "sb3-sac.toml"
    path.write_text('["repgym/Thrower-v0"]\nn_timesteps = 10\ntuned = "test"\ninitial_action_bias = [0, 0, -2.5]\n')
    assert read_entries(path)[0].hyperparameters == {"initial_action_bias": [0, 0, -2.5]}
    path.write_text('["repgym/Thrower-v0"]\nn_timesteps = 10\ntuned = "test"\ninitial_action_bias = "low"\n')
    with pytest.raises(ValueError, match="initial_action_bias = 'low' is a str; sb3-sac expects list"):
        read_entries(path)


def test_a_train_freq_written_as_a_list_reaches_sb3_as_its_tuple() -> None:
    agent = make_agent("sb3-sac", "repgym/Thrower-v0", seed=0, train_freq=[1, "episode"], gradient_steps=-1, **small())
    assert agent.model.train_freq.frequency == 1 and agent.model.train_freq.unit.value == "episode"
    assert agent._save_hyperparameters()["train_freq"] == [1, "episode"]  # stored as JSON has it


def test_sb3_does_not_write_into_the_callers_policy_kwargs(tmp_path) -> None:
    policy_kwargs = {"net_arch": [8], "log_std_init": -1.0}
    agent = make_agent("sb3-sac", "repgym/Thrower-v0", seed=0, use_sde=True, policy_kwargs=policy_kwargs)
    assert policy_kwargs == {"net_arch": [8], "log_std_init": -1.0}  # SB3 adds use_sde to its own copy
    agent.save(tmp_path / "sde")
    saved = json.loads((tmp_path / "sde" / "agent.json").read_text())["hyperparameters"]
    assert saved["policy_kwargs"] == policy_kwargs and load_agent(tmp_path / "sde").model.use_sde
