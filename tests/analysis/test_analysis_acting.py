"""An agent is analysed acting by its class's ``analysis_overrides``: a search agent by its one-step rule."""

from __future__ import annotations

import json

import repgym  # noqa: F401
from repgym.agents import make_agent
from repgym.analysis.analyze import analyze_checkpoint

TINY = {"rows": 4, "cols": 4, "colours": 3}
SMALL_NET = {"channels": 4, "blocks": 1, "hidden": 8, "calibration_games": 4}


def test_a_searching_lookahead_agent_is_analysed_with_its_one_step_rule(tmp_path, monkeypatch) -> None:
    agent = make_agent("lookahead", "repgym/BubbleBreaker-v0", env_kwargs=TINY, seed=0, search="beam",
                       search_kwargs={"width": 2, "evaluator": "value"}, **SMALL_NET)  # fmt: skip
    agent.learn(64)
    agent.save(tmp_path / "ckpt")
    searched = []
    monkeypatch.setattr(type(agent), "_search_line", lambda self, board: searched.append(board) or [])
    report = analyze_checkpoint(tmp_path / "ckpt", out_dir=tmp_path / "out", states=40, episodes=1, progress=False,
                                only=["probes"])  # fmt: skip
    assert not searched  # collecting states never ran the beam search
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["acting_overrides"] == {"search": "lookahead"}
    assert "| acting while analysed | search=lookahead |" in report.read_text()
