"""The analyzer registry: a module dropped into repgym/analysis/analyzers is run by `repgym analyze` and shown in the
report with no other edit; `--only` picks a subset; an unknown name is one line listing the known ones."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import torch

import repgym  # noqa: F401
from repgym.agents import make_agent
from repgym.analysis import analyzers
from repgym.analysis.registry import registered
from repgym.analysis.tidy import Table
from repgym.cli import main

TOY = """
from repgym.analysis.registry import Section, analyzer
from repgym.analysis.tidy import Table


def report(rows: Table, layers: list[str]) -> Section:
    return Section("## Toy: units per layer\\n\\n" + ", ".join(f"{r.layer}={r.value:.0f}" for r in rows) + "\\n")


@analyzer("toy", order=55, report=report)
def toy(ctx) -> Table:
    table = Table()
    for layer, act in ctx.acts.items():
        table.add("toy", layer, None, "units", act.shape[1], len(act))
    return table
"""


@pytest.fixture
def analyzer_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A temporary extra folder of the analyzers package: ``write(module, source)`` adds a module to it."""
    folder = tmp_path / "more_analyzers"
    folder.mkdir()
    monkeypatch.setattr(analyzers, "__path__", [*analyzers.__path__, str(folder)])
    written: list[str] = []

    def write(module: str, source: str) -> None:
        (folder / f"{module}.py").write_text(source)
        written.append(f"{analyzers.__name__}.{module}")

    yield write
    for name in written:
        sys.modules.pop(name, None)


def test_a_new_analyzer_module_is_run_and_reported(tmp_path: Path, analyzer_folder, capsys) -> None:
    analyzer_folder("toy_units", TOY)
    names = [a.name for a in registered()]
    assert names.index("probes") < names.index("toy") < names.index("dimensionality")  # order=55
    torch.set_num_threads(1)
    env = gym.make("CartPole-v1")
    make_agent("qr-dqn", env, seed=0, net_arch=(8, 8)).save(tmp_path / "qr")
    out = tmp_path / "analysis"
    argv = ["analyze", str(tmp_path / "qr"), "--states", "60", "--out", str(out), "--only", "toy", "generality",
            "comparison"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    table = Table.read_json(out / "table.json")
    assert set(table.unique("analyzer")) == {"generality", "toy"}
    assert table.filter(analyzer="toy", layer="torso.fc1").values().tolist() == [8.0]
    report = (out / "report.md").read_text()
    assert "## Toy: units per layer" in report and "torso.fc1=8" in report
    assert report.index("## Unit generality") < report.index("## Toy") and "## Similarity" not in report
    meta = json.loads((out / "meta.json").read_text())
    assert meta["analyzers"] == ["generality", "toy"]
    assert meta["skipped_analyzers"] == {"comparison": "needs second_agent"}


def test_an_unknown_analyzer_is_one_line_listing_the_known_ones(tmp_path: Path, capsys) -> None:
    assert main(["analyze", str(tmp_path / "missing"), "--only", "probes", "probez"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown analyzer 'probez'" in err
    assert "similarity, generality, probes, dimensionality, disentanglement, conflation, ablation, attribution" in err


def test_two_analyzers_with_one_name_are_refused(analyzer_folder) -> None:
    analyzer_folder("toy_a", TOY)
    analyzer_folder("toy_b", TOY)
    with pytest.raises(ValueError, match="two analyzers are named 'toy'"):
        registered()
