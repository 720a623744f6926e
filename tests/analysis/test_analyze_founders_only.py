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
