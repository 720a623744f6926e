"""``repgym stats``: batched baseline games agree with the single env, and the report files are written."""

from __future__ import annotations

import csv
import io

import gymnasium as gym
import numpy as np
import pytest
from rich.console import Console

import repgym  # noqa: F401  (registers the envs)
from repgym.benchmark.baseline_stats import CSV_FIELDS, game_keys, play_games, run_stats
from repgym.cli import main
from repgym.envs.bubble.policies import POLICIES

TINY = {"rows": 5, "cols": 5, "colours": 3}


def quiet_console() -> Console:
    return Console(file=io.StringIO(), width=120)


def replay(env_id: str, env_kwargs: dict, seed: int, actions: np.ndarray) -> dict:
    """Play ``actions`` through the single env from ``reset(seed=seed)``; what the stats should have recorded."""
    env = gym.make(env_id, **env_kwargs)
    _, info = env.reset(seed=seed)
    total, groups, terminated, truncated = 0.0, [], False, False
    for t, action in enumerate(actions):
        assert not (terminated or truncated), f"game went on after it ended (move {t})"
        groups.append(info["groups"])
        _, reward, terminated, truncated, info = env.step(int(action))
        assert not info["illegal_action"]
        total += reward
    env.close()
    return {
        "score": total,
        "terminated": terminated or (len(actions) == 0 and info["groups"] == 0),
        "truncated": truncated,
        "moves_per_turn": float(np.mean(groups)) if groups else 0.0,
        "bubbles_left": info["bubbles_left"],
        "new_columns": info["new_columns"],
    }


@pytest.mark.parametrize(
    "env_id, env_kwargs",
    [
        ("repgym/BubbleBreaker-v0", TINY),
        ("repgym/SameGame-v0", TINY),
        ("repgym/BubbleBreakerContinuous-v0", {**TINY, "max_new_columns": 4}),
        ("repgym/BubbleBreakerMegaShift-v0", {**TINY, "max_new_columns": 3, "random_column_height": True}),
    ],
)
def test_games_replay_exactly_through_the_single_env(env_id, env_kwargs, tmp_path):
    results = run_stats(env_id, episodes=5, seed=3, env_kwargs=env_kwargs, out_dir=tmp_path, plot=False,
                        console=quiet_console(), record_actions=True)  # fmt: skip
    assert [r.policy for r in results] == list(POLICIES)
    for r in results:
        assert r.seeds.tolist() == [3, 4, 5, 6, 7]
        for i in range(r.games):
            assert r.length[i] == len(r.actions[i])
            expected = replay(env_id, env_kwargs, int(r.seeds[i]), r.actions[i])
            assert r.score[i] == pytest.approx(expected["score"])
            assert r.terminated[i] == expected["terminated"] and r.truncated[i] == expected["truncated"]
            assert r.terminated[i] != r.truncated[i]
            assert r.moves_per_turn[i] == pytest.approx(expected["moves_per_turn"])
            assert r.bubbles_left[i] == expected["bubbles_left"]
            assert r.new_columns[i] == expected["new_columns"]
        assert (r.moves_per_turn >= 1).all() and (r.length >= 1).all()


def test_step_limit_truncates_like_the_env(tmp_path):
    kwargs = {**TINY, "max_episode_steps": 2}
    results = run_stats("repgym/BubbleBreaker-v0", episodes=6, env_kwargs=kwargs, out_dir=tmp_path, plot=False,
                        console=quiet_console(), record_actions=True)  # fmt: skip
    for r in results:
        assert (r.length <= 2).all() and r.truncated.any()
        assert (r.truncated == (~r.terminated)).all()
        for i in range(r.games):
            expected = replay("repgym/BubbleBreaker-v0", kwargs, int(r.seeds[i]), r.actions[i])
            assert r.truncated[i] == expected["truncated"]
            assert r.score[i] == pytest.approx(expected["score"])


def test_game_keys_match_env_reset():
    env = gym.make("repgym/BubbleBreaker-v0")
    for seed in (0, 1, 12345):
        env.reset(seed=seed)
        assert game_keys([seed]).tolist() == env.unwrapped.game.key.tolist()
    env.close()


