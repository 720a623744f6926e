"""``repgym leaderboard submit``: a person's play recording becomes a ``human:<player>`` row, after a replay proves it.

The recording is read (its checksum chain, :mod:`repgym.human.recording`) and then re-simulated step by step
(:func:`repgym.human.replay.replay`): a file whose rewards, episode ends or observations the env does not
reproduce is rejected, whatever its checksums say. Only finished episodes (the game ended them) count, as in
:func:`repgym.human.scores.human_score`. The row's key is the file's hash, so submitting the same
recording twice adds it once.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repgym.benchmark.jobs import worker_identity
from repgym.benchmark.store import LeaderboardStore
from repgym.human.recording import RecordingError, read_recording
from repgym.human.replay import replay


@dataclass(frozen=True)
class Submission:
    """What :func:`submit_recording` added: ``row_id`` is None when the recording was already on the board."""

    row_id: int | None
    agent: str
    env_id: str
    episodes: int
    mean: float

    @property
    def duplicate(self) -> bool:
        return self.row_id is None


def submit_recording(path: str | os.PathLike, store: LeaderboardStore) -> Submission:
    """Validate ``path`` by replay and add its finished episodes to ``store``; :class:`RecordingError` (a
    ``ValueError``) when the file is corrupt, altered or not reproduced by the env."""
    path = Path(path)
    recording = read_recording(path)
    replay(recording)
    finished = [ep for ep in recording.episodes if ep.finished]
    if not finished:
        raise RecordingError(f"{path.name}: no finished episode to submit (every episode was restarted or quit)")
    returns = np.array([ep.total_reward for ep in finished], dtype=np.float64)
    last_t = max((ep.steps[-1].t if ep.steps else ep.t) for ep in recording.episodes)
    agent = f"human:{recording.player}"
    row = {"job_key": "human:" + hashlib.sha256(path.read_bytes()).hexdigest()[:32], "status": "ok",
           "kind": "human", "env_id": recording.env_id, "env_kwargs": recording.env_kwargs, "agent": agent,
           "hyperparameters": {}, "seed": int(recording.header["seed"]), "train_steps": None,
           "eval_episodes": len(finished), "protocol": "human", "returns": returns.tolist(),
           "mean": float(returns.mean()), "std": float(returns.std()), "wall_time_s": float(last_t),
           "repgym_version": recording.header["repgym_version"], "git_commit": None,
           "created_utc": recording.header["started_utc"], "source": str(path.resolve()),
           "worker": worker_identity()}  # fmt: skip
    row_id = store.add_result(row)
    return Submission(row_id, agent, recording.env_id, len(finished), float(returns.mean()))


__all__ = ["Submission", "submit_recording"]
