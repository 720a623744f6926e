"""Replay: recordings re-simulate bit for bit, and forged or foreign ones fail with the first difference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from recording_helpers import edit_field, record_session, reforge, rewrite

from repgym.human.recording import RecordingError, read_recording
from repgym.human.replay import ReplayMismatch, replay


@pytest.mark.parametrize(
    "env_id, kwargs",
    [("repgym/Umbrella-v0", {"delay": 6}), ("repgym/KeyToDoor-v0", {"delay": 3}),
     ("repgym/LaggedControl-v0", {"delay": 2, "obs_mode": "pixels"}), ("repgym/HiddenSequence-v0", {"delay": 0}),
     ("repgym/BubbleBreaker-v0", {"rows": 5, "cols": 5, "colours": 3})],
)  # fmt: skip
def test_replay_is_bit_exact(tmp_path: Path, env_id: str, kwargs: dict) -> None:
    path = record_session(tmp_path, env_id, **kwargs)
    rec = read_recording(path)
    report = replay(path)
    assert report.episodes == 3 and report.steps == sum(len(ep.steps) for ep in rec.episodes)
    assert report.returns == [ep.total_reward for ep in rec.episodes] and report.notes == []


def forged(tmp_path: Path, edit) -> Path:
    path = record_session(tmp_path, "repgym/Umbrella-v0", delay=6)
    rewrite(path, lambda ls: (edit(ls), reforge(ls)))
    return path


def step_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if json.loads(line)["kind"] == "step"]


def test_forged_reward_is_caught(tmp_path: Path) -> None:
    def edit(lines: list[str]) -> None:
        i = step_lines(lines)[1]
        record = json.loads(lines[i])
        edit_field(lines, i, reward=-record["reward"])
        end = next(j for j in range(i, len(lines)) if json.loads(lines[j])["kind"] == "end")
        edit_field(lines, end, **{"return": json.loads(lines[end])["return"] - 2 * record["reward"]})

    with pytest.raises(ReplayMismatch, match=r"episode 0, step 1: recorded reward -?1\.0 but the replay gives -?1\.0"):
        replay(forged(tmp_path, edit))


def test_forged_action_or_seed_is_caught(tmp_path: Path) -> None:
    with pytest.raises(ReplayMismatch, match="episode 0, step 0"):
        replay(forged(tmp_path, lambda ls: edit_field(ls, step_lines(ls)[0], action=1 - json.loads(ls[2])["action"],
                                                          obs="0" * 16)))  # fmt: skip
    with pytest.raises(ReplayMismatch, match="episode 1"):
        path = record_session(tmp_path / "b", "repgym/KeyToDoor-v0", delay=2)
        rewrite(path, lambda ls: (edit_field(ls, next(i for i, x in enumerate(ls) if '"episode":1' in x
                                                      and '"reset"' in x), seed=999), reforge(ls)))  # fmt: skip
        replay(path)


def test_foreign_settings_and_bad_actions(tmp_path: Path) -> None:
    path = forged(tmp_path, lambda ls: edit_field(ls, 0, env_kwargs={"delay": 6, "colour": 3}))
    with pytest.raises(RecordingError, match="cannot make 'repgym/Umbrella-v0'"):
        replay(path)
    path = forged(tmp_path / "b", lambda ls: edit_field(ls, step_lines(ls)[0], action=5))
    with pytest.raises(RecordingError, match=r"episode 0, step 0: action 5 is not in Discrete\(2\)"):
        replay(path)


def test_other_version_and_interrupted_sessions_are_noted(tmp_path: Path) -> None:
    path = forged(tmp_path, lambda ls: edit_field(ls, 0, repgym_version="0.0.1"))
    assert "recorded with repgym 0.0.1" in replay(path).notes[0]
    data = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(data[:-2]) + data[-2][:5])
    notes = replay(path).notes
    assert any("did not end normally" in n for n in notes) and any("interrupted last line" in n for n in notes)


def test_replay_renders_and_writes_video(tmp_path: Path) -> None:
    path = record_session(tmp_path, "repgym/HiddenSequence-v0", episodes=1, delay=0)
    out = tmp_path / "replay.gif"
    report = replay(path, render=True, video=out, fps=10)
    assert report.episodes == 2 and out.stat().st_size > 0
    with pytest.raises(ValueError, match=r"\.mp4 or \.gif"):
        replay(path, video=tmp_path / "x.avi")
    assert np.isfinite(report.returns).all()
