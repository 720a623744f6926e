"""One benchmark job: train (learners) and evaluate one agent on one env with one seed, as a result row.

A job is described by a :class:`JobSpec`, whose :attr:`~JobSpec.key` (a hash of env, env config, agent,
hyperparameters, seed, training steps and evaluation protocol) identifies it across runs: a rerun skips the
keys that already have a finished row. :func:`execute_job` runs in a worker process or a Ray task, never raises
for a failing agent or env (it returns a ``failed`` row with the error), and returns a plain dict that the
driver writes to the database.

Evaluation protocol (:mod:`repgym.runs`): episode ``i`` is reset with seed ``DEFAULT_FIRST_SEED + i`` for every
agent and every seed, so all rows of an env face the same games; the agent acts greedily (``deterministic``) or
epsilon-greedily (``epsilon=e``: a uniformly random legal action with probability ``e``), and only legal moves are
offered where the env has action masks.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import resource
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from repgym.runs import ZOO_PREFIX, EnvSpec, EvalProtocol, play
from repgym.runs.env_spec import canonical_kwargs


@dataclass(frozen=True)
class JobSpec:
    """What one job runs. ``train_steps`` is 0 for baselines, at least 1 for learning agents; for a shipped agent
    (``zoo:NAME``, evaluated only) the budget it was trained with. ``num_envs``: the vector env a learner trains on."""

    env_id: str
    agent: str
    seed: int
    train_steps: int = 0
    eval_episodes: int = 10
    epsilon: float = 0.0  # evaluation protocol: 0 acts greedily, else epsilon-greedy
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    suite: str | None = None  # which suite asked for it (not part of the key)
    num_envs: int = 1  # part of the key only when not 1 (keys of jobs written before it existed stay valid)

    @property
    def protocol(self) -> str:
        return "deterministic" if self.epsilon == 0 else f"epsilon={self.epsilon:g}"

    def identity(self, with_seed: bool = True) -> dict[str, Any]:
        """The fields that define the job (its key); without the seed: the leaderboard entry it belongs to."""
        out = {"env_id": self.env_id, "env_kwargs": self.env_kwargs, "agent": self.agent,
               "hyperparameters": self.hyperparameters, "train_steps": self.train_steps,
               "eval_episodes": self.eval_episodes, "protocol": self.protocol}  # fmt: skip
        if self.num_envs != 1:
            out["num_envs"] = self.num_envs
        return {**out, "seed": self.seed} if with_seed else out

    @property
    def key(self) -> str:
        return _digest(self.identity())

    @property
    def entry_key(self) -> str:
        return _digest(self.identity(with_seed=False))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _digest(value: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def worker_identity() -> dict[str, Any]:
    """Where this job runs: host and pid, plus the Ray node and task ids inside a Ray task."""
    out: dict[str, Any] = {"host": platform.node(), "pid": os.getpid()}
    ray = sys.modules.get("ray")  # a Ray worker has imported it; nothing else needs to
    if ray is not None and ray.is_initialized():
        ctx = ray.get_runtime_context()
        out.update(ray_node_id=ctx.get_node_id(), ray_task_id=ctx.get_task_id())
    return out


def learning_curve(log_dir: Path) -> list[list[float]] | None:
    """``[[env step, mean training episode return], ...]`` from an agent's ``metrics.csv`` (repgym's own agents
    write one through :class:`repgym.agents.logger.RunLogger`), or None when there is none."""
    path = log_dir / "metrics.csv"
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        points = [[int(r["step"]), float(r["value"])] for r in csv.DictReader(f)
                  if r["metric"] == "rollout/episode_return"]  # fmt: skip
    return points or None


def run_job(spec: JobSpec, run_dir: str | os.PathLike) -> dict[str, Any]:
    """Train (if a learner) and evaluate ``spec``; returns the finished result row. Raises on failure."""
    import repgym.envs  # noqa: F401  (registers the ids)
    from repgym.benchmark.baseline_policies import BaselineAgent, is_baseline

    env = gym.make(spec.env_id, **spec.env_kwargs)
    checkpoint, curve = None, None
    try:
        if spec.agent.startswith(ZOO_PREFIX):
            agent = _shipped_agent(spec, env)
            checkpoint = spec.agent
        elif is_baseline(spec.agent):
            if spec.train_steps:
                raise ValueError(f"baseline {spec.agent!r} does not train; train_steps must be 0")
            if spec.hyperparameters:
                raise ValueError(f"baseline {spec.agent!r} takes no hyperparameters, got {spec.hyperparameters}")
            agent: Any = BaselineAgent(spec.agent, env, seed=spec.seed)
        else:
            import torch

            from repgym.agents import load_agent
            from repgym.agents.training import train_agent

            torch.set_num_threads(1)
            if spec.train_steps < 1:
                raise ValueError(f"agent {spec.agent!r} learns; give it train_steps >= 1")
            out = Path(run_dir) / spec.key  # the job's own folder: a rerun of the job trains afresh
            result = train_agent(spec.agent, spec.env_id, spec.train_steps, hyperparameters=spec.hyperparameters,
                                 env_kwargs=spec.env_kwargs, seed=spec.seed, out_dir=out, eval_episodes=0,
                                 num_envs=spec.num_envs, overwrite=True)  # fmt: skip
            checkpoint, curve = str(result.checkpoint), learning_curve(out / "logs")
            agent = load_agent(result.checkpoint, env=env)
        protocol = EvalProtocol(spec.eval_episodes, epsilon=spec.epsilon, rng_seed=spec.seed)
        result = play(agent, env, protocol)
    finally:
        env.close()
    returns = result.returns
    return {"status": "ok", "returns": returns.tolist(), "mean": float(returns.mean()), "std": float(returns.std()),
            "success_rate": result.success_rate, "checkpoint": checkpoint, "learning_curve": curve}  # fmt: skip


def _shipped_agent(spec: JobSpec, env: gym.Env) -> Any:
    """The zoo checkpoint ``spec.agent`` (``zoo:NAME``), loaded for ``env`` after checking that the job asks for
    the env configuration and budget the manifest records (a job evaluates the shipped agent, it never trains)."""
    from repgym.agents import load_agent
    from repgym.agents.zoo import zoo_entry

    entry = zoo_entry(spec.agent.removeprefix(ZOO_PREFIX))
    if spec.hyperparameters:
        raise ValueError(
            f"{spec.agent} is evaluated as shipped; it takes no hyperparameters, got {spec.hyperparameters}"
        )
    asked, shipped = EnvSpec(spec.env_id, spec.env_kwargs), entry.env
    if (
        canonical_kwargs(asked.id, asked.kwargs) != canonical_kwargs(shipped.id, shipped.kwargs)
        or asked.id != shipped.id
    ):
        raise ValueError(f"{spec.agent} was trained on {shipped}; the job asks for {asked}")
    if spec.train_steps != entry.train_steps:
        raise ValueError(f"{spec.agent} was trained for {entry.train_steps} steps; the job says {spec.train_steps}")
    return load_agent(spec.agent, env=env)


def execute_job(spec: JobSpec | dict[str, Any], run_dir: str | os.PathLike) -> dict[str, Any]:
    """:func:`run_job` as a database row: the job's identity, its results or its error, wall time and worker.
    A failing job returns a ``failed`` row instead of raising, so the rest of a benchmark goes on."""
    spec = spec if isinstance(spec, JobSpec) else JobSpec(**spec)
    start, cpu_start = time.perf_counter(), cpu_seconds()
    row: dict[str, Any] = {
        "job_key": spec.key, "kind": "agent", "env_id": spec.env_id, "env_kwargs": spec.env_kwargs,
        "agent": spec.agent, "hyperparameters": spec.hyperparameters, "seed": spec.seed,
        "train_steps": spec.train_steps, "eval_episodes": spec.eval_episodes, "protocol": spec.protocol,
        "suite": spec.suite, "worker": worker_identity(),
    }  # fmt: skip
    try:
        row.update(run_job(spec, run_dir))
    except Exception as err:  # noqa: BLE001  (any agent/env error is recorded, not fatal)
        tail = "".join(traceback.format_exception(err)[-3:])
        row.update(status="failed", error=f"{type(err).__name__}: {err}\n{tail}")
    row["wall_time_s"] = round(time.perf_counter() - start, 3)
    row["cpu_time_s"] = round(cpu_seconds() - cpu_start, 3)
    return row


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads) and of the child processes it has waited for
    (the world model's CMA-ES workers): a job's cost on a shared machine, where wall time depends on the load."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


__all__ = ["JobSpec", "cpu_seconds", "execute_job", "learning_curve", "run_job", "worker_identity"]
