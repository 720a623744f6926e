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
    assert agent.search.generations == 2 and agent.num_timesteps == agent.search.steps > 0
    dream = str(tmp_path / "run" / "dream")
    assert main([*ctrl, "--generations", "1", "--dream", "--tau", "0.5", "--out", dream]) == 0
    assert load_agent(dream).num_timesteps == 0  # the dream costs no real steps
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
