"""End to end: states with ground truth, and `repgym analyze` on saved checkpoints writing the report."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import repgym  # noqa: F401
from repgym.agents import make_agent
from repgym.analysis.states import collect_states, flatten_ground_truth
from repgym.analysis.tidy import Table
from repgym.cli import main
from repgym.runs import play

TINY = {"rows": 4, "cols": 4, "colours": 3}


def test_flatten_ground_truth_names() -> None:
    nested = {"key": True, "pos": np.array([[1, 2]]), "label": "text"}
    assert flatten_ground_truth(nested) == {"state.key": 1.0, "state.pos[0,0]": 1.0, "state.pos[0,1]": 2.0}
    assert flatten_ground_truth(np.array([0.5, 2.0]), names=["angle", "speed"]) == {"angle": 0.5, "speed": 2.0}


def test_collect_states_keeps_board_ground_truth_and_legal_move_labels() -> None:
    env = gym.make("repgym/BubbleBreaker-v0", **TINY)
    states = collect_states(env, None, 60, seed=3, progress=False)
    assert states.obs.shape == (60, 4, 4, 4) and states.masks.shape == (60, 16)
    board = np.stack([states.factors[f"state[{r},{c}]"] for r in range(4) for c in range(4)], axis=1)
    np.testing.assert_array_equal(board.reshape(60, 4, 4), states.obs.argmax(axis=1))  # plane index = cell colour
    assert "state[0,0]" in states.categorical and "info.groups" in states.factors
    assert states.labels is not None and states.episode.max() >= 1
    cart = collect_states(gym.make("CartPole-v1"), None, 30, progress=False)
    assert {f"obs[{i}]" for i in range(4)} <= set(cart.factors) and cart.labels is None
    with pytest.raises(ValueError, match="n_states"):
        collect_states(env, None, 1, progress=False)


def test_collect_states_plays_through_the_run_protocol(monkeypatch) -> None:
    """States come from `repgym.runs.play`: episode i from reset(seed + i), epsilon draws seeded by seed, episodes cut
    at max_episode_steps, play stopped once n states are kept."""
    import repgym.analysis.states as states_module

    protocols = []

    def recording_play(policy, env, protocol, on_step):
        protocols.append(protocol)
        return play(policy, env, protocol, on_step=on_step)

    monkeypatch.setattr(states_module, "play", recording_play)
    env = gym.make("CartPole-v1")
    states = collect_states(env, None, 50, seed=7, epsilon=0.5, max_episode_steps=12, progress=False)
    (protocol,) = protocols
    assert (protocol.first_seed, protocol.rng_seed, protocol.epsilon, protocol.max_steps) == (7, 7, 0.5, 12)
    for episode in np.unique(states.episode):
        first = states.obs[np.flatnonzero(states.episode == episode)[0]]
        np.testing.assert_array_equal(first, env.reset(seed=7 + int(episode))[0])
    assert len(states) == 50 and np.bincount(states.episode).max() <= 12
    assert len(states.episode_returns) == states.episode.max() + 1


def test_collect_states_passes_a_recurrent_state_back_within_episodes() -> None:
    """A recurrent agent gets its state back every step (random steps included) and a fresh one each episode."""

    class Counter:
        def __init__(self) -> None:
            self.seen: list[int | None] = []

        def predict(self, obs, state=None, episode_start=None, deterministic=True, action_masks=None):
            self.seen.append(None if state is None else int(state))
            return np.int64(0), (0 if state is None else state) + 1

    agent = Counter()
    states = collect_states(gym.make("CartPole-v1"), agent, 40, seed=0, epsilon=0.5, progress=False)
    starts = np.flatnonzero(np.diff(states.episode, prepend=-1) != 0)
    assert agent.seen[0] is None and agent.seen[1:5] == [1, 2, 3, 4]
    assert agent.seen.count(None) == len(starts) and len(agent.seen) == 40


def test_repgym_analyze_writes_the_report(tmp_path, capsys) -> None:
    torch.set_num_threads(1)
    for seed in (0, 1):
        agent = make_agent(
            "sb3-dqn", gym.make("repgym/BubbleBreaker-v0", **TINY), seed=seed, policy_kwargs={"net_arch": [16, 16]}
        )
        agent.save(tmp_path / f"dqn{seed}")
    out = tmp_path / "analysis"
    code = main(
        [
            "analyze",
            str(tmp_path / "dqn0"),
            "--states",
            "80",
            "--episodes",
            "1",
            "--compare",
            str(tmp_path / "dqn1"),
            "--out",
            str(out),
            "--epsilon",
            "0.25",
            "--max-episode-steps",
            "30",
        ]
    )
    assert code == 0, capsys.readouterr().err
    report = (out / "report.md").read_text()
    for section in (
        "## Similarity",
        "## Unit generality",
        "## Causal impact",
        "## Attribution",
        "## Probes",
        "## Dimensionality",
        "## Conflation",
        "## Comparison with the second agent",
    ):
        assert section in report
    for figure in ("cka.png", "generality.png", "ablation.png", "probes.png", "cka_compare.png"):
        assert (out / figure).stat().st_size > 1000
    table = Table.read_json(out / "table.json")
    analyzers = set(table.unique("analyzer"))
    assert {
        "cka",
        "generality",
        "ablation",
        "ablation_curve",
        "attribution",
        "probe",
        "dimensionality",
        "disentanglement",
        "conflation",
        "cka_compare",
        "adaptation",
        "rsa",
    } <= analyzers
    assert len(Table.read_csv(out / "table.csv")) == len(table)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["states"] == 80 and "q_net_target.q_net.0" in meta["skipped_layers"]
    assert meta["settings"]["epsilon"] == 0.25 and meta["settings"]["max_episode_steps"] == 30


def test_analyze_checkpoint_refuses_unknown_settings(tmp_path) -> None:
    from repgym.analysis.analyze import analyze_checkpoint

    make_agent("sb3-dqn", gym.make("repgym/BubbleBreaker-v0", **TINY), seed=0).save(tmp_path / "dqn")
    with pytest.raises(ValueError, match="unknown analysis settings \\['epsilom'\\]"):
        analyze_checkpoint(tmp_path / "dqn", states=10, out_dir=tmp_path / "out", epsilom=0.2, progress=False)


def test_repgym_analyze_reports_a_bad_checkpoint(tmp_path, capsys) -> None:
    assert main(["analyze", str(tmp_path)]) == 2
    assert "not a repgym checkpoint" in capsys.readouterr().err