def test_results_are_reproducible_and_independent_of_the_other_policies(tmp_path):
    kw = {"episodes": 4, "env_kwargs": TINY, "out_dir": tmp_path, "plot": False}
    everything = run_stats("repgym/BubbleBreaker-v0", console=quiet_console(), **kw)
    again = run_stats("repgym/BubbleBreaker-v0", console=quiet_console(), **kw)
    alone = run_stats("repgym/BubbleBreaker-v0", policies=["tabu-colour"], console=quiet_console(), **kw)
    assert [r.score.tolist() for r in everything] == [r.score.tolist() for r in again]
    assert alone[0].score.tolist() == everything[3].score.tolist()


def test_csv_and_png_are_written(tmp_path):
    console = quiet_console()
    results = run_stats("repgym/SameGame-v0", episodes=3, policies=["greedy", "random"], env_kwargs=TINY,
                        out_dir=tmp_path / "out", console=console)  # fmt: skip
    csv_path = tmp_path / "out" / "repgym_SameGame-v0_games.csv"
    png_path = tmp_path / "out" / "repgym_SameGame-v0_scores.png"
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_FIELDS and len(rows) == 6
    for row in rows:
        r = results[["greedy", "random"].index(row["policy"])]
        i = int(row["game"])
        assert float(row["score"]) == pytest.approx(r.score[i])
        assert int(row["length"]) == r.length[i] and int(row["seed"]) == r.seeds[i]
    text = console.file.getvalue()
    assert "greedy" in text and "score" in text and str(csv_path) in text and str(png_path) in text


def test_no_plot_writes_no_png(tmp_path):
    run_stats("repgym/BubbleBreaker-v0", episodes=2, env_kwargs=TINY, out_dir=tmp_path, plot=False,
              console=quiet_console())  # fmt: skip
    assert [p.suffix for p in tmp_path.iterdir()] == [".csv"]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"env_id": "repgym/BubbleBreaker-v0", "policies": ["nope"]}, "unknown policy 'nope'"),
        ({"env_id": "repgym/NoSuchGame-v0"}, "cannot make"),
        ({"env_id": "CartPole-v1"}, "not a Bubble Breaker"),
        ({"env_id": "repgym/BubbleBreaker-v0", "episodes": 0}, "episodes must be >= 1"),
        ({"env_id": "repgym/BubbleBreaker-v0", "seed": -1}, "seed must be >= 0"),
        ({"env_id": "repgym/BubbleBreaker-v0", "env_kwargs": {"colour": 3}}, "bad argument"),
        ({"env_id": "repgym/BubbleBreaker-v0", "env_kwargs": {"rows": 40}}, "rows must be in"),
    ],
)
def test_bad_arguments_raise_value_error(args, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        run_stats(out_dir=tmp_path, console=quiet_console(), **args)
    assert not any(tmp_path.iterdir())


def test_play_games_without_step_limit_and_empty_seed_list():
    config = gym.make("repgym/BubbleBreaker-v0", **TINY).unwrapped.config
    stats = play_games("greedy", config, [0, 1, 2])
    assert stats.terminated.all() and not stats.truncated.any() and stats.actions is None
    empty = play_games("random", config, [])
    assert empty.games == 0


def test_cli_stats_prints_the_table(tmp_path, capsys):
    argv = ["stats", "repgym/BubbleBreaker-v0", "--episodes", "3", "--set", "rows=5", "--set", "cols=5",
            "--set", "colours=3", "--out", str(tmp_path), "--no-plot"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    for name in [*POLICIES, "score", "length", "per turn", "min..max"]:
        assert name in out
    assert (tmp_path / "repgym_BubbleBreaker-v0_games.csv").exists()


def test_cli_stats_unknown_env_is_a_one_line_error(tmp_path, capsys):
    assert main(["stats", "repgym/NoSuchGame-v0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("repgym stats: error:") and "NoSuchGame" in err and "Traceback" not in err
