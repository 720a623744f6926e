"""The RUDDER agent behind repgym's interface: every delayed game, DelayedReward, save/load/resume, the command line."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import repgym  # noqa: F401  (registers the repgym ids)
from repgym.agents import load_agent, make_agent
from repgym.envs.delayed.wrappers import DelayedReward
from repgym.runs import Checkpoint, EnvSpec, EvalProtocol, play

SMALL = {"learning_starts": 100, "batch_size": 16, "lstm_hidden": 16, "encoder_arch": [16], "q_arch": [16],
         "refresh_interval": 100}  # fmt: skip


@pytest.mark.parametrize(
    ("env_id", "env_kwargs"),
    [
        ("repgym/KeyToDoor-v0", {"delay": 3}),
        ("repgym/Umbrella-v0", {"delay": 3}),
        ("repgym/LaggedControl-v0", {"delay": 2, "size": 4}),
        ("repgym/HiddenSequence-v0", {"delay": 2}),
        ("repgym/Umbrella-v0", {"delay": 3, "obs_mode": "pixels"}),
    ],
)
def test_it_trains_and_plays_every_delayed_game(env_id, env_kwargs) -> None:
    hyper = {**SMALL, "cnn_channels": [4, 8, 8], "cnn_hidden": 16} if env_kwargs.get("obs_mode") == "pixels" else SMALL
    agent = make_agent("rudder", env_id, env_kwargs=env_kwargs, seed=0, **hyper)
    agent.learn(300)
    assert agent.num_timesteps == 300 and agent.n_episodes > 0 and agent.n_updates > 0
    result = play(agent, EnvSpec(env_id, env_kwargs), EvalProtocol(episodes=2))
    assert len(result.returns) == 2 and result.successes is not None


def test_it_learns_through_a_delayed_reward_wrapper() -> None:
    env = DelayedReward(gym.make("CartPole-v1", max_episode_steps=50), at_end=True)
    agent = make_agent("rudder", env, seed=0, **SMALL)
    agent.learn(300)
    # the store holds the wrapper's rewards: everything paid at the end
    assert all(np.count_nonzero(e.rewards) == 1 for e in agent.store.episodes)


def test_predict_threads_the_recurrent_state_and_exposes_memory_and_credit() -> None:
    agent = make_agent("rudder", "repgym/Umbrella-v0", env_kwargs={"delay": 3}, seed=0, **SMALL)
    obs = np.array([1.0, 0.0, 0.0], np.float32)
    action, state = agent.predict(obs)
    assert np.ndim(action) == 0 and [s.shape for s in state] == [(1, 1, 16), (1, 1, 16), (1, 1, 1), (1, 1, 0)]
    batch = np.stack([obs, obs])
    actions, batch_state = agent.predict(batch, state=tuple(np.concatenate([s, s], axis=1) for s in state),
                                         episode_start=np.array([True, False]))  # fmt: skip
    assert actions.shape == (2,) and batch_state[0].shape == (1, 2, 16)
    fresh, _ = agent.predict(batch[:1], state=None)
    assert np.allclose(batch_state[0][:, :1], agent.predict(batch[:1])[1][0])  # episode_start resets that row
    assert fresh.shape == (1,)
    seen = {}
    modules = agent.latent_modules()
    assert {"memory", "credit", "return_prediction"} <= set(modules)
    handle = modules["credit"].register_forward_hook(lambda m, a, o: seen.setdefault("credit", o))
    agent.predict(obs)
    handle.remove()
    assert seen["credit"].shape == (1, 1)
    with pytest.raises(ValueError, match="state must be"):
        agent.predict(obs, state=(np.zeros((1, 2, 16)), np.zeros((1, 2, 16)), np.zeros((1, 2, 1))))


def test_save_load_gives_identical_predictions_and_resume_continues_exactly(tmp_path) -> None:
    agent = make_agent("rudder", "repgym/LaggedControl-v0", env_kwargs={"delay": 2, "size": 4}, seed=3, **SMALL)
    agent.learn(400)
    agent.save(tmp_path / "a")
    loaded = load_agent(tmp_path / "a")
    assert loaded.name == "rudder" and loaded.num_timesteps == 400
    rng = np.random.default_rng(0)
    observations = rng.integers(0, 4, size=(6, 4)).astype(np.float32)
    mine = theirs = None
    for obs in observations:  # one episode, step by step, through the recurrent state
        a, mine = agent.predict(obs, mine)
        b, theirs = loaded.predict(obs, theirs)
        assert a == b and all(np.array_equal(x, y) for x, y in zip(mine, theirs, strict=True))
    agent.learn(300)
    loaded.learn(300)
    for key, value in agent.q_net.state_dict().items():
        assert torch.equal(value, loaded.q_net.state_dict()[key]), key
    for key, value in agent.averaged_predictor.state_dict().items():
        assert torch.equal(value, loaded.averaged_predictor.state_dict()[key]), key
    assert agent.n_updates == loaded.n_updates and len(agent.store) == len(loaded.store)


def test_bad_input_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        make_agent("rudder", "repgym/Umbrella-v0", nope=1)
    with pytest.raises(ValueError, match="vector env"):
        make_agent("rudder", gym.make_vec("repgym/Umbrella-v0", num_envs=2))
    with pytest.raises(ValueError, match="Discrete"):
        make_agent("rudder", "Pendulum-v1")
    with pytest.raises(ValueError, match="lstm_hidden must be a positive integer"):
        make_agent("rudder", "repgym/Umbrella-v0", lstm_hidden=0)
    agent = make_agent("rudder", "repgym/Umbrella-v0", seed=0, **SMALL)
    with pytest.raises(ValueError, match="observation must have shape"):
        agent.predict(np.zeros(5, np.float32))


def test_train_eval_and_analyze_from_the_command_line(tmp_path, capsys) -> None:
    from repgym.analysis.tidy import Table
    from repgym.cli import main

    out = tmp_path / "run"
    settings = [part for key, value in SMALL.items() for part in ("--set", f"{key}={value}")]
    assert main(["train", "rudder", "repgym/KeyToDoor-v0", "--env-set", "delay=3", "--steps", "400", "--seed", "0",
                 "--out", str(out), "--checkpoint-every", "200", "--eval-episodes", "2", "--no-tuned",
                 *settings]) == 0  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agent"] == "rudder" and summary["steps"] == 400
    assert (out / "checkpoint" / "replay.pt").is_file()
    assert Checkpoint.read(out / "checkpoint").meta["num_timesteps"] == 400
    capsys.readouterr()
    assert main(["eval", str(out / "checkpoint"), "--episodes", "3"]) == 0
    assert "rudder on repgym/KeyToDoor-v0" in capsys.readouterr().out
    assert main(["analyze", str(out / "checkpoint"), "--states", "60", "--episodes", "1", "--out",
                 str(tmp_path / "analysis"), "--only", "probes"]) == 0  # fmt: skip
    table = Table.read_json(tmp_path / "analysis" / "table.json")
    layers = {r.layer for r in table.filter(analyzer="probe")}
    assert {"memory", "memory.h", "memory.c", "credit", "return_prediction"} <= layers


@pytest.mark.parametrize("rate", [0.0, 0.9])
def test_greedy_actions_come_from_the_running_average_of_the_q_weights(rate) -> None:
    """After each Q step the acting net moves (1 - rate) of the way to the trained one (rate 0: it is the trained
    one); exploration acts with the trained net, greedy predict with the average."""
    agent = make_agent("rudder", "repgym/Umbrella-v0", env_kwargs={"delay": 2}, seed=0, q_averaging=rate, **SMALL)
    agent.learn(SMALL["learning_starts"] + 40)
    assert agent.n_updates > 0
    trained = torch.cat([p.detach().flatten() for p in agent.q_net.parameters()])
    averaged = torch.cat([p.detach().flatten() for p in agent.averaged_q.parameters()])
    if rate == 0.0:
        assert torch.equal(trained, averaged)
    else:
        assert not torch.equal(trained, averaged)
        before = averaged.clone()
        agent._train_q(1)
        trained = torch.cat([p.detach().flatten() for p in agent.q_net.parameters()])
        averaged = torch.cat([p.detach().flatten() for p in agent.averaged_q.parameters()])
        assert torch.allclose(averaged, rate * before + (1 - rate) * trained, atol=1e-6)
    assert agent.latent_modules()["q.head"] is agent.averaged_q.head
    with pytest.raises(ValueError, match="q_averaging"):
        make_agent("rudder", "repgym/Umbrella-v0", q_averaging=1.5)
