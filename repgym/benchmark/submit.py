"""``repgym leaderboard submit``: a person's play recording becomes a ``human:<player>`` row, after a replay proves it.

The recording is read (its checksum chain, :mod:`repgym.human.recording`) and then re-simulated step by step
(:func:`repgym.human.replay.replay`): a file whose rewards, episode ends or observations the env does not
reproduce is rejected, whatever its checksums say. Only finished episodes (the game ended them) count, as in
:func:`repgym.human.scores.human_score`.

**One session, one row.** A session is identified by its content, not by its file: the env, its settings, the
session's seed and player (:func:`session_identity`) and, per finished episode, its index, seed and actions
(:func:`episode_digests`). The row's key holds both, so a copy of a submitted recording — whole, cut short, or
without its ``close`` line — is recognised as the same session: its finished episodes are a prefix of the
submitted ones (or the other way round), and it is not added again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repgym.benchmark.jobs import worker_identity
from repgym.benchmark.store import LeaderboardStore
from repgym.human.recording import Episode, Recording, RecordingError, read_recording
from repgym.human.replay import replay

KEY_PREFIX = "human:"


@dataclass(frozen=True)
class Submission:
    """What :func:`submit_recording` did: ``row_id`` is None when the session was already on the board, and then
    ``duplicate_of`` is the id of the row that holds it."""

    row_id: int | None
    agent: str
    env_id: str
    episodes: int
    mean: float
    duplicate_of: int | None = None

    @property
    def duplicate(self) -> bool:
        return self.row_id is None


def _digest(value: object, size: int) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:size]


def session_identity(recording: Recording) -> str:
    """16 hex digits naming who played what: env id, settings, the session's seed and the player."""
    h = recording.header
    return _digest([h["env_id"], h["env_kwargs"], h["seed"], h["player"]], 16)


def episode_digests(episodes: list[Episode]) -> list[str]:
    """12 hex digits per episode: its index, its reset seed and its actions, in order."""
    return [_digest([ep.index, ep.seed, [step.action for step in ep.steps]], 12) for ep in episodes]


def session_key(recording: Recording) -> str:
    """The row key of a recording's session: ``human:<identity>:<digest>.<digest>...`` over its finished episodes."""
    finished = [ep for ep in recording.episodes if ep.finished]
    return f"{KEY_PREFIX}{session_identity(recording)}:{'.'.join(episode_digests(finished))}"


def same_session(key: str, other: str) -> bool:
    """Whether two row keys hold one session: same identity, and one's finished episodes begin the other's."""
    if not (key.startswith(KEY_PREFIX) and other.startswith(KEY_PREFIX)):
        return False
    identity, _, episodes = key.removeprefix(KEY_PREFIX).partition(":")
    other_identity, _, other_episodes = other.removeprefix(KEY_PREFIX).partition(":")
    if identity != other_identity or not episodes or not other_episodes:
        return False
    mine, theirs = episodes.split("."), other_episodes.split(".")
    shorter = min(len(mine), len(theirs))
    return mine[:shorter] == theirs[:shorter]


def _submitted_row(store: LeaderboardStore, recording: Recording, key: str) -> int | None:
    """The id of the row that already holds this recording's session, or None."""
    for row in store.rows(env_ids=[recording.env_id]):
        if row["kind"] == "human" and same_session(key, row["job_key"]):
            return int(row["id"])
    return None


def _success_rate(finished: list) -> float | None:
    """The fraction of finished episodes the env called a success; None where it reports no success."""
    flags = [ep.success for ep in finished]
    return None if any(f is None for f in flags) else float(np.mean(flags))


def submit_recording(path: str | os.PathLike, store: LeaderboardStore) -> Submission:
    """Validate ``path`` by replay and add its finished episodes to ``store``; :class:`RecordingError` (a
    ``ValueError``) when the file is corrupt, altered, not reproduced by the env, or holds no finished episode. A
    session already on the board is not added again (``Submission.duplicate``)."""
    path = Path(path)
    recording = read_recording(path)
    finished = [ep for ep in recording.episodes if ep.finished]
    if not finished:
        raise RecordingError(f"{path.name}: no finished episode: only a game played to its end counts, and none of "
                             f"its {len(recording.episodes)} episodes was")  # fmt: skip
    returns = np.array([ep.total_reward for ep in finished], dtype=np.float64)
    agent, key = f"human:{recording.player}", session_key(recording)
    summary = (agent, recording.env_id, len(finished), float(returns.mean()))
    replay(recording)  # first: a tampered copy is reported as tampered, whatever it is a copy of
    earlier = _submitted_row(store, recording, key)
    if earlier is not None:
        return Submission(None, *summary, duplicate_of=earlier)
    last_t = max((ep.steps[-1].t if ep.steps else ep.t) for ep in recording.episodes)
    row = {"job_key": key, "status": "ok", "kind": "human", "env_id": recording.env_id,
           "env_kwargs": recording.env_kwargs, "agent": agent, "hyperparameters": {},
           "seed": int(recording.header["seed"]), "train_steps": None, "eval_episodes": len(finished),
           "protocol": "human", "returns": returns.tolist(), "mean": float(returns.mean()),
           "std": float(returns.std()), "wall_time_s": float(last_t), "success_rate": _success_rate(finished),
           "repgym_version": recording.header["repgym_version"], "git_commit": None,
           "created_utc": recording.header["started_utc"], "source": str(path.resolve()),
           "worker": worker_identity()}  # fmt: skip
    row_id = store.add_result(row)
    if row_id is None:  # another process added the same session between the check and now
        return Submission(None, *summary, duplicate_of=_submitted_row(store, recording, key))
    return Submission(row_id, *summary)


__all__ = ["Submission", "episode_digests", "same_session", "session_identity", "session_key", "submit_recording"]
