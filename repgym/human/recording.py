"""Recordings of play sessions: an append-only JSON-lines file per session, and its validating reader.

**Where.** :func:`default_recordings_dir`: ``$REPGYM_RECORDINGS`` if set, else
``$XDG_DATA_HOME/repgym/recordings``, else ``~/.local/share/repgym/recordings``. One file per session, named
``<UTC date-time>-<env name>-<player>-<4 hex>.jsonl``.

**Format** (``"format": "repgym-recording"``, version 1). One JSON object per line, keys sorted, in this order:

- ``header``: ``env_id``, ``env_kwargs`` (constructor arguments), ``seed`` (the session's first episode seed),
  ``player``, ``repgym_version``, ``gymnasium_version``, ``started_utc`` (ISO 8601), ``action_space`` (text);
- per episode, ``reset`` (``episode``, ``seed`` — the ``reset(seed=...)`` it was started with —, ``t``,
  ``obs``) then one ``step`` per action (``episode``, ``step``, ``t``, ``action``, ``reward``, ``terminated``,
  ``truncated``, ``obs``) then ``end`` (``episode``, ``reason``: ``terminated`` | ``truncated`` | ``restart`` |
  ``quit`` | ``disconnect`` (a browser that went away mid-episode; readers before it refuse such a file, every
  other file is unchanged), ``return``, ``length``, ``success``: the env's ``info["success"]`` at the end, or
  null);
- ``close`` (``episodes``, ``t``) when the session ended normally.

``t`` is seconds since the session started (monotonic clock); ``obs`` is a 16-hex-digit SHA-256 digest of the
observation (dtype, shape and bytes), so a replay can check every state bit for bit; ``action`` is an int
(discrete spaces) or a list of numbers. Every line ends with ``chain``, the first 16 hex digits of
``sha256(previous line's chain + this line without chain)`` (the header starts from ``""``): an edited, removed
or reordered line breaks the chain. This makes accidental or casual tampering evident; it is not a signature
(anyone can recompute the chain), which is why :mod:`repgym.human.replay` re-simulates every step.

**Atomicity.** Each line is written with one ``write`` to a file opened ``O_APPEND`` and then flushed to disk
(``fsync``), so a crash or Ctrl-C loses at most the step being written; the reader drops an unterminated last
line (an interrupted write) and reports it in :attr:`Recording.partial_tail`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

import repgym

FORMAT = "repgym-recording"
FORMAT_VERSION = 1
ENV_VAR = "REPGYM_RECORDINGS"
END_REASONS = ("terminated", "truncated", "restart", "quit", "disconnect")


class RecordingError(ValueError):
    """A recording that cannot be read: corrupt, altered, or from an unknown format."""


def default_recordings_dir() -> Path:
    """``$REPGYM_RECORDINGS``, else ``$XDG_DATA_HOME/repgym/recordings``, else ``~/.local/share/repgym/recordings``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "repgym" / "recordings"


def obs_digest(obs: Any) -> str:
    """16-hex-digit SHA-256 of an observation (arrays by dtype, shape and bytes; dicts by sorted key; tuples in
    order), identical for bit-identical observations."""
    h = hashlib.sha256()

    def feed(x: Any) -> None:
        if isinstance(x, dict):
            for key in sorted(x):
                h.update(f"<{key}>".encode())
                feed(x[key])
        elif isinstance(x, tuple | list):
            for item in x:
                h.update(b"|")
                feed(item)
        else:
            arr = np.ascontiguousarray(x)
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.tobytes())

    feed(obs)
    return h.hexdigest()[:16]


def action_to_json(action: Any) -> int | float | list:
    """A JSON value that :func:`action_from_json` turns back into the identical action."""
    arr = np.asarray(action)
    if arr.ndim == 0:
        return arr.item()
    return arr.tolist()


def action_from_json(value: Any, space: spaces.Space) -> Any:
    """The action for ``space`` that ``value`` (from :func:`action_to_json`) stands for; ValueError if it does not
    belong to ``space``."""
    if isinstance(space, spaces.Discrete):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"action {value!r} is not an integer of {space}")
        action = int(value)
    else:
        action = np.asarray(value, dtype=space.dtype)
        if action.shape != space.shape:
            raise ValueError(f"action {value!r} does not have the shape {space.shape} of {space}")
    if not space.contains(action):
        raise ValueError(f"action {value!r} is not in {space}")
    return action


