"""Human submissions (replayed first; a tampered file is rejected) and videos of agents playing."""

from __future__ import annotations

import numpy as np
import pytest
from leaderboard_helpers import ENV, KWARGS, forge_reward, record_session

from repgym.benchmark import JobSpec, LeaderboardStore, build_entries, run_bench
from repgym.benchmark.submit import submit_recording
from repgym.benchmark.video import record_best_seeds, record_video
from repgym.human.recording import RecordingError
from repgym.human.replay import ReplayMismatch


def test_a_replayed_recording_joins_the_leaderboard_once(tmp_path):
    path = record_session(tmp_path / "recs")
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        sub = submit_recording(path, db)
        assert not sub.duplicate and sub.agent == "human:alice" and sub.episodes == 3
        assert submit_recording(path, db).duplicate  # the same file twice is one row
        run_bench([JobSpec(ENV, "random", seed=s, eval_episodes=4, env_kwargs=KWARGS) for s in range(2)], db,
                  workers=1, progress=False)  # fmt: skip
        (row,) = [r for r in db.rows() if r["kind"] == "human"]
        entries = build_entries(db.rows(), reps=100, min_players=1)[f"{ENV} (delay=2)"]
    assert row["protocol"] == "human" and row["train_steps"] is None and row["source"] == str(path.resolve())
    assert row["mean"] == pytest.approx(np.mean(row["returns"])) and len(row["returns"]) == 3
    assert 0.0 <= row["success_rate"] <= 1.0  # the recording's own success flags (the delay curves read them)
    human = next(e for e in entries if e.kind == "human")
    assert human.rank == 1 and human.human_norm == pytest.approx(1.0)


@pytest.mark.parametrize("reforge, error", [(False, RecordingError), (True, ReplayMismatch)])
def test_a_tampered_recording_is_rejected(tmp_path, reforge, error):
    path = record_session(tmp_path / "recs")
    forge_reward(path, reforge)
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        with pytest.raises(error, match="checksum|reward"):
            submit_recording(path, db)
        assert db.rows(status=None) == []


def test_record_video_writes_one_mp4_per_episode(tmp_path):
    videos = record_video("greedy", "repgym/BubbleBreaker-v0", tmp_path, episodes=2,
                          env_kwargs={"rows": 5, "cols": 5, "colours": 3})  # fmt: skip
    assert [v.name for v in videos] == [
        "greedy-BubbleBreaker-v0-episode-0.mp4",
        "greedy-BubbleBreaker-v0-episode-1.mp4",
    ]
    assert all(v.read_bytes()[4:8] == b"ftyp" for v in videos)  # MP4 container
    with pytest.raises(ValueError, match="neither a checkpoint folder nor an agent name"):
        record_video("no-such-agent", "repgym/Umbrella-v0", tmp_path)


def test_bench_video_records_the_best_seed_of_each_entry(tmp_path):
    jobs = [JobSpec(ENV, "random", seed=s, eval_episodes=3, env_kwargs=KWARGS) for s in range(3)]
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        run_bench(jobs, db, workers=1, progress=False)
        videos = record_best_seeds(jobs, db, tmp_path / "videos")
        rows = db.rows()
    assert len(videos) == 1 and videos[0].is_file()
    best = max(rows, key=lambda r: (r["mean"], -r["seed"]))
    assert [r["video_path"] for r in rows if r["video_path"]] == [str(videos[0])]
    assert best["video_path"] == str(videos[0])
