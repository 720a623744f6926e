"""The credit analyzer: the share of a credit-assignment agent's redistributed reward on the decisive steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import repgym  # noqa: F401  (registers the ids)
from repgym.agents import make_agent
from repgym.analysis.credit import credit_landing, default_decisive
from repgym.analysis.states import StateSet
from repgym.analysis.tidy import Table
from repgym.cli import main


def states_with(factors: dict[str, np.ndarray], episode: np.ndarray) -> StateSet:
    n = episode.size
    return StateSet(obs=np.zeros((n, 1)), factors=factors, categorical=set(), actions=np.zeros(n, np.int64),
                    masks=None, episode=episode, labels=None)  # fmt: skip


def test_credit_all_on_the_decisive_steps_has_share_one() -> None:
    decisive = np.array([True, False, False, True, False, False])
    rows = credit_landing(np.array([0.9, 0.0, 0.0, -0.7, 0.0, 0.0]), decisive)
    got = {r.metric: r for r in rows.rows}
    assert got["decisive_share"].value == 1.0 and got["decisive_share"].params["chance"] == pytest.approx(1 / 3)
    flat = {r.metric: r.value for r in credit_landing(np.ones(6), decisive).rows}
    assert flat["decisive_share"] == pytest.approx(1 / 3) and flat["decisive_ratio"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="credit has 5 states"):
        credit_landing(np.ones(5), decisive)


def test_key_pickup_is_the_step_before_key_held_turns_on_within_an_episode() -> None:
    held = np.array([0, 0, 1, 1, 0, 0, 0], float)  # episode 0: pickup at state 1; episode 1: no pickup
    episode = np.array([0, 0, 0, 0, 1, 1, 1])
    rule, decisive = default_decisive(states_with({"state.key_held": held}, episode))
    assert "key pickup" in rule and decisive.tolist() == [False, True, False, False, False, False, False]
    cue = np.array([0, 1, 2, 0, 1, 2], float)
    _, choice = default_decisive(states_with({"state.steps_since_cue": cue, "state.weather": cue * 0 + 1},
                                             np.array([0, 0, 0, 1, 1, 1])))  # fmt: skip
    assert choice.tolist() == [True, False, False, True, False, False]
    assert default_decisive(states_with({"state.x": cue}, np.zeros(6, np.int64))) is None


def test_analyze_a_rudder_agent_finds_its_credit_on_the_umbrella_choice(tmp_path, capsys) -> None:
    """Umbrella, delay 10, no distractor rewards, fixed seed: after 3,000 steps most of the credit on the states the
    agent visits sits on the choice step (1 state in 11)."""
    torch.set_num_threads(1)
    agent = make_agent("rudder", "repgym/Umbrella-v0", env_kwargs={"delay": 10, "distractor_reward": 0.0}, seed=0)
    agent.learn(3_000)
    agent.save(tmp_path / "rudder")
    out = tmp_path / "analysis"
    args = ["analyze", str(tmp_path / "rudder"), "--states", "330", "--epsilon", "0.5", "--out", str(out),
            "--only", "credit"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    got = {r.metric: r for r in Table.read_json(out / "table.json").filter(analyzer="credit").rows}
    share = got["decisive_share"]
    assert share.params["chance"] == pytest.approx(1 / 11, abs=0.02)
    assert share.value > 0.5, share.value
    assert "## Credit landing (the umbrella choice" in (out / "report.md").read_text()
