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
    report = replay(path, render=True, video=out, seconds_per_move=0.001)
    assert report.episodes == 2 and out.stat().st_size > 0
    with pytest.raises(ValueError, match=r"\.mp4 or \.gif"):
        replay(path, video=tmp_path / "x.avi")
    with pytest.raises(ValueError, match="seconds per move must be positive"):
        replay(path, video=out, seconds_per_move=0)
    assert np.isfinite(report.returns).all()


def test_replay_video_goes_at_a_readable_pace_with_the_score_drawn(tmp_path: Path) -> None:
    from PIL import Image

    path = record_session(tmp_path, "repgym/BubbleBreaker-v0", episodes=1, rows=4, cols=4, colours=2)
    moves = len(read_recording(path).episodes[0].steps)
    durations = []
    replay(path, video=tmp_path / "half.gif")
    with Image.open(tmp_path / "half.gif") as gif:
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    # the first game: its start, then one frame per move, each held half a second; the last one held longer
    first = durations[: moves + 1]
    assert first[:-1] == [500] * moves and first[-1] > 1000
    replay(path, video=tmp_path / "slow.gif", seconds_per_move=1.5)
    with Image.open(tmp_path / "slow.gif") as gif:
        gif.seek(1)
        assert gif.info["duration"] == 1500


def test_each_replay_frame_carries_the_score() -> None:
    from repgym.human.replay import _caption, captioned, upscale

    lines = _caption("game 1/2", 3, 3, 12.0, 6.0, "terminated")
    assert lines == ["score 12   (+6)", "game 1/2   move 3/3   (game over)"]
    assert _caption("game 1/1", 1, 5, 0.0, 0.0)[0] == "score 0"  # a move that scored nothing shows no (+0)
    frame = upscale(np.zeros((64, 64, 3), np.uint8))
    image = captioned(frame, lines)
    assert frame.shape == (320, 320, 3) and image.shape[1] == 320 and image.shape[0] % 2 == 0
    bar = image[: image.shape[0] - 320]
    assert (bar > 200).any() and (image[image.shape[0] - 320 :] == 0).all()  # text above, the frame untouched


def test_a_recording_without_an_episode_does_not_verify(tmp_path: Path) -> None:
    import gymnasium as gym

    from repgym.human.recording import RecordingWriter

    env = gym.make("repgym/Umbrella-v0")
    for finish in ("close", "abandon"):  # a session that ended at once, and one whose program crashed at once
        writer = RecordingWriter.create(tmp_path / finish, "repgym/Umbrella-v0", "ann", env_kwargs={}, seed=0,
                                        action_space=env.action_space, durable=False)  # fmt: skip
        getattr(writer, finish)()
        writer.close()  # idempotent, and after abandon() it writes nothing
        with pytest.raises(RecordingError, match="no episode was recorded: there is nothing to verify"):
            replay(writer.path)
    assert read_recording(writer.path).closed is False