def _canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def _chain(previous: str, record: dict[str, Any]) -> str:
    return hashlib.sha256((previous + _canonical(record)).encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


class RecordingWriter:
    """Appends one session's records to a new file (see the module docstring for the format).

    ``RecordingWriter.create(directory, env_id, ...)`` picks a fresh file name; use as a context manager or call
    :meth:`close`. ``durable=False`` skips ``fsync`` (for tests and fast automated play)."""

    def __init__(
        self,
        path: str | Path,
        env_id: str,
        env_kwargs: dict[str, Any],
        seed: int,
        player: str,
        action_space: spaces.Space,
        durable: bool = True,
    ) -> None:
        self.path = Path(path)
        self.durable = durable
        self._chain = ""
        self._start = time.monotonic()
        self.episode = -1
        self._steps = 0
        self._return = 0.0
        self._open = False
        try:
            json.dumps(env_kwargs)
        except TypeError as err:
            raise ValueError(f"env_kwargs must be JSON-serialisable to be recorded: {err}") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._write(
            kind="header",
            format=FORMAT,
            version=FORMAT_VERSION,
            env_id=env_id,
            env_kwargs=dict(env_kwargs),
            seed=int(seed),
            player=player,
            repgym_version=repgym.__version__,
            gymnasium_version=gym.__version__,
            started_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            action_space=str(action_space),
        )

    @classmethod
    def create(cls, directory: str | Path | None, env_id: str, player: str, **kwargs: Any) -> RecordingWriter:
        """A writer on a new file in ``directory`` (default: :func:`default_recordings_dir`)."""
        directory = Path(directory).expanduser() if directory is not None else default_recordings_dir()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}-{_slug(env_id.split('/')[-1])}-{_slug(player)}-{secrets.token_hex(2)}.jsonl"
        return cls(directory / name, env_id, player=player, **kwargs)

    def _write(self, **record: Any) -> None:
        record["chain"] = self._chain = _chain(self._chain, record)
        data = (_canonical(record) + "\n").encode()
        while data:  # one write in practice; a loop only guards against short writes
            data = data[os.write(self._fd, data) :]
        if self.durable:
            os.fsync(self._fd)

    def _now(self) -> float:
        return round(time.monotonic() - self._start, 6)

    def start_episode(self, seed: int, obs: Any) -> None:
        """Record a ``reset(seed=seed)`` that returned ``obs``; an episode still open is ended as a restart."""
        if self._open:
            self.end_episode("restart")
        self.episode += 1
        self._steps, self._return, self._open = 0, 0.0, True
        self._write(kind="reset", episode=self.episode, seed=int(seed), t=self._now(), obs=obs_digest(obs))

    def step(self, action: Any, reward: float, terminated: bool, truncated: bool, obs: Any, info: dict) -> None:
        """Record one step; a step that ends the episode also writes its ``end`` line."""
        if not self._open:
            raise RuntimeError("start_episode() before step()")
        self._write(
            kind="step",
            episode=self.episode,
            step=self._steps,
            t=self._now(),
            action=action_to_json(action),
            reward=float(reward),
            terminated=bool(terminated),
            truncated=bool(truncated),
            obs=obs_digest(obs),
        )
        self._steps += 1
        self._return += float(reward)
        if terminated or truncated:
            success = info.get("success")
            success = success if isinstance(success, bool) else None
            self.end_episode("terminated" if terminated else "truncated", success)

    def end_episode(self, reason: str, success: bool | None = None) -> None:
        """Close the current episode (``reason`` in ``END_REASONS``); does nothing when none is open."""
        if reason not in END_REASONS:
            raise ValueError(f"reason must be one of {END_REASONS}, got {reason!r}")
        if not self._open:
            return
        self._open = False
        self._write(kind="end", episode=self.episode, reason=reason, t=self._now(), success=success,
                    length=self._steps, **{"return": self._return})  # fmt: skip

    def close(self, reason: str = "quit") -> None:
        """End an open episode with ``reason`` (``quit``, or ``disconnect`` when the player's connection dropped),
        write the ``close`` line and close the file (idempotent)."""
        if self._fd is None:
            return
        self.end_episode(reason)
        self._write(kind="close", episodes=self.episode + 1, t=self._now())
        os.close(self._fd)
        self._fd = None

    def abandon(self) -> None:
        """Close the file without an ``end`` or ``close`` line, as a crash would leave it: the reader then reports
        that the session did not end normally (idempotent; :meth:`close` does nothing after it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reading -------------------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One recorded step."""

    action: Any  # as stored: int or list
    reward: float
    terminated: bool
    truncated: bool
    t: float  # seconds since the session started
    obs: str  # digest of the observation after the step


@dataclass
class Episode:
    """One recorded episode; ``end_reason`` is None when the file stops inside it (interrupted session)."""

    index: int
    seed: int
    t: float
    obs: str  # digest of the observation after reset
    steps: list[Step] = field(default_factory=list)
    end_reason: str | None = None
    success: bool | None = None

    @property
    def finished(self) -> bool:
        """The game itself ended it (terminated or truncated), rather than a restart, a quit or a crash."""
        return self.end_reason in ("terminated", "truncated")

    @property
    def total_reward(self) -> float:
        total = 0.0
        for step in self.steps:
            total += step.reward
        return total


@dataclass
class Recording:
    """A validated recording: its header and episodes."""

    path: Path
    header: dict[str, Any]
    episodes: list[Episode]
    closed: bool  # the session ended normally (a ``close`` line)
    partial_tail: bool  # an unterminated last line (interrupted write) was dropped

    @property
    def env_id(self) -> str:
        return self.header["env_id"]

    @property
    def env_kwargs(self) -> dict[str, Any]:
        return dict(self.header["env_kwargs"])

    @property
    def player(self) -> str:
        return self.header["player"]


