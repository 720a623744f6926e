"""The gravity-shift experiment: metrics, the order and gravity of its phases, and a small real run."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from rich.console import Console

import repgym.agents
from repgym.analysis.gravity_shift import (
    Curve,
    SeedResult,
    ShiftConfig,
    ShiftResult,
    curves_figure,
    evaluate_return,
    learn_with_evaluations,
    run_shift,
    summary_table,
)
from repgym.runs import EvalProtocol, play

pytestmark = pytest.mark.filterwarnings("ignore:.*Box observation space (maximum|minimum).*:UserWarning")


def seed_result(seed: int, source: float, zero_shot: float, finetune: list[float], scratch: list[float]) -> SeedResult:
    steps = [0, 100, 200, 300]
    return SeedResult(
        seed, Curve([0, 300], [-300.0, source]), zero_shot, Curve(steps, [zero_shot, *finetune]),
        Curve(steps, scratch), random_return=-300.0, wall_s=1.0,
    )  # fmt: skip


def test_metrics_and_threshold() -> None:
    config = ShiftConfig("repgym/TwoLinkReach-v0", steps=300, seeds=2)
    result = ShiftResult(
        config,
        [
            seed_result(0, -40.0, -150.0, [-90.0, -70.0, -50.0], [-300.0, -250.0, -120.0, -100.0]),
            seed_result(1, -60.0, -170.0, [-140.0, -130.0, -120.0], [-300.0, -280.0, -200.0, -100.0]),
        ],
        wall_s=2.0,
    )
    # threshold = random + 0.9 (mean scratch final - random) = -300 + 0.9 * 200 = -120
    assert result.threshold == pytest.approx(-120.0)
    summary = result.summary()
    assert summary["zero_shot_drop"]["values"] == [110.0, 110.0] and summary["zero_shot_drop"]["std"] == 0.0
    assert summary["return_train_gravity"]["mean"] == pytest.approx(-50.0)
    assert summary["finetune_steps_to_90"]["values"] == [100, 300]
    assert summary["scratch_steps_to_90"]["values"] == [200, 300]
    assert summary["scratch_steps_to_90"]["mean"] == pytest.approx(250.0)
    assert summary["scratch_steps_to_90"]["std"] == pytest.approx(np.std([200, 300], ddof=1))
    assert Curve([0, 10], [-5.0, -4.0]).steps_to_reach(0.0) is None

    console = Console(width=200, record=True)
    console.print(summary_table(result))
    text = console.export_text()
    assert "zero-shot drop" in text and "110.0 ± 0.0" in text and "-120.0" in text
    assert json.loads(json.dumps(result.to_json()))["summary"]["finetune_steps_to_90"]["n"] == 2
    assert curves_figure(result).axes[1].get_title().startswith("after the switch")


class FakeAgent:
    """Takes random actions and records, for every learn() call, the gravity of the env it learns in."""

    log: list[tuple[int, str, float, int]] = []  # (agent id, event, gravity, steps)

    def __init__(self, env: gym.Env, seed: int | None = None, rollout: int = 1) -> None:
        self.env, self.rollout, self.num_timesteps = env, rollout, 0
        self.env.reset(seed=seed)
        self.env.action_space.seed(seed)

    def learn(self, total_timesteps: int) -> FakeAgent:
        steps = -(-total_timesteps // self.rollout) * self.rollout  # whole rollouts, like PPO
        FakeAgent.log.append((id(self), "learn", self.env.unwrapped.gravity, steps))
        for _ in range(steps):
            _, _, terminated, truncated, _ = self.env.step(self.env.action_space.sample())
            if terminated or truncated:
                self.env.reset()
        self.num_timesteps += steps
        return self

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True, action_masks=None):
        return np.zeros(self.env.action_space.shape, np.float32), None


def test_phases_learn_in_the_right_gravity(monkeypatch, tmp_path) -> None:
    def make_agent(name, env, seed=None, **hyperparameters):
        assert name == "fake"
        return FakeAgent(env, seed, **hyperparameters)

    monkeypatch.setattr(repgym.agents, "make_agent", make_agent)
    FakeAgent.log = []
    config = ShiftConfig(
        "repgym/TwoLinkReach-v0", agent="fake", train_gravity=0.0, test_gravity=9.81, steps=50, seeds=1,
        eval_every=20, eval_episodes=1, env_kwargs={"max_episode_steps": 10},
    )  # fmt: skip
    result = run_shift(config, out_dir=tmp_path, console=Console(width=200, file=open(tmp_path / "log", "w")))  # noqa: SIM115
    source_id = FakeAgent.log[0][0]
    events = [(agent == source_id, gravity, steps) for agent, _, gravity, steps in FakeAgent.log]
    assert events == [
        (True, 0.0, 20), (True, 0.0, 20), (True, 0.0, 10),  # source, at the training gravity
        (True, 9.81, 20), (True, 9.81, 20), (True, 9.81, 10),  # fine-tune: the same agent after the switch
        (False, 9.81, 20), (False, 9.81, 20), (False, 9.81, 10),  # scratch: a new agent
    ]  # fmt: skip
    seed = result.seeds[0]
    assert seed.source.steps == seed.finetune.steps == seed.scratch.steps == [0, 20, 40, 50]
    assert seed.zero_shot == seed.finetune.returns[0]
    # a zero-torque arm scores differently with gravity on and off
    assert seed.source.returns[0] != seed.scratch.returns[0]
    assert (tmp_path / "shift.json").exists() and (tmp_path / "shift.png").exists()


def test_evaluations_play_the_run_protocols_games() -> None:
    env = gym.make("repgym/TwoLinkReach-v0", max_episode_steps=10)
    agent = FakeAgent(env, seed=0)
    assert evaluate_return(agent, env, 3) == play(agent, env, EvalProtocol(3)).mean
    random_floor = evaluate_return(None, env, 3, rng_seed=5)
    assert random_floor == play(None, env, EvalProtocol(3, rng_seed=5)).mean
    assert random_floor == evaluate_return(None, env, 3, rng_seed=5)  # seeded: the same floor every time


def test_chunks_follow_the_agents_own_step_count() -> None:
    agent = FakeAgent(gym.make("repgym/TwoLinkReach-v0", max_episode_steps=10), seed=0, rollout=16)
    calls = []
    curve = learn_with_evaluations(agent, steps=40, every=10, evaluate=lambda: 0.0, advance=calls.append)
    assert curve.steps == [0, 16, 32, 48] and calls == [16, 16, 16]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps"),
        ({"seeds": 0}, "seeds"),
        ({"test_gravity": float("nan")}, "test_gravity"),
        ({"env_kwargs": {"gravity": 1.0}}, "train_gravity"),
        ({"env_id": "repgym/BubbleBreaker-v0"}, "gravity argument"),
    ],
)
def test_bad_settings_raise(kwargs: dict, match: str, tmp_path) -> None:
    config = ShiftConfig(**{"env_id": "repgym/TwoLinkReach-v0", **kwargs})
    with pytest.raises(ValueError, match=match):
        run_shift(config, out_dir=tmp_path, console=Console(file=open(tmp_path / "log", "w")))  # noqa: SIM115
