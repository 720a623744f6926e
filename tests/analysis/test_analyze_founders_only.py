"""`repgym analyze --only sensitivity composition nested` on a tiny agent writes their rows and report sections."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

import repgym  # noqa: F401
from repgym.agents import make_agent
from repgym.analysis.tidy import Table
from repgym.cli import main


def test_analyze_only_the_founders_analyzers(tmp_path, capsys) -> None:
    torch.set_num_threads(1)
    env = gym.make("repgym/KeyToDoor-v0", delay=2)
    make_agent("qr-dqn", env, seed=0, net_arch=[16, 16]).save(tmp_path / "qr")
    out = tmp_path / "analysis"
    args = ["analyze", str(tmp_path / "qr"), "--states", "300", "--epsilon", "0.5", "--out", str(out),
            "--only", "sensitivity", "composition", "nested"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    table = Table.read_json(out / "table.json")
    assert set(table.unique("analyzer")) == {"sensitivity", "composition", "nested"}
    report = (out / "report.md").read_text()
    for section in ("## Sensitivity", "## Filter composition", "## Nested manifolds (sub-class `state.key_held == 1`"):
        assert section in report
    for figure in ("sensitivity.png", "composition.png", "nested.png"):
        assert (out / figure).stat().st_size > 1000
    scores = table.filter(analyzer="sensitivity", metric="support_sensitivity").values()
    assert scores.size >= 3 and np.all(scores >= 0)  # backtracking steps never raise the adapted-on loss
    degree = table.filter(analyzer="composition", metric="composition_degree").values()
    assert degree.size and np.all((degree[np.isfinite(degree)] >= 1) & (degree[np.isfinite(degree)] <= 16))
    nested = table.filter(analyzer="nested", metric="twonn_subclass")
    assert len(nested) == 5 and np.isfinite(nested.values()).any()


def test_analyze_subclass_option_names_the_nested_subclass(tmp_path, capsys) -> None:
    torch.set_num_threads(1)
    env = gym.make("repgym/KeyToDoor-v0", delay=2)
    make_agent("qr-dqn", env, seed=0, net_arch=[16, 16]).save(tmp_path / "qr")
    out = tmp_path / "analysis"
    args = ["analyze", str(tmp_path / "qr"), "--states", "300", "--epsilon", "0.5", "--out", str(out),
            "--only", "nested", "--subclass", "state.key_held == 0"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    assert "## Nested manifolds (sub-class `state.key_held == 0`" in (out / "report.md").read_text()


def test_untrained_analysis_reads_the_same_network_with_fresh_weights(tmp_path, capsys) -> None:
    from repgym.agents.base import Agent

    torch.set_num_threads(1)
    env = gym.make("repgym/KeyToDoor-v0", delay=2)
    agent = make_agent("qr-dqn", env, seed=3, net_arch=[16, 16], learning_starts=50)
    fresh = {k: v.clone() for k, v in agent.q_net.state_dict().items()}
    agent.learn(300)
    agent.save(tmp_path / "qr")
    trained = agent.q_net.state_dict()
    assert any(not torch.equal(fresh[k], trained[k]) for k in fresh)
    rebuilt = Agent.untrained_like(tmp_path / "qr")
    assert type(rebuilt) is type(agent) and rebuilt.num_timesteps == 0
    for name, value in rebuilt.q_net.state_dict().items():  # the seed's own initial weights, not the saved ones
        assert torch.equal(value, fresh[name]), name
    outs = {}
    for flag in ([], ["--untrained"]):
        out = outs[bool(flag)] = tmp_path / f"analysis{len(flag)}"
        args = ["analyze", str(tmp_path / "qr"), "--states", "200", "--epsilon", "1.0", "--out", str(out),
                "--only", "dimensionality", *flag]  # fmt: skip
        assert main(args) == 0, capsys.readouterr().err
    assert "(untrained: its network with fresh weights)" in (outs[True] / "report.md").read_text()
    assert "fresh weights" not in (outs[False] / "report.md").read_text()
    trained_rows, fresh_rows = (Table.read_json(outs[u] / "table.json") for u in (False, True))
    assert len(trained_rows) == len(fresh_rows)  # same layers, same states (random play)
    assert not np.allclose(trained_rows.values(), fresh_rows.values(), equal_nan=True)
