"""A session is submitted once, whatever file it comes in: identified by its content (env, settings, seed, player,
actions), so a copy — whole, cut short, without its ``close`` line — is recognised; a recording without a finished
episode is refused with a message that says exactly that."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import pytest
from leaderboard_helpers import ENV, KWARGS, record_session

from repgym.benchmark.store import LeaderboardStore
from repgym.benchmark.submit import same_session, session_key, submit_recording
from repgym.cli import main
from repgym.human.recording import RecordingError, RecordingWriter, read_recording


def _cut(path: Path, out: Path, keep) -> Path:
    """A copy of ``path`` with only the lines ``keep(kinds)`` returns (a prefix: the chain stays valid)."""
    lines = path.read_text().splitlines(keepends=True)
    kinds = [json.loads(line)["kind"] for line in lines]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(lines[: keep(kinds)]))
    return out


def _after_end(n: int):
    """Keep everything up to and including the n-th ``end`` line."""
    return lambda kinds: [i for i, k in enumerate(kinds) if k == "end"][n - 1] + 1


def test_copies_of_a_submitted_session_are_recognised(tmp_path) -> None:
    path = record_session(tmp_path / "recs")
    copies = {
        "renamed copy": shutil.copy(path, tmp_path / "copy.jsonl"),
        "no close line": _cut(path, tmp_path / "noclose.jsonl", lambda kinds: len(kinds) - 1),
        "two of three games": _cut(path, tmp_path / "two.jsonl", _after_end(2)),
        "cut inside a game": _cut(path, tmp_path / "mid.jsonl", lambda kinds: _after_end(2)(kinds) + 3),
    }
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        first = submit_recording(path, db)
        assert not first.duplicate
        for what, copy in copies.items():
            again = submit_recording(copy, db)
            assert again.duplicate and again.duplicate_of == first.row_id, what
        assert len(db.rows()) == 1


def test_a_short_copy_first_then_the_whole_session_is_one_row(tmp_path) -> None:
    path = record_session(tmp_path / "recs")
    short = _cut(path, tmp_path / "short.jsonl", _after_end(1))
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        assert not submit_recording(short, db).duplicate
        assert submit_recording(path, db).duplicate
        assert len(db.rows()) == 1


def _optimal_session(directory: Path, player: str, seed: int, episodes: int = 2) -> Path:
    """Like ``record_session``, for any player and seed: the same moves for the same games."""
    env = gym.make(ENV, **KWARGS)
    with RecordingWriter.create(directory, ENV, player, env_kwargs=KWARGS, seed=seed,
                                action_space=env.action_space, durable=False) as writer:  # fmt: skip
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            writer.start_episode(seed + episode, obs)
            done = False
            while not done:
                action = env.unwrapped.optimal_action()
                obs, reward, terminated, truncated, info = env.step(action)
                writer.step(action, reward, terminated, truncated, obs, info)
                done = terminated or truncated
        return writer.path


def test_other_players_and_other_seeds_are_other_sessions(tmp_path) -> None:
    alice = _optimal_session(tmp_path / "a", "alice", seed=5)
    bob = _optimal_session(tmp_path / "b", "bob", seed=5)  # the same games and moves, another person
    later = _optimal_session(tmp_path / "c", "alice", seed=50)  # alice again, on other games
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        assert not any(submit_recording(path, db).duplicate for path in (alice, bob, later))
        assert len(db.rows()) == 3
    key = session_key(read_recording(alice))
    identity, episodes = key.removeprefix("human:").split(":")
    first, second = episodes.split(".")
    assert same_session(key, f"human:{identity}:{first}") and not same_session(key, f"human:{identity}:{second}")
    assert not same_session(key, "human:" + "0" * 32)  # a row keyed the old way, by file hash


def test_a_recording_without_a_finished_episode_says_so(tmp_path, capsys) -> None:
    env = gym.make(ENV, **KWARGS)
    with RecordingWriter.create(tmp_path, ENV, "alice", env_kwargs=KWARGS, seed=5, action_space=env.action_space,
                                durable=False) as writer:  # fmt: skip
        obs, _ = env.reset(seed=5)
        writer.start_episode(5, obs)
        obs, reward, terminated, truncated, info = env.step(0)
        writer.step(0, reward, terminated, truncated, obs, info)
    message = (f"{writer.path.name}: no finished episode: only a game played to its end counts, and none of its 1 "
               "episodes was")  # fmt: skip
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        with pytest.raises(RecordingError) as err:
            submit_recording(writer.path, db)
        assert str(err.value) == message
    assert main(["leaderboard", "submit", str(writer.path), "--db", str(tmp_path / "lb.sqlite")]) == 2
    assert capsys.readouterr().err == f"repgym leaderboard: error: {message}\n"


def test_submit_says_already_submitted_in_one_line(tmp_path, capsys) -> None:
    path = record_session(tmp_path / "recs")
    copy = _cut(path, tmp_path / "copy.jsonl", _after_end(2))
    db = str(tmp_path / "lb.sqlite")
    assert main(["leaderboard", "submit", str(path), "--db", db]) == 0
    assert "— added" in capsys.readouterr().out
    assert main(["leaderboard", "submit", str(copy), "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "already submitted" in out and "human:alice" in out and "row 1" in out
