"""Helpers shared by the leaderboard tests: a recorded session of a person playing well, a forger's edit, a run slow
enough to kill part-way, and envs that crash or hang the worker they run in."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import gymnasium as gym

import repgym  # noqa: F401
from repgym.benchmark import JobSpec
from repgym.human.recording import RecordingWriter, _chain

ENV, KWARGS = "repgym/KeyToDoor-v0", {"delay": 2}


def record_session(directory: Path, episodes: int = 3) -> Path:
    """A person who always plays the optimal move (the oracle), so the human reference beats random."""
    env = gym.make(ENV, **KWARGS)
    with RecordingWriter.create(directory, ENV, "alice", env_kwargs=KWARGS, seed=5, action_space=env.action_space,
                                durable=False) as writer:  # fmt: skip
        for episode in range(episodes):
            obs, _ = env.reset(seed=5 + episode)
            writer.start_episode(5 + episode, obs)
            done = False
            while not done:
                action = env.unwrapped.optimal_action()
                obs, reward, terminated, truncated, info = env.step(action)
                writer.step(action, reward, terminated, truncated, obs, info)
                done = terminated or truncated
        return writer.path


def forge_reward(path: Path, reforge: bool) -> None:
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if json.loads(line)["kind"] == "step")
    record = json.loads(lines[index])
    record["reward"] = record["reward"] + 100.0
    lines[index] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    end = next(i for i, line in enumerate(lines) if json.loads(line)["kind"] == "end")
    summary = json.loads(lines[end])
    summary["return"] += 100.0  # keep the episode's summary consistent with the forged step
    lines[end] = json.dumps(summary, sort_keys=True, separators=(",", ":"))
    if reforge:  # recompute every checksum, as a deliberate forger would: only the replay can tell
        chain = ""
        for i, line in enumerate(lines):
            rec = json.loads(line)
            rec.pop("chain")
            rec["chain"] = chain = _chain(chain, rec)
            lines[i] = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    path.write_text("".join(line + "\n" for line in lines))


def slow_jobs() -> list[JobSpec]:
    """20 baseline jobs of about 0.1-0.3 s each: a run of them can be killed after a few have finished."""
    return [JobSpec("repgym/BubbleBreaker-v0", "random", seed=s, eval_episodes=10) for s in range(20)]


class CrashEnv(gym.Env):
    """An env whose reset kills the process it runs in, as a segfault in native code would."""

    observation_space = gym.spaces.Discrete(1)
    action_space = gym.spaces.Discrete(1)

    def reset(self, *, seed=None, options=None):
        os._exit(3)


class HangEnv(gym.Env):
    """An env whose reset prints ``worker pid <pid>`` and then blocks for good: a job that never ends."""

    observation_space = gym.spaces.Discrete(1)
    action_space = gym.spaces.Discrete(1)

    def reset(self, *, seed=None, options=None):
        print(f"worker pid {os.getpid()}", flush=True)
        threading.Event().wait()


def idle_worker(lifeline: Any) -> None:
    """A benchmark worker's start-up, then nothing: it ends only when its lifeline does."""
    from repgym.worker_pool import _init_tethered

    _init_tethered(os.getppid(), lifeline, None, ())
    threading.Event().wait()


if "Crash-v0" not in gym.registry:  # gym.make("leaderboard_helpers:Crash-v0") imports this module
    gym.register("Crash-v0", entry_point=CrashEnv)
    gym.register("Hang-v0", entry_point=HangEnv)
