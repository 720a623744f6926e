"""``repgym train`` / ``repgym eval`` / ``repgym dopamine``, callbacks and the return-distribution plot."""

from __future__ import annotations

import csv
import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import repgym  # noqa: F401
from repgym.agents import make_agent
from repgym.agents.callbacks import CheckpointCallback, EvalCallback
from repgym.agents.distributional.plot import plot_return_distribution, select_actions
from repgym.cli import main
from repgym.runs import Checkpoint

SMALL = ["--set", "learning_starts=100", "--set", "net_arch=32", "--set", "batch_size=16"]


def test_train_eval_and_exact_resume_from_periodic_checkpoints(tmp_path, capsys) -> None:
    out = tmp_path / "qr"
    code = main(["train", "qr-dqn", "CartPole-v1", "--steps", "600", *SMALL, "--set", "n_quantiles=8",
                 "--seed", "4", "--out", str(out), "--checkpoint-every", "300", "--eval-episodes", "3"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "trained qr-dqn on CartPole-v1: 600 steps" in printed and "greedy return over 3 episodes" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 600 and summary["eval_episodes"] == 3 and summary["seed"] == 4
    checkpoint = Checkpoint.read(out / "checkpoint")
    meta, final = checkpoint.meta, checkpoint.tensors()
    assert meta["num_timesteps"] == 600 and meta["hyperparameters"]["n_quantiles"] == 8
    with (out / "logs" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {"train/loss", "rollout/episode_return", "rollout/epsilon"} <= {r["metric"] for r in rows}
    assert any(p.name.startswith("events.out.tfevents") for p in (out / "logs").iterdir())
    # The step_300 checkpoint, trained 300 more steps, is exactly the step_600 one.
    assert main(["train", "--resume", str(out / "checkpoints" / "step_300"), "--steps", "300",
                 "--out", str(tmp_path / "resumed"), "--eval-episodes", "0"]) == 0  # fmt: skip
    resumed = Checkpoint.read(tmp_path / "resumed" / "checkpoint").tensors()
    for key in ("q_net", "target_net"):
        for name, value in final[key].items():
            assert torch.equal(value, resumed[key][name]), (key, name)
    capsys.readouterr()
    png = tmp_path / "dist.png"
    assert main(["eval", str(out / "checkpoint"), "--episodes", "4", "--plot-distribution", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "qr-dqn on CartPole-v1 (600 training steps): return" in printed and "over 4 episodes" in printed
    assert png.stat().st_size > 10_000


def test_train_bubble_breaker_on_the_native_vector_env_then_eval(tmp_path, capsys) -> None:
    out = tmp_path / "bubble"
    code = main(["train", "c51-dqn", "repgym/BubbleBreaker-v0", "--steps", "400", "--num-envs", "4",
                 "--env-set", "rows=4", "--env-set", "cols=4", "--env-set", "colours=3", *SMALL,
                 "--set", "cnn_channels=8,8", "--set", "augmentation=colours", "--set", "v_max=40",
                 "--out", str(out), "--eval-episodes", "2"])  # fmt: skip
    assert code == 0
    meta = Checkpoint.read(out / "checkpoint").meta
    assert meta["num_envs"] == 4 and meta["illegal_actions"] == 0
    capsys.readouterr()
    assert main(["eval", str(out / "checkpoint"), "--episodes", "3"]) == 0
    printed = capsys.readouterr().out
    assert "illegal actions 0" in printed and "score" in printed


def test_train_works_for_an_sb3_baseline_too(tmp_path, capsys) -> None:
    out = tmp_path / "ppo"
    assert main(["train", "sb3-ppo", "CartPole-v1", "--steps", "256", "--set", "n_steps=128", "--set",
                 "batch_size=64", "--out", str(out), "--eval-episodes", "2"]) == 0  # fmt: skip
    meta = Checkpoint.read(out / "checkpoint").meta
    assert meta["agent"] == "sb3-ppo" and meta["num_timesteps"] >= 256
    capsys.readouterr()
    assert main(["eval", str(out / "checkpoint"), "--episodes", "2"]) == 0
    assert "sb3-ppo on CartPole-v1" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys) -> None:
    assert main(["train", "nope", "CartPole-v1", "--steps", "10", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("repgym train: error: unknown agent 'nope'") and "\n" not in err
    assert main(["train", "qr-dqn", "CartPole-v1", "--steps", "10", "--set", "lr=1", "--out", str(tmp_path)]) == 2
    assert "unknown hyperparameter(s) ['lr']" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing")]) == 2
    assert "missing: no such checkpoint folder" in capsys.readouterr().err


def test_dopamine_command(tmp_path, capsys) -> None:
    out = tmp_path / "dopamine"
    assert main(["dopamine", "--steps", "1000", "--units", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "W1(true, imputed from learned expectiles)" in printed and "reversal points vs asymmetries" in printed
    with (out / "dopamine.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and float(rows[2]["tau"]) == 0.5
    assert float(rows[2]["true_expectile"]) == pytest.approx(np.mean([0.1, 0.3, 1.2, 2.5, 5, 10, 20]))
    learned = [float(r["learned_expectile"]) for r in rows]
    assert learned == sorted(learned)  # reversal points rise with the asymmetry
    assert (out / "dopamine.png").stat().st_size > 20_000


def test_callbacks_stop_evaluate_and_checkpoint(tmp_path) -> None:
    agent = make_agent("dqn", "CartPole-v1", seed=0, net_arch=(8,), learning_starts=50)
    agent.learn(1000, callback=lambda a: a.num_timesteps < 120)
    assert agent.num_timesteps == 120
    evaluator = EvalCallback(gym.make("CartPole-v1"), eval_freq=100, n_eval_episodes=2, stop_at=-1.0)
    saver = CheckpointCallback(50, tmp_path, name_prefix="dqn")
    agent.learn(500, callback=[saver, evaluator])
    assert agent.num_timesteps == 200  # the evaluation at step 200 reached stop_at
    assert len(evaluator.evaluations) == 1 and [p.name for p in saver.saved] == ["dqn_150_steps", "dqn_200_steps"]


@pytest.mark.parametrize("name", ["c51-dqn", "qr-dqn", "expectile-dqn", "dqn"])
def test_return_distribution_plot(name: str) -> None:
    env = gym.make("repgym/BubbleBreaker-v0", rows=4, cols=4, colours=3)
    agent = make_agent(name, env, seed=0, cnn_channels=(4,), cnn_hidden=8)
    obs, info = env.reset(seed=0)
    dist = agent.return_distribution(obs)
    legal = info["action_mask"]
    chosen = select_actions(dist, legal, max_actions=3)
    assert len(chosen) == min(3, legal.sum()) and legal[chosen].all()
    fig = plot_return_distribution(dist, legal=legal, max_actions=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(labels) == len(chosen) and all("mean" in label for label in labels)
    with pytest.raises(ValueError, match="out of range"):
        plot_return_distribution(dist, actions=[99])
