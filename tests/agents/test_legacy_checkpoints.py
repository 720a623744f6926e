"""Checkpoints through the base class: old folders still load and act, the replay buffer is read only to resume,
an env that does not fit is refused before any network is built, and a checkpoint's weights are read once."""

from __future__ import annotations

import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import repgym  # noqa: F401  (registers the ids)
from repgym.agents import load_agent, make_agent
from repgym.runs import Checkpoint

FIXTURES = Path(__file__).parents[1] / "fixtures" / "checkpoints"
LEGACY = ["qr-dqn", "c51-dqn", "sb3-ppo", "lookahead", "world-model"]
TINY = {"rows": 4, "cols": 4, "colours": 3}
SMALL_DQN = {"net_arch": [8], "cnn_channels": [4], "cnn_hidden": 8, "n_quantiles": 8, "buffer_size": 64,
             "learning_starts": 20, "batch_size": 8}  # fmt: skip


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """The file names ``torch.load`` reads from now on."""
    seen: list[str] = []
    real_load = torch.load

    def recording_load(f, *args, **kwargs):
        seen.append(Path(f).name)
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    return seen


@pytest.mark.parametrize("name", LEGACY)
def test_a_checkpoint_written_before_the_run_layer_loads_and_acts_as_it_did(name: str) -> None:
    folder = FIXTURES / name
    agent = load_agent(folder)
    assert agent.name == name and agent.num_timesteps == Checkpoint.read(folder).num_timesteps
    obs, info = agent.env.reset(seed=123)
    action, _ = agent.predict(obs, deterministic=True, action_masks=info.get("action_mask"))
    assert np.array_equal(np.asarray(action), np.load(folder / "expected_action.npy"))


def test_the_old_dqn_layout_with_the_buffer_in_weights_pt_still_resumes(tmp_path) -> None:
    shutil.copytree(FIXTURES / "qr-dqn", tmp_path / "qr")
    agent = load_agent(tmp_path / "qr")
    assert agent.buffer.size == 60 and agent.n_updates == 11  # the buffer came back from weights.pt
    agent.learn(20)
    assert agent.num_timesteps == 80 and agent.n_updates == 16
    agent.save(tmp_path / "qr")  # re-saved in the new layout: the buffer moves to replay.pt
    assert "replay" not in torch.load(tmp_path / "qr" / "weights.pt", weights_only=True)
    resumed = load_agent(tmp_path / "qr")
    assert resumed.buffer.size == 64 and np.array_equal(resumed.buffer.obs, agent.buffer.obs)  # full: 64 slots


def test_a_dqn_save_puts_the_buffer_in_replay_pt_and_acting_never_reads_it(tmp_path, loads) -> None:
    agent = make_agent("qr-dqn", gym.make("repgym/BubbleBreaker-v0", **TINY), seed=0, **SMALL_DQN)
    agent.learn(40)
    agent.save(tmp_path / "qr")
    assert (tmp_path / "qr" / "replay.pt").is_file()
    assert "replay" not in torch.load(tmp_path / "qr" / "weights.pt", weights_only=True)
    loads.clear()
    loaded = load_agent(tmp_path / "qr")
    obs, info = loaded.env.reset(seed=5)
    mask = info["action_mask"]
    assert loaded.predict(obs, action_masks=mask)[0] == agent.predict(obs, action_masks=mask)[0]
    assert loads == ["weights.pt"]
    loaded.learn(8)  # resuming training reads the buffer
    assert loads == ["weights.pt", "replay.pt"] and loaded.buffer.size == 48


def test_saving_without_resume_state_writes_no_replay_pt(tmp_path) -> None:
    agent = make_agent("c51-dqn", "CartPole-v1", seed=0, **SMALL_DQN)
    agent.learn(30)
    agent.save(tmp_path / "c51")
    agent.save(tmp_path / "c51", include_resume_state=False)
    assert not (tmp_path / "c51" / "replay.pt").exists()  # the stale one is gone too
    assert load_agent(tmp_path / "c51").buffer.size == 0


def test_load_agent_reads_the_weights_of_a_checkpoint_once(tmp_path, loads) -> None:
    make_agent("qr-dqn", "CartPole-v1", seed=0, **SMALL_DQN).save(tmp_path / "qr")
    loads.clear()
    checkpoint = Checkpoint.read(tmp_path / "qr")
    first, second = load_agent(checkpoint), load_agent(checkpoint)
    assert loads == ["weights.pt"]
    assert torch.equal(first.optimizer.params, second.optimizer.params)


def test_an_env_whose_spaces_differ_is_refused_before_any_network_is_built(tmp_path, loads, monkeypatch) -> None:
    make_agent("qr-dqn", gym.make("repgym/BubbleBreaker-v0", **TINY), seed=0, **SMALL_DQN).save(tmp_path / "qr")
    bigger = gym.make("repgym/BubbleBreaker-v0", rows=6, cols=6, colours=3)
    loads.clear()
    monkeypatch.setattr("repgym.agents.distributional.agent.QNetwork", None)  # building one would fail
    with pytest.raises(ValueError) as error:
        load_agent(tmp_path / "qr", env=bigger)
    message = str(error.value)
    assert "\n" not in message and "observation space Box(0, 1, (4, 4, 4), uint8)" in message
    assert message.endswith("this env has Box(0, 1, (4, 6, 6), uint8)") and loads == []


def test_an_old_checkpoint_without_spaces_is_checked_against_its_recorded_env() -> None:
    with pytest.raises(ValueError, match=r"built for CartPole-v1 with observation space Box\(.*\(4,\), float32\); "
                                         r"this env has Box\(.*\(6,\), float32\)"):  # fmt: skip
        load_agent(FIXTURES / "c51-dqn", env=gym.make("Acrobot-v1"))
    with pytest.raises(ValueError, match=r"action space Discrete\(16\); this env has Discrete\(36\)"):
        load_agent(FIXTURES / "lookahead", env=gym.make("repgym/BubbleBreaker-v0", rows=6, cols=6, colours=3))


def test_only_the_spaces_an_agent_is_built_for_are_checked() -> None:
    boards = gym.make("repgym/BubbleBreaker-v0", obs_mode="board", **TINY)  # the value net reads planes or boards
    obs, _ = boards.reset(seed=123)
    expected = np.load(FIXTURES / "lookahead" / "expected_action.npy")
    assert load_agent(FIXTURES / "lookahead", env=boards).predict(obs)[0] == expected
    rendered = gym.make("repgym/KeyToDoor-v0", delay=2, render_mode="rgb_array")  # V sees render() frames
    obs, _ = rendered.reset(seed=123)
    assert rendered.action_space.contains(int(load_agent(FIXTURES / "world-model", env=rendered).predict(obs)[0]))


def test_an_unknown_agent_name_is_one_line(tmp_path) -> None:
    shutil.copytree(FIXTURES / "c51-dqn", tmp_path / "odd")
    meta = (tmp_path / "odd" / "agent.json").read_text().replace('"agent": "c51-dqn"', '"agent": "c52-dqn"')
    (tmp_path / "odd" / "agent.json").write_text(meta)
    with pytest.raises(ValueError, match=r"holds agent 'c52-dqn', which this repgym does not know; expected one of"):
        load_agent(tmp_path / "odd")
