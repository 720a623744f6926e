"""The look-ahead agent through the representation analyzers: ``represent`` runs the value net on the observed
boards (``predict`` only evaluates afterstates), ablation acts through the afterstate values r + V, and
``repgym analyze`` works end to end on a saved checkpoint."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import repgym  # noqa: F401  (registers the ids)
from repgym.agents import make_agent
from repgym.agents.base import Agent
from repgym.agents.lookahead.afterstates import candidates
from repgym.analysis.ablation import ablated, unit_ablation
from repgym.analysis.analyze import analyze_checkpoint
from repgym.analysis.capture import agent_runner, capture_activations, has_representation
from repgym.analysis.tidy import Table

TINY = {"rows": 4, "cols": 4, "colours": 3}
NET = {"games": 8, "channels": 8, "blocks": 1, "hidden": 16, "batch_size": 32, "learning_starts": 100}
LAYERS = ["value.conv0", "value.conv1", "value.fc", "value.out"]


@pytest.fixture(scope="module")
def trained():
    env = gym.make("repgym/BubbleBreaker-v0", **TINY)
    agent = make_agent("lookahead", env, seed=0, exploration_steps=500, **NET)
    agent.learn(300)
    observations = np.stack([env.reset(seed=s)[0] for s in range(40)])
    return agent, env, observations


def test_represent_is_the_value_net_on_the_observed_boards(trained) -> None:
    agent, _, obs = trained
    boards, _ = agent.boards_from_observation(obs)
    out = agent.represent(obs).double().numpy()
    assert out.shape == (40,) and has_representation(agent)
    np.testing.assert_allclose(out * agent.value.scale, agent.value(boards), rtol=1e-5, atol=1e-6)
    cap = capture_activations(agent.latent_modules(), agent_runner(agent), obs, batch_size=16)
    assert sorted(cap.activations) == sorted(LAYERS) and not cap.skipped and not cap.repeated
    assert cap.activations["value.conv0"].shape == (40, 8, 4, 4) and cap.activations["value.fc"].shape == (40, 16)


def test_default_represent_refuses_clearly() -> None:
    agent = make_agent("sb3-dqn", gym.make("repgym/BubbleBreaker-v0", **TINY), seed=0)
    assert not has_representation(agent)
    with pytest.raises(NotImplementedError, match="does not define represent"):
        Agent.represent(agent, np.zeros((1, 4, 4, 4), np.float32))


def test_zeroing_the_value_output_leaves_the_greedy_reward_move(trained) -> None:
    """With V ablated to 0 the look-ahead argmax of r + V is the argmax of r: ablation acts on the chosen move."""
    agent, _, obs = trained
    boards, _ = agent.boards_from_observation(obs)
    out = agent.latent_modules()["value.out"]
    with ablated(out, [0], (0, 1)):
        moves = agent.predict(obs)[0]
    cands = candidates(boards, agent.config, agent.engine)
    for i, move in enumerate(moves):
        own = cands.parent == i
        if own.any():
            assert cands.reward[own][cands.move[own] == move][0] == cands.reward[own].max()
    assert not np.array_equal(moves, agent.predict(obs)[0])  # the trained V does change some moves


def test_unit_ablation_reads_outputs_through_represent(trained) -> None:
    agent, _, obs = trained
    run = agent_runner(agent)
    cap = capture_activations(agent.latent_modules(), run, obs)
    act = lambda o: agent.predict(o)[0]  # noqa: E731
    table, impacts = unit_ablation(cap, act, obs, layers=["value.fc", "value.out"], output="value.out", run=run)
    assert impacts["value.fc"].shape == (16,) and impacts["value.out"][0] > 0
    change = table.filter(analyzer="ablation", layer="value.out", metric="action_change").values()
    assert 0 < change[0] <= 1
    dead = np.flatnonzero(cap.activations["value.fc"].max(axis=0) <= 0)  # ReLU units off on every state
    assert all(impacts["value.fc"][u] == 0 for u in dead)


def test_repgym_analyze_on_a_lookahead_checkpoint(trained, tmp_path) -> None:
    agent, _, _ = trained
    agent.save(tmp_path / "la")
    report = analyze_checkpoint(tmp_path / "la", states=60, out_dir=tmp_path / "out", episodes=1, progress=False)
    table = Table.read_json(tmp_path / "out" / "table.json")
    assert report.is_file() and "value.fc" in report.read_text()
    probed = {r.layer for r in table.filter(analyzer="probe")}
    assert set(LAYERS) <= probed
    assert {r.layer for r in table.filter(analyzer="ablation")} == set(LAYERS)
    assert table.filter(analyzer="attribution", metric="completeness_error").values().max() < 0.05
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert not meta["skipped_layers"] and meta["checkpoint_agent"] == "lookahead"
