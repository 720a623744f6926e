"""``repgym world``: collect -> train-vae -> train-rnn -> train-controller (real and dream) -> eval, tiny budgets."""

from __future__ import annotations

import json

import pytest

from repgym.agents import load_agent
from repgym.cli import main


def test_pipeline_end_to_end(tmp_path, capsys):
    run = str(tmp_path / "run")
    base = ["--run", run, "--no-progress"]
    env = ["repgym/KeyToDoor-v0", "--set", "obs_mode=pixels", "--set", "delay=2"]
    assert main(["world", "collect", *env, "--episodes", "6", "--shard-size", "3", *base]) == 0
    assert "2 shards" in capsys.readouterr().out
    assert main(["world", "train-vae", "--epochs", "1", "--channels", "2", "--latent-dim", "4", *base]) == 0
    out = capsys.readouterr().out
    assert "reconstruction MSE" in out and (tmp_path / "run" / "vision" / "samples.png").stat().st_size > 1000
    assert main(["world", "train-rnn", "--epochs", "1", "--hidden", "8", *base]) == 0
    assert "persistence baseline" in capsys.readouterr().out
    ctrl = ["world", "train-controller", "--popsize", "4", "--workers", "0", *base]
    assert main([*ctrl, "--generations", "1"]) == 0
    assert main([*ctrl, "--generations", "1"]) == 0  # resumes: one more generation
    assert "resuming" in capsys.readouterr().out
    agent = load_agent(tmp_path / "run" / "controller")
    collected = sum(s["steps"] for s in json.loads((tmp_path / "run" / "data" / "manifest.json").read_text())["shards"])
    assert agent.search.generations == 2 and agent.search.steps > 0
    assert agent.num_timesteps == collected + agent.search.steps  # data collection counts as real env steps
    dream = str(tmp_path / "run" / "dream")
    assert main([*ctrl, "--generations", "1", "--dream", "--tau", "0.5", "--out", dream]) == 0
    assert load_agent(dream).num_timesteps == collected  # the dream costs no real steps
    report = tmp_path / "eval.json"
    assert main(["world", "eval", dream, "--episodes", "2", "--dream-tau", "0.5", "--json", str(report)]) == 0
    returns = json.loads(report.read_text())["returns"]
    assert set(returns) == {"controller (real env)", "random (real env)", "controller (dream, tau=0.5)"}
    assert all(len(v) == 2 for v in returns.values())


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["world", "train-vae", "--run", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "repgym world: error:" in err and "run `repgym world collect`" in err
    with pytest.raises(SystemExit):
        main(["world", "collect", "--help"])
    assert "examples:" in capsys.readouterr().out


def _pipeline_up_to_memory(tmp_path, capsys, episodes: int = 4) -> list[str]:
    run = str(tmp_path / "run")
    base = ["--run", run, "--no-progress"]
    env = ["repgym/KeyToDoor-v0", "--set", "obs_mode=pixels", "--set", "delay=2"]
    assert main(["world", "collect", *env, "--episodes", str(episodes), "--max-steps", "8", *base]) == 0
    assert main(["world", "train-vae", "--epochs", "1", "--channels", "2", "--latent-dim", "4", *base]) == 0
    assert main(["world", "train-rnn", "--epochs", "1", "--hidden", "8", *base]) == 0
    capsys.readouterr()
    return base


def test_train_controller_resume_applies_search_settings_and_refuses_conflicts(tmp_path, capsys):
    base = _pipeline_up_to_memory(tmp_path, capsys)
    ctrl = ["world", "train-controller", "--workers", "0", *base]
    assert main([*ctrl, "--popsize", "4", "--max-episode-steps", "5", "--generations", "1"]) == 0
    first = load_agent(tmp_path / "run" / "controller")
    assert first.config.popsize == 4 and first.search.steps == 4 * 5  # 4 candidates x 1 episode x 5 steps
    more = ["--popsize", "6", "--sigma", "0.5", "--episodes-per-candidate", "2", "--max-episode-steps", "3"]
    assert main([*ctrl, *more, "--generations", "1"]) == 0
    assert "now with popsize=6, sigma0=0.5, episodes_per_candidate=2, max_episode_steps=3" in capsys.readouterr().out
    agent = load_agent(tmp_path / "run" / "controller")
    c = agent.config
    assert (c.popsize, c.sigma0, c.episodes_per_candidate, c.max_episode_steps) == (6, 0.5, 2, 3)
    assert agent.search.steps - first.search.steps == 6 * 2 * 3  # the new settings were used
    assert agent.search.history[-1]["sigma"] > 0.2  # continued from sigma 0.5, not from the old ~0.1
    for bad, named in ((["--controller-hidden", "4"], "--controller-hidden 4"), (["--z-only"], "--z-only"),
                       (["--vision", str(tmp_path / "other")], "--vision")):  # fmt: skip
        if bad[0] == "--vision":  # a different V checkpoint
            assert main(["world", "train-vae", "--epochs", "1", "--channels", "2", "--latent-dim", "4", "--seed",
                         "1", "--out", bad[1], *base]) == 0  # fmt: skip
            capsys.readouterr()
        assert main([*ctrl, *bad, "--generations", "1"]) == 2
        err = capsys.readouterr().err
        assert named in err and "cannot resume" in err
    # the same V/M folders and the checkpoint's own controller shape are fine
    same = ["--vision", str(tmp_path / "run" / "vision"), "--memory", str(tmp_path / "run" / "memory")]
    assert main([*ctrl, *same, "--controller-hidden", "0", "--generations", "1"]) == 0


def test_one_episode_is_refused_before_training(tmp_path, capsys):
    run = str(tmp_path / "run")
    base = ["--run", run, "--no-progress"]
    env = ["repgym/KeyToDoor-v0", "--set", "obs_mode=pixels", "--set", "delay=2"]
    assert main(["world", "collect", *env, "--episodes", "1", "--max-steps", "5", *base]) == 0
    capsys.readouterr()
    for stage in ("train-vae", "train-rnn"):
        assert main(["world", stage, "--epochs", "1", *base]) == 2
        assert "need at least 2 episodes (one held out for validation), got 1" in capsys.readouterr().err
    assert not (tmp_path / "run" / "vision").exists()


class _Recurrent:
    """A stand-in recurrent agent: its state counts the steps of the episode, and it records what it was given."""

    def __init__(self) -> None:
        self.seen: list = []

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        self.seen.append(state)
        return 0, (0 if state is None else state) + 1


def test_collect_policy_carries_a_recurrent_state_within_episodes(tmp_path, monkeypatch, capsys):
    import repgym.agents

    fake = _Recurrent()
    monkeypatch.setattr(repgym.agents, "load_agent", lambda path: fake)
    env = ["repgym/KeyToDoor-v0", "--set", "obs_mode=pixels", "--set", "delay=2"]
    args = ["--episodes", "2", "--max-steps", "3", "--policy", str(tmp_path / "agent"), "--run", str(tmp_path)]
    assert main(["world", "collect", *env, *args, "--no-progress"]) == 0
    assert fake.seen == [None, 1, 2, None, 1, 2]  # passed back within an episode, reset at each episode start
