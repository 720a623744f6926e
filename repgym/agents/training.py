"""``repgym train``: train any registered agent on an env id, save it, evaluate it — one library function.

Works through the common agent interface only (``make_agent``/``load_agent``, ``learn``, ``save``), so the sb3-*
baselines train the same way as repgym's own agents. Periodic checkpoints split training into ``learn`` calls of
``checkpoint_every`` steps, each saved as ``<out>/checkpoints/step_<n>``; for repgym's DQN agents every such
checkpoint resumes the run exactly (``resume=``).
"""

from __future__ import annotations

import inspect
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from repgym.agents import AGENTS, load_agent, make_agent
from repgym.agents.base import Agent
from repgym.runs import Checkpoint, EvalProtocol, EvalResult, play


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_agent` did: the final checkpoint, timing and (if asked) a greedy evaluation."""

    agent: str
    env_id: str
    steps: int  # env steps taken in this run
    total_steps: int  # the agent's step counter afterwards (includes a resumed checkpoint's)
    wall_time_s: float
    checkpoint: Path
    evaluation: EvalResult | None

    @property
    def steps_per_s(self) -> float:
        return self.steps / max(self.wall_time_s, 1e-9)


def make_training_env(env_id: str, env_kwargs: dict[str, Any] | None = None, num_envs: int = 1):
    """``gym.make(env_id)`` or, for ``num_envs > 1``, ``gym.make_vec`` (the env's native vector env if it has one)."""
    import repgym.envs  # noqa: F401  (registers the ids)

    if num_envs < 1:
        raise ValueError(f"num_envs must be at least 1, got {num_envs}")
    if num_envs == 1:
        return gym.make(env_id, **(env_kwargs or {}))
    return gym.make_vec(env_id, num_envs=num_envs, **(env_kwargs or {}))


def train_agent(
    agent_name: str | None,
    env_id: str | None,
    steps: int,
    hyperparameters: dict[str, Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    seed: int | None = 0,
    out_dir: str | os.PathLike = "runs/train",
    num_envs: int = 1,
    progress_bar: bool = False,
    checkpoint_every: int | None = None,
    eval_episodes: int = 10,
    resume: str | os.PathLike | None = None,
) -> TrainResult:
    """Train ``agent_name`` on ``env_id`` for ``steps`` env steps and save it to ``<out_dir>/checkpoint``.

    ``hyperparameters`` go to the agent's constructor, ``env_kwargs`` to the env's; ``num_envs > 1`` trains on a
    vector env (repgym's agents only). Agents that take a ``log_dir`` log to ``<out_dir>/logs`` (TensorBoard and
    CSV). ``resume``: a checkpoint folder to continue from (agent, env and hyperparameters come from it).
    Afterwards the greedy agent plays ``eval_episodes`` episodes on the single env (0: skip).
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    out = Path(out_dir)
    log_dir = out / "logs"
    if resume is not None:
        if hyperparameters or env_kwargs or num_envs != 1:
            raise ValueError("a resumed run takes hyperparameters and env from its checkpoint; drop --set/--env-set")
        recorded = Checkpoint.read(resume)
        agent = load_agent(recorded)
        if hasattr(agent, "log_dir"):
            agent.log_dir = log_dir
        agent_name, env_id = recorded.agent, recorded.env and recorded.env.id
    else:
        if agent_name not in AGENTS:
            raise ValueError(f"unknown agent {agent_name!r}; expected one of {sorted(AGENTS)}")
        if env_id is None:
            raise ValueError("an env id is needed unless resuming from a checkpoint")
        if num_envs > 1 and agent_name.startswith("sb3-"):
            raise ValueError(f"{agent_name} builds its own vectorised env; train it with num_envs=1")
        env = make_training_env(env_id, env_kwargs, num_envs)
        extra = {"log_dir": log_dir} if _accepts(agent_name, "log_dir") else {}
        agent = make_agent(agent_name, env, seed=seed, **(hyperparameters or {}), **extra)
    start_steps, start = agent.num_timesteps, time.perf_counter()
    chunk = steps if checkpoint_every is None else int(checkpoint_every)
    if chunk < 1:
        raise ValueError(f"checkpoint_every must be a positive number of steps, got {checkpoint_every}")
    while agent.num_timesteps - start_steps < steps:
        agent.learn(min(chunk, steps - (agent.num_timesteps - start_steps)), progress_bar=progress_bar)
        if checkpoint_every is not None:
            agent.save(out / "checkpoints" / f"step_{agent.num_timesteps}")
    wall = time.perf_counter() - start
    checkpoint = agent.save(out / "checkpoint")
    evaluation = None
    if eval_episodes > 0:
        evaluation = play(agent, Checkpoint.read(checkpoint).require_env(), EvalProtocol(eval_episodes))
    result = TrainResult(agent_name, str(env_id), agent.num_timesteps - start_steps, agent.num_timesteps, wall,
                         checkpoint, evaluation)  # fmt: skip
    _write_summary(out / "summary.json", result, seed)
    return result


def _accepts(agent_name: str, argument: str) -> bool:
    """Whether the registered agent's constructor takes ``argument`` by name."""
    cls: type[Agent] = AGENTS[agent_name].load_class()
    return argument in inspect.signature(cls.__init__).parameters


def _write_summary(path: Path, result: TrainResult, seed: int | None) -> None:
    ev = result.evaluation
    summary = {
        "agent": result.agent, "env_id": result.env_id, "seed": seed, "steps": result.steps,
        "total_steps": result.total_steps, "wall_time_s": round(result.wall_time_s, 3),
        "steps_per_s": round(result.steps_per_s, 1), "checkpoint": str(result.checkpoint),
        "eval_episodes": None if ev is None else len(ev.returns), "eval_mean_return": None if ev is None else ev.mean,
        "eval_std_return": None if ev is None else ev.std,
    }  # fmt: skip
    path.write_text(json.dumps(summary, indent=2))