_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "header": {"format": str, "version": int, "env_id": str, "env_kwargs": dict, "seed": int, "player": str,
               "repgym_version": str, "gymnasium_version": str, "started_utc": str, "action_space": str},
    "reset": {"episode": int, "seed": int, "t": (int, float), "obs": str},
    "step": {"episode": int, "step": int, "t": (int, float), "action": (int, float, list), "reward": (int, float),
             "terminated": bool, "truncated": bool, "obs": str},
    "end": {"episode": int, "reason": str, "t": (int, float), "success": (bool, type(None)), "length": int,
            "return": (int, float)},
    "close": {"episodes": int, "t": (int, float)},
}  # fmt: skip


def _check_fields(record: dict[str, Any], where: str) -> str:
    kind = record.get("kind")
    if kind not in _FIELDS:
        raise RecordingError(f"{where}: unknown record kind {kind!r}; expected one of {sorted(_FIELDS)}")
    for name, types in _FIELDS[kind].items():
        if name not in record:
            raise RecordingError(f"{where}: {kind} record lacks {name!r}")
        value, allowed = record[name], types if isinstance(types, tuple) else (types,)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            expected = " or ".join(t.__name__ for t in allowed)
            raise RecordingError(f"{where}: {kind} record has {name}={value!r}; expected {expected}")
    return kind


def read_recording(path: str | Path) -> Recording:
    """Read and validate a recording; :class:`RecordingError` (one line, naming the file and line) if it is
    corrupt, altered or out of order. An unterminated last line is an interrupted write and is dropped."""
    path = Path(path)
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    partial_tail = lines[-1] != b""
    lines = lines[:-1]
    if not lines:
        raise RecordingError(f"{path.name}: empty recording (no complete line)")
    chain = ""
    header: dict[str, Any] = {}
    episodes: list[Episode] = []
    closed = False
    for number, line in enumerate(lines, start=1):
        where = f"{path.name} line {number}"
        try:
            record = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RecordingError(f"{where}: not valid JSON (corrupted file?)") from None
        if not isinstance(record, dict):
            raise RecordingError(f"{where}: expected a JSON object, got {type(record).__name__}")
        stored = record.pop("chain", None)
        chain = _chain(chain, record)
        if stored != chain:
            raise RecordingError(f"{where}: checksum mismatch — the recording was altered or corrupted after it was "
                                 "written")  # fmt: skip
        kind = _check_fields(record, where)
        if closed:
            raise RecordingError(f"{where}: {kind} record after the session's close record")
        if number == 1:
            if kind != "header" or record["format"] != FORMAT:
                raise RecordingError(f"{where}: not a repgym recording (expected a {FORMAT!r} header first)")
            if record["version"] > FORMAT_VERSION:
                raise RecordingError(f"{where}: format version {record['version']} is newer than this repgym reads "
                                     f"({FORMAT_VERSION}); upgrade repgym")  # fmt: skip
            header = record
            continue
        current = episodes[-1] if episodes and episodes[-1].end_reason is None else None
        if kind == "header":
            raise RecordingError(f"{where}: a second header")
        if kind == "reset":
            if current is not None or record["episode"] != len(episodes):
                raise RecordingError(f"{where}: reset of episode {record['episode']} out of order")
            episodes.append(Episode(record["episode"], record["seed"], record["t"], record["obs"]))
        elif kind == "step":
            if current is None or record["episode"] != current.index or record["step"] != len(current.steps):
                raise RecordingError(f"{where}: step {record['step']} of episode {record['episode']} out of order")
            current.steps.append(Step(record["action"], float(record["reward"]), record["terminated"],
                                      record["truncated"], record["t"], record["obs"]))  # fmt: skip
        elif kind == "end":
            if current is None or record["episode"] != current.index:
                raise RecordingError(f"{where}: end of episode {record['episode']} out of order")
            _check_end(record, current, where)
            current.end_reason, current.success = record["reason"], record["success"]
        else:
            if current is not None or record["episodes"] != len(episodes):
                raise RecordingError(f"{where}: close record does not match the episodes recorded")
            closed = True
    return Recording(path, header, episodes, closed, partial_tail)


def _check_end(record: dict[str, Any], episode: Episode, where: str) -> None:
    """An ``end`` line must agree with the steps before it."""
    reason, last = record["reason"], episode.steps[-1] if episode.steps else None
    if reason not in END_REASONS:
        raise RecordingError(f"{where}: unknown end reason {reason!r}; expected one of {END_REASONS}")
    game_over = last is not None and (last.terminated or last.truncated)
    if (reason in ("terminated", "truncated")) != game_over or (
        game_over and (reason == "terminated") != last.terminated
    ):
        raise RecordingError(f"{where}: end reason {reason!r} does not match the last step")
    if record["length"] != len(episode.steps) or record["return"] != episode.total_reward:
        raise RecordingError(f"{where}: episode {episode.index} length/return do not match its steps")
