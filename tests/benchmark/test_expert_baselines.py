"""The ``expert`` baseline: it beats random on every env family it exists for, plays legally and reproducibly, is
offered only where it exists, and sets the expert-normalised score."""

from __future__ import annotations

import csv
import io

import gymnasium as gym
import numpy as np
import pytest

import repgym.envs  # noqa: F401  (registers the ids)
from repgym.benchmark.baseline_policies import BaselineAgent, baseline_name, baseline_names, listed_baselines
from repgym.benchmark.experts import EXPERT_NODES
from repgym.benchmark.export import print_table, to_csv, to_markdown
from repgym.benchmark.scoring import expert_normalised
from repgym.benchmark.suites import make_jobs
from repgym.benchmark.table import build_entries
from repgym.runs import EvalProtocol, play

SMALL = {"rows": 6, "cols": 6, "colours": 3}


def _mean(name: str, env_id: str, episodes: int, **kwargs) -> tuple[float, int]:
    """Mean return of baseline ``name`` (seed 0) over the run protocol's first ``episodes`` games, illegal moves."""
    env = gym.make(env_id, **kwargs)
    try:
        result = play(BaselineAgent(name, env, seed=0), env, EvalProtocol(episodes))
    finally:
        env.close()
    return result.mean, result.illegal_actions


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("repgym/BubbleBreaker-v0", SMALL),
        ("repgym/SameGame-v0", SMALL),
        ("repgym/BubbleBreakerShifter-v0", SMALL),
        ("repgym/BubbleBreakerContinuous-v0", {**SMALL, "max_new_columns": 4}),  # grey columns arrive too
        ("repgym/BubbleBreakerMegaShift-v0", {**SMALL, "max_new_columns": 4}),
    ],
)
def test_bubble_expert_beats_random_and_greedy_with_legal_moves(env_id, kwargs):
    expert, illegal = _mean("expert", env_id, 6, **kwargs)
    assert illegal == 0
    assert expert > _mean("random", env_id, 6, **kwargs)[0]
    assert expert >= _mean("greedy", env_id, 6, **kwargs)[0]


def test_bubble_expert_is_reproducible_from_its_seed():
    env = gym.make("repgym/SameGame-v0", **SMALL)
    runs = [play(BaselineAgent("expert", env, seed=s), env, EvalProtocol(3)).returns for s in (3, 3)]
    np.testing.assert_array_equal(*runs)
    assert f"{EXPERT_NODES} playouts per move" in dict(listed_baselines())["policy:expert"]


def test_delayed_expert_is_the_oracle_and_beats_random():
    env_id, kwargs = "repgym/KeyToDoor-v0", {"delay": 3}
    expert, _ = _mean("expert", env_id, 20, **kwargs)
    assert expert == _mean("optimal", env_id, 20, **kwargs)[0]  # optimal stays a name of its own
    assert expert > _mean("random", env_id, 20, **kwargs)[0]


def test_physics_expert_beats_random():
    env_id = "repgym/TwoLinkReach-v0"
    env = gym.make(env_id)
    assert "expert" in baseline_names(env)
    env.close()
    assert {j.env_id for j in make_jobs("quick", agents=["expert"])} >= {env_id, "repgym/Thrower-v0"}
    assert _mean("expert", env_id, 5)[0] > _mean("random", env_id, 5)[0]


def test_no_expert_where_a_family_has_none():
    env = gym.make("CartPole-v1")
    assert baseline_names(env) == ["random"]
    with pytest.raises(ValueError, match="CartPole-v1 has no expert baseline"):
        BaselineAgent("policy:expert", env)


def test_policy_expert_is_listed_and_accepted():
    assert "policy:expert" in dict(listed_baselines())
    assert baseline_name("policy:expert") == "expert"
    jobs = make_jobs("quick", envs=["Umbrella-v0", "SameGame-v0"], agents=["policy:expert"])
    assert sorted((j.env_id, j.agent, j.seed) for j in jobs) == [
        ("repgym/SameGame-v0", "expert", 0),
        ("repgym/Umbrella-v0", "expert", 0),
    ]  # one seed: a reference
    assert {j.seed for j in make_jobs("quick", envs=["Umbrella-v0"], agents=["expert"], seeds=2)} == {0, 1}
    random_keys = {j.key for j in make_jobs("quick", agents=["random"])}
    quick = make_jobs("quick")  # also random on the configs of the shipped agents (KeyToDoor delay 5, ...)
    assert random_keys == {j.key for j in quick if j.agent == "random" and not j.env_kwargs}  # existing jobs unchanged


def _row(i: int, agent: str, returns: list[float], env_id: str = "repgym/Umbrella-v0") -> dict:
    return {"id": i, "job_key": f"k{i}", "status": "ok", "kind": "agent", "env_id": env_id, "env_kwargs": {},
            "agent": agent, "hyperparameters": {}, "seed": 0, "train_steps": 0, "eval_episodes": len(returns),
            "protocol": "deterministic", "returns": returns, "mean": float(np.mean(returns)),
            "std": float(np.std(returns)), "wall_time_s": 1.0, "repgym_version": "0.1.0", "git_commit": "abc",
            "video_path": None, "created_utc": "2026-01-01T00:00:00+00:00", "learning_curve": None,
            "checkpoint": None, "worker": None, "suite": None, "source": None, "error": None}  # fmt: skip


def test_expert_normalised_column_in_every_export():
    assert expert_normalised(5.0, 0.0, 10.0) == 0.5
    assert expert_normalised(5.0, None, 10.0) is None and expert_normalised(5.0, 0.0, None) is None
    assert expert_normalised(5.0, 3.0, 3.0) is None
    rows = [_row(1, "expert", [10.0, 10.0]), _row(2, "random", [0.0, 0.0]), _row(3, "qr-dqn", [4.0, 6.0]),
            _row(4, "random", [1.0, 1.0], env_id="repgym/KeyToDoor-v0"),
            _row(5, "greedy", [3.0, 3.0], env_id="repgym/KeyToDoor-v0")]  # fmt: skip
    by_env = build_entries(rows, reps=100)
    norms = {(e.env_id, e.agent): e.expert_norm for entries in by_env.values() for e in entries}
    assert norms[("repgym/Umbrella-v0", "qr-dqn")] == 0.5
    assert norms[("repgym/Umbrella-v0", "expert")] == 1.0 and norms[("repgym/Umbrella-v0", "random")] == 0.0
    assert norms[("repgym/KeyToDoor-v0", "greedy")] is None  # no expert row for that env

    md = to_markdown(by_env)
    assert "| random-norm | human-norm | human players | expert-norm |" in md
    learner = next(line for line in md.splitlines() if "| qr-dqn |" in line)
    assert "| 0.50 |" in learner
    assert next(line for line in md.splitlines() if "| greedy |" in line).count("—") >= 2  # human and expert
    table = {r["agent"]: r for r in csv.DictReader(io.StringIO(to_csv(by_env)))}
    assert float(table["qr-dqn"]["expert_normalised"]) == 0.5 and table["greedy"]["expert_normalised"] == ""

    from rich.console import Console

    console = Console(width=200, record=True)
    print_table(by_env, console)
    text = console.export_text()
    assert "expert-norm" in text and "0.50" in text

    from repgym.benchmark.export import to_html

    assert "<th>expert-norm</th>" in to_html(by_env)
