"""Human-normalised scores and learning summaries from recordings."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import repgym  # noqa: F401
from repgym.human.recording import RecordingWriter, read_recording
from repgym.human.scores import (
    finished_episodes,
    human_normalised_score,
    human_reference,
    human_score,
    learning_summary,
    random_score,
)
from repgym.runs import DEFAULT_FIRST_SEED, EnvSpec, EvalProtocol, play


def scripted_player(directory: Path, player: str, choices: list[bool | None], delay: int = 1):
    """A recording of Umbrella where the player picks right (True) or wrong (False) in each episode; None starts an
    episode and restarts it after one step."""
    env = gym.make("repgym/Umbrella-v0", delay=delay)
    with RecordingWriter.create(directory, "repgym/Umbrella-v0", player, env_kwargs={"delay": delay}, seed=0,
                                action_space=env.action_space, durable=False) as writer:  # fmt: skip
        for i, right in enumerate(choices):
            obs, info = env.reset(seed=i)
            writer.start_episode(i, obs)
            rain = info["state"]["weather"] == 1
            action, done = int(rain == bool(right)), False
            while not done:
                obs, reward, terminated, truncated, info = env.step(action)
                writer.step(action, reward, terminated, truncated, obs, info)
                done = terminated or truncated or right is None
        return read_recording(writer.path)


def test_normalised_score() -> None:
    assert human_normalised_score(agent=5.0, random=1.0, human=9.0) == 0.5
    assert human_normalised_score(agent=1.0, random=1.0, human=9.0) == 0.0
    assert human_normalised_score(agent=13.0, random=1.0, human=9.0) == 1.5
    with pytest.raises(ValueError, match="undefined"):
        human_normalised_score(1.0, 2.0, 2.0)


def test_learning_summary(tmp_path: Path) -> None:
    ann = scripted_player(tmp_path, "ann", [False, None, False, True, True])
    bob = scripted_player(tmp_path, "bob", [True, False, True])
    cat = scripted_player(tmp_path, "cat", [False, False])
    summary = learning_summary([ann, bob, cat])
    assert summary.players == ["ann", "bob", "cat"]
    assert summary.episodes_to_first_success == {"ann": 2, "bob": 0, "cat": None}  # the restart does not count
    assert summary.players_by_episode.tolist() == [3, 3, 2, 1]
    assert np.allclose(summary.success_rate_by_episode, [1 / 3, 0, 1, 1])
    eps = finished_episodes([ann, bob, cat])
    assert [len(v) for v in eps.values()] == [4, 3, 2]
    returns = [ep.total_reward for v in eps.values() for ep in v]
    assert summary.mean_return == pytest.approx(np.mean(returns))


def test_the_human_score_is_the_median_of_players_and_needs_enough_of_them(tmp_path: Path) -> None:
    # ann plays many games well, cat one game badly: each is one player, and the median ignores how many games
    players = [scripted_player(tmp_path, "ann", [True] * 6), scripted_player(tmp_path, "bob", [True, False]),
               scripted_player(tmp_path, "cat", [False]), scripted_player(tmp_path, "dan", [True, True, False]),
               scripted_player(tmp_path, "eve", [False, False, True, None])]  # fmt: skip
    means = sorted(np.mean([ep.total_reward for ep in eps]) for eps in finished_episodes(players).values())
    assert human_score(players) == pytest.approx(means[2])
    assert human_reference({"a": [1.0, 3.0], "b": [10.0], "c": [-100.0]}, min_players=3) == 2.0
    assert human_reference({"a": [1.0], "b": [], "c": [2.0]}, min_players=3) is None  # b has no finished game
    with pytest.raises(ValueError, match="needs 5 players with a finished episode; these recordings hold 4"):
        human_score(players[:4])
    assert human_score(players[:4], min_players=4) == pytest.approx(np.median(
        [np.mean([ep.total_reward for ep in eps]) for eps in finished_episodes(players[:4]).values()]))  # fmt: skip


def test_learning_summary_with_a_return_threshold(tmp_path: Path) -> None:
    rec = scripted_player(tmp_path, "ann", [True, False], delay=0)
    assert learning_summary([rec], success_threshold=1.0).success_rate_by_episode.tolist() == [1.0, 0.0]
    assert learning_summary([rec], success_threshold=2.0).episodes_to_first_success == {"ann": None}


def test_pooling_rules(tmp_path: Path) -> None:
    a = scripted_player(tmp_path, "ann", [True], delay=1)
    b = scripted_player(tmp_path, "bob", [True], delay=2)
    with pytest.raises(ValueError, match="different games or settings"):
        learning_summary([a, b])
    with pytest.raises(ValueError, match="no recordings"):
        human_score([])
    with pytest.raises(ValueError, match="no finished episode"):
        human_score([scripted_player(tmp_path, "cat", [None])])


def test_random_score() -> None:
    umbrella = random_score("repgym/Umbrella-v0", {"delay": 0}, episodes=400, seed=0)
    assert umbrella == pytest.approx(0.0, abs=0.15)
    assert random_score("repgym/Umbrella-v0", {"delay": 0}, episodes=50, seed=3) == random_score(
        "repgym/Umbrella-v0", {"delay": 0}, episodes=50, seed=3
    )
    bubble = random_score("repgym/BubbleBreaker-v0", {"rows": 5, "cols": 5, "colours": 3}, episodes=5)
    assert bubble > 0  # legal moves only: every step scores


def test_random_score_plays_the_run_protocols_games() -> None:
    spec = EnvSpec("repgym/BubbleBreaker-v0", {"rows": 5, "cols": 5, "colours": 3})
    by_default = random_score(spec.id, dict(spec.kwargs), episodes=4, seed=7)
    assert by_default == play(None, spec, EvalProtocol(4, first_seed=DEFAULT_FIRST_SEED, rng_seed=7)).mean
    elsewhere = random_score(spec.id, dict(spec.kwargs), episodes=4, seed=7, first_seed=0)
    assert elsewhere == play(None, spec, EvalProtocol(4, first_seed=0, rng_seed=7)).mean
