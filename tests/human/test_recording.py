"""Recordings: the file format round-trips, and corrupt or altered files are rejected with a one-line reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given
from hypothesis import strategies as st
from recording_helpers import edit_field, record_session, reforge, rewrite

import repgym
from repgym.human.recording import (
    RecordingError,
    RecordingWriter,
    action_from_json,
    action_to_json,
    default_recordings_dir,
    obs_digest,
    read_recording,
)


def test_round_trip(tmp_path: Path) -> None:
    path = record_session(tmp_path, delay=4)
    assert path.parent == tmp_path and path.name.endswith(".jsonl") and "Umbrella-v0-tester" in path.name
    rec = read_recording(path)
    assert rec.env_id == "repgym/Umbrella-v0" and rec.env_kwargs == {"delay": 4} and rec.player == "tester"
    assert rec.header["seed"] == 10 and rec.header["repgym_version"] == repgym.__version__
    assert rec.closed and not rec.partial_tail and len(rec.episodes) == 3
    first, _, cut = rec.episodes
    assert first.finished and first.end_reason == "terminated" and len(first.steps) == 5
    assert isinstance(first.success, bool) and first.seed == 10
    assert cut.end_reason == "quit" and not cut.finished and cut.success is None and len(cut.steps) == 2
    times = [s.t for ep in rec.episodes for s in ep.steps]
    assert times == sorted(times)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["kind"] for line in lines][:3] == ["header", "reset", "step"] and lines[-1]["kind"] == "close"


def test_default_directory(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REPGYM_RECORDINGS", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_recordings_dir() == Path.home() / ".local/share/repgym/recordings"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_recordings_dir() == tmp_path / "xdg/repgym/recordings"
    monkeypatch.setenv("REPGYM_RECORDINGS", str(tmp_path / "mine"))
    assert default_recordings_dir() == tmp_path / "mine"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda ls: edit_field(ls, 2, reward=5.0), "line 3: checksum mismatch"),
        (lambda ls: ls.pop(3), "line 4: checksum mismatch"),
        (lambda ls: ls.insert(2, ls.pop(3)), "line 3: checksum mismatch"),
        (lambda ls: ls.__setitem__(4, ls[4][:-9]), "line 5: not valid JSON"),
        (lambda ls: ls.__setitem__(4, "[1, 2]"), "line 5: expected a JSON object"),
        (lambda ls: ls.clear(), "empty recording"),
        (lambda ls: (edit_field(ls, 2, reward="1"), reforge(ls)), "line 3: step record has reward='1'; expected int"),
        (lambda ls: (edit_field(ls, 2, terminated=1), reforge(ls)), "terminated=1; expected bool"),
        (lambda ls: (edit_field(ls, 0, format="other"), reforge(ls)), "not a repgym recording"),
        (lambda ls: (edit_field(ls, 0, version=99), reforge(ls)), "format version 99 is newer"),
        (lambda ls: (ls.pop(3), reforge(ls)), "line 4: step 2 of episode 0 out of order"),
        (lambda ls: (ls.insert(1, ls[0]), reforge(ls)), "line 2: a second header"),
        (lambda ls: (edit_field(ls, 2, reward=3.0), reforge(ls)), "length/return do not match its steps"),
        (lambda ls: (ls.append(ls[1]), reforge(ls)), "after the session's close record"),
        (lambda ls: (edit_field(ls, 1, kind="nap"), reforge(ls)), "unknown record kind 'nap'"),
    ],
)
def test_corrupt_or_altered_files_are_rejected(tmp_path: Path, edit, message: str) -> None:
    path = record_session(tmp_path, delay=4)
    rewrite(path, edit)
    with pytest.raises(RecordingError, match=message) as err:
        read_recording(path)
    assert "\n" not in str(err.value) and path.name in str(err.value)


def test_binary_garbage_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(RecordingError, match="not valid JSON"):
        read_recording(path)


def test_interrupted_write_loses_only_the_last_line(tmp_path: Path) -> None:
    path = record_session(tmp_path, delay=4)
    full = path.read_bytes()
    lines = full.splitlines(keepends=True)
    cut = b"".join(lines[:6]) + lines[6][:10]  # a crash in the middle of writing line 7
    path.write_bytes(cut)
    rec = read_recording(path)
    assert rec.partial_tail and not rec.closed
    assert len(rec.episodes) == 1 and len(rec.episodes[0].steps) == 4 and rec.episodes[0].end_reason is None


def test_writer_never_overwrites(tmp_path: Path) -> None:
    path = record_session(tmp_path)
    with pytest.raises(FileExistsError):
        RecordingWriter(path, "repgym/Umbrella-v0", {}, 0, "x", spaces.Discrete(2))
    with pytest.raises(ValueError, match="JSON-serialisable"):
        RecordingWriter(tmp_path / "y.jsonl", "repgym/Umbrella-v0", {"f": object()}, 0, "x", spaces.Discrete(2))


@pytest.mark.parametrize(
    "space",
    [spaces.Discrete(5), spaces.Discrete(3, start=-1), spaces.Box(-1.0, 1.0, (3,), np.float32),
     spaces.Box(-2, 2, (2, 2), np.float64), spaces.MultiDiscrete([3, 4]), spaces.MultiBinary(4)],
)  # fmt: skip
def test_actions_round_trip_exactly(space: spaces.Space) -> None:
    space.seed(0)
    for _ in range(20):
        action = space.sample()
        back = action_from_json(json.loads(json.dumps(action_to_json(action))), space)
        assert (
            np.array_equal(np.asarray(back), np.asarray(action)) and np.asarray(back).dtype == np.asarray(action).dtype
        )


def test_actions_outside_the_space_are_rejected() -> None:
    with pytest.raises(ValueError, match="not in Discrete"):
        action_from_json(7, spaces.Discrete(3))
    with pytest.raises(ValueError, match="not an integer"):
        action_from_json(True, spaces.Discrete(3))
    with pytest.raises(ValueError, match="shape"):
        action_from_json([0.1], spaces.Box(-1, 1, (2,)))


@given(st.lists(st.integers(0, 255), min_size=1, max_size=20))
def test_obs_digest_tells_arrays_apart(values: list[int]) -> None:
    a = np.array(values, np.uint8)
    assert obs_digest(a) == obs_digest(a.copy())
    assert obs_digest(a) != obs_digest(a.astype(np.int16))
    b = a.copy()
    b[0] ^= 1
    assert obs_digest(a) != obs_digest(b)
    assert obs_digest({"x": a, "y": (a, 1)}) == obs_digest({"y": (a, 1), "x": a})
