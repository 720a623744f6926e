"""Helpers shared by the recording and replay tests: write a session, edit a file as a forger would."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np

import repgym  # noqa: F401
from repgym.human.recording import RecordingWriter, _chain


def record_session(directory: Path, env_id: str = "repgym/Umbrella-v0", episodes: int = 2, **env_kwargs) -> Path:
    """Play random actions through a writer: ``episodes`` finished episodes, then one cut short by the close."""
    env = gym.make(env_id, **env_kwargs)
    rng = np.random.default_rng(0)
    with RecordingWriter.create(directory, env_id, "tester", env_kwargs=env_kwargs, seed=10,
                                action_space=env.action_space, durable=False) as writer:  # fmt: skip
        for episode in range(episodes + 1):
            obs, _ = env.reset(seed=10 + episode)
            writer.start_episode(10 + episode, obs)
            done, steps = False, 0
            while not done and (episode < episodes or steps < 2):
                action = int(rng.integers(env.action_space.n))
                obs, reward, terminated, truncated, info = env.step(action)
                writer.step(action, reward, terminated, truncated, obs, info)
                done, steps = terminated or truncated, steps + 1
        return writer.path


def rewrite(path: Path, edit) -> None:
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("".join(line + "\n" for line in lines))


def edit_field(lines: list[str], index: int, **changes) -> None:
    record = json.loads(lines[index])
    record.update(changes)
    lines[index] = json.dumps(record, sort_keys=True, separators=(",", ":"))


def reforge(lines: list[str]) -> None:
    """Recompute every checksum, as a deliberate forger would."""
    chain = ""
    for i, line in enumerate(lines):
        record = json.loads(line)
        record.pop("chain")
        record["chain"] = chain = _chain(chain, record)
        lines[i] = json.dumps(record, sort_keys=True, separators=(",", ":"))
