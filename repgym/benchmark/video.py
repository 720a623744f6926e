"""Videos of agents playing: ``repgym record`` and ``repgym bench --video``, through Gymnasium's ``RecordVideo``
(MP4 via moviepy).

An agent is a checkpoint folder (any registered agent, :func:`repgym.agents.load_agent`), a baseline name
(``random``, ``greedy``, ...) or a registered agent name (played untrained). Episodes use the leaderboard's
evaluation seeds, so a video shows the games the scores were measured on.
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from repgym.benchmark.jobs import JobSpec
from repgym.benchmark.store import LeaderboardStore
from repgym.runs import Checkpoint, EvalProtocol, is_checkpoint_ref, play


def make_player(agent: str | os.PathLike, env: gym.Env, seed: int = 0) -> Any:
    """Something with ``predict`` that plays ``env``: a loaded checkpoint, a baseline, or a fresh registered agent."""
    from repgym.agents import AGENTS, load_agent, make_agent
    from repgym.agents.base import META_FILE
    from repgym.benchmark.baseline_policies import BaselineAgent, baseline_name, is_baseline

    if is_checkpoint_ref(agent):
        return load_agent(agent, env=env)
    name = baseline_name(str(agent))
    if is_baseline(name):
        return BaselineAgent(name, env, seed=seed)
    if name in AGENTS:
        return make_agent(name, env, seed=seed)
    raise ValueError(f"{name!r} is neither a checkpoint folder nor an agent name; expected a folder with "
                     f"{META_FILE}, zoo:NAME, a baseline (random, greedy, ...) or one of {sorted(AGENTS)}")  # fmt: skip


def record_video(
    agent: str | os.PathLike,
    env_id: str | None,
    out_dir: str | os.PathLike,
    episodes: int = 1,
    env_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
    name_prefix: str | None = None,
) -> list[Path]:
    """Play ``episodes`` episodes (the run protocol's evaluation seeds) and write one MP4 per episode to ``out_dir``;
    ``env_id`` may be None for a checkpoint (its recorded env is used). Returns the video files."""
    import repgym.envs  # noqa: F401  (registers the ids)
    from repgym.benchmark.baseline_policies import baseline_name

    label = baseline_name(str(agent))  # policy:greedy -> greedy: no colon in file names
    if is_checkpoint_ref(agent):
        checkpoint = Checkpoint.read(agent)
        label = checkpoint.agent
        recorded = checkpoint.env
        env_id = env_id or (recorded and recorded.id)
        if env_kwargs is None and recorded is not None and env_id == recorded.id:
            env_kwargs = dict(recorded.kwargs)
    if not env_id:
        raise ValueError("give an env id (the agent is not a checkpoint that records one)")
    out = Path(out_dir)
    prefix = name_prefix or f"{label}-{env_id.split('/')[-1]}"
    env = gym.make(env_id, render_mode="rgb_array", **(env_kwargs or {}))
    with warnings.catch_warnings():  # a shared videos folder is expected; files are told apart by their prefix
        warnings.filterwarnings("ignore", message=".*Overwriting existing videos.*")
        env = gym.wrappers.RecordVideo(env, str(out), episode_trigger=lambda _: True, name_prefix=prefix)
    try:
        play(make_player(agent, env, seed), env, EvalProtocol(episodes, rng_seed=seed))
    finally:
        env.close()
    return sorted(out.glob(f"{prefix}-episode-*.mp4"))


def record_best_seeds(jobs: Sequence[JobSpec], store: LeaderboardStore, out_dir: str | os.PathLike) -> list[Path]:
    """For every entry among ``jobs`` (jobs that differ only in seed), record one episode of its best finished
    seed (highest mean return, ties to the lowest seed) and attach the video to that row. Returns the videos written."""
    by_entry: dict[str, set[str]] = defaultdict(set)
    for job in jobs:
        by_entry[job.entry_key].add(job.key)
    rows = {r["job_key"]: r for r in store.rows(env_ids={j.env_id for j in jobs})}
    written = []
    for entry_key, keys in by_entry.items():
        finished = [rows[k] for k in keys if k in rows]
        if not finished:
            continue
        best = max(finished, key=lambda r: (r["mean"], -r["seed"]))  # ties: the lowest seed
        player = best["checkpoint"] or best["agent"]
        prefix = f"{best['env_id'].split('/')[-1]}-{best['agent']}-{entry_key[:8]}-seed{best['seed']}"
        videos = record_video(player, best["env_id"], out_dir, 1, env_kwargs=best["env_kwargs"], seed=best["seed"],
                              name_prefix=prefix)  # fmt: skip
        if videos:
            store.set_video(best["id"], videos[0])
            written.append(videos[0])
    return written


__all__ = ["make_player", "record_best_seeds", "record_video"]
