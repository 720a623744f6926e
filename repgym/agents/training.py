"""``repgym train``: train any registered agent on an env id, save it, evaluate it — one library function.

Works through the common agent interface only (``make_agent``/``load_agent``, ``learn``, ``save``), so the sb3-*
baselines train the same way as repgym's own agents. Periodic checkpoints split training into ``learn`` calls of
``checkpoint_every`` steps, each saved as ``<out>/checkpoints/step_<n>``; for repgym's DQN agents every such
checkpoint resumes the run exactly (``resume=``).

**A run folder survives interruption.** ``<out>/summary.json`` records the run's settings, its target step count
and whether it finished. A :class:`~repgym.agents.callbacks.StopTraining` flag that is set (``repgym train`` sets it
on SIGINT/SIGTERM) ends learning at the next step boundary; the agent is saved to ``<out>/checkpoint`` (swapped in
whole) and the run is marked unfinished. Training again into the same folder with the same settings resumes from
its latest checkpoint up to the original target, and ``metrics.csv`` drops the rows logged after that checkpoint;
other settings, or a finished run, are refused unless ``overwrite``.

**Tuned entries** (``tuned=True``, as ``repgym train`` does unless ``--no-tuned``): the agent's entry for the env in
``repgym/agents/hyperparams/<agent>.toml`` gives the defaults — hyperparameters, env arguments, ``n_timesteps`` and
``n_envs`` — that the given values override; the merged values are the run's settings.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repgym.agents import AGENTS, hyperparams, load_agent, make_agent
from repgym.agents.base import Agent
from repgym.agents.callbacks import StopTraining
from repgym.agents.hyperparams import TunedEntry, read_entries, tuned_entry
from repgym.agents.logger import truncate_metrics
from repgym.runs import Checkpoint, EnvSpec, EvalProtocol, EvalResult, play

STATE_FILE = "summary.json"
CHECKPOINT = "checkpoint"
OUTPUTS = (STATE_FILE, CHECKPOINT, "checkpoints", "logs")  # what a run writes into its folder (and --overwrite removes)


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_agent` did: the checkpoint, timing and (if asked and finished) a greedy evaluation."""

    agent: str
    env_id: str
    steps: int  # env steps this run has taken, across its interrupted and resumed parts
    total_steps: int  # the agent's step counter afterwards (includes a resumed checkpoint's)
    wall_time_s: float
    checkpoint: Path
    evaluation: EvalResult | None
    target_steps: int = 0  # the step counter the run trains to
    finished: bool = True  # False: stopped early; training again into the same folder resumes it

    @property
    def steps_per_s(self) -> float:
        return self.steps / max(self.wall_time_s, 1e-9)


def make_training_env(env_id: str, env_kwargs: dict[str, Any] | None = None, num_envs: int = 1):
    """The env a run trains in: ``EnvSpec(env_id, env_kwargs).make()`` or, for ``num_envs > 1``, ``make_vec`` (the
    env's native vector env where it has one)."""
    spec = EnvSpec(env_id, env_kwargs or {})
    return spec.make() if num_envs == 1 else spec.make_vec(num_envs)


def train_agent(
    agent_name: str | None,
    env_id: str | None,
    steps: int | None,
    hyperparameters: dict[str, Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    seed: int | None = 0,
    out_dir: str | os.PathLike = "runs/train",
    num_envs: int | None = None,
    progress_bar: bool = False,
    checkpoint_every: int | None = None,
    eval_episodes: int = 10,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    stop: StopTraining | None = None,
    announce: Callable[[str], None] | None = None,
    tuned: bool = False,
) -> TrainResult:
    """Train ``agent_name`` on ``env_id`` for ``steps`` env steps and save it to ``<out_dir>/checkpoint``.

    ``hyperparameters`` go to the agent's constructor, ``env_kwargs`` to the env's; ``num_envs > 1`` trains on a
    vector env (repgym's agents only; None: 1). Agents that take a ``log_dir`` log to ``<out_dir>/logs``
    (TensorBoard and CSV). ``resume``: a checkpoint folder to continue from for ``steps`` more (agent, env and
    hyperparameters come from it). Afterwards the greedy agent plays ``eval_episodes`` episodes on the single env
    (0: skip).

    ``out_dir`` holding an unfinished run with these settings: it is resumed (``announce`` gets one line saying so);
    a finished run or other settings: a one-line ``ValueError`` unless ``overwrite`` (which removes the old run's
    files). ``stop`` set during training: the run is saved unfinished and the result says ``finished=False``.

    ``tuned``: start from the agent's tuned entry for this env (:func:`~repgym.agents.hyperparams.tuned_entry`), if
    it has one. Its hyperparameters and env arguments are defaults that ``hyperparameters`` and ``env_kwargs``
    override, its ``n_timesteps`` is the default of ``steps`` (None) and its ``n_envs`` that of ``num_envs`` (None);
    ``announce`` gets one line naming the entry, and ``summary.json`` records its name. ``steps`` may be None only
    when such an entry exists.
    """
    entry = None
    if tuned and resume is None:
        _check_agent(agent_name)
        entry = tuned_entry(agent_name, env_id, env_kwargs) if env_id is not None else None
    if entry is not None:
        if announce is not None:
            announce(_tuned_line(entry, steps, hyperparameters or {}, env_kwargs or {}, num_envs))
        steps = entry.n_timesteps if steps is None else steps
        hyperparameters = {**entry.hyperparameters, **(hyperparameters or {})}
        env_kwargs = {**entry.env_kwargs, **(env_kwargs or {})}
        num_envs = entry.n_envs if num_envs is None else num_envs
    if steps is None:
        raise ValueError(_missing_steps(agent_name, env_id, env_kwargs, tuned, resume))
    num_envs = 1 if num_envs is None else num_envs
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be a positive number of steps, got {checkpoint_every}")
    out = Path(out_dir)
    settings = _settings(agent_name, env_id, steps, hyperparameters, env_kwargs, seed, num_envs, resume)
    previous = _previous_run(out, settings, overwrite)
    if previous is None:
        agent = _new_agent(settings, out / "logs")
        state = {"settings": settings, "start_steps": agent.num_timesteps, "target_steps": agent.num_timesteps + steps,
                 "wall_time_s": 0.0, "resume_from": None,
                 "tuned_entry": None if entry is None else entry.label}  # fmt: skip
    else:
        state = previous
        checkpoint = Checkpoint.read(_checkpoint_folder(out / state["resume_from"]))
        truncate_metrics(out / "logs", checkpoint.num_timesteps)
        agent = _resumed_agent(checkpoint, settings, out / "logs")
        if announce is not None:
            announce(f"resuming {checkpoint.agent} from step {checkpoint.num_timesteps} of {state['target_steps']} "
                     f"in {out}")  # fmt: skip
    name, target = agent.name, int(state["target_steps"])
    _write_state(out, state, finished=False)
    start = time.perf_counter()
    _learn(agent, target, out, state, checkpoint_every, progress_bar, stop)
    state["wall_time_s"] = float(state["wall_time_s"]) + time.perf_counter() - start
    checkpoint_path = _save_atomically(agent, out / CHECKPOINT)
    state["resume_from"] = CHECKPOINT
    finished = agent.num_timesteps >= target
    evaluation = None
    if finished and eval_episodes > 0:
        evaluation = play(agent, Checkpoint.read(checkpoint_path).require_env(), EvalProtocol(eval_episodes))
    env_name = agent.env_id or settings["env_id"] or ""
    result = TrainResult(name, str(env_name), agent.num_timesteps - int(state["start_steps"]), agent.num_timesteps,
                         float(state["wall_time_s"]), checkpoint_path, evaluation, target, finished)  # fmt: skip
    _write_state(out, state, finished=finished, result=result)
    return result


def _settings(agent_name: str | None, env_id: str | None, steps: int, hyperparameters: dict[str, Any] | None,
              env_kwargs: dict[str, Any] | None, seed: int | None, num_envs: int,
              resume: str | os.PathLike | None) -> dict[str, Any]:  # fmt: skip
    """What defines a run (a rerun must match it to resume), as JSON values."""
    if resume is not None:
        if hyperparameters or env_kwargs or num_envs != 1:
            raise ValueError("a resumed run takes hyperparameters and env from its checkpoint; drop --set/--env-set")
    else:
        _check_agent(agent_name)
        if env_id is None:
            raise ValueError("an env id is needed unless resuming from a checkpoint")
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        if num_envs > 1 and agent_name.startswith("sb3-"):
            raise ValueError(f"{agent_name} builds its own vectorised env; train it with num_envs=1")
    settings = {"agent": agent_name, "env_id": env_id, "env_kwargs": env_kwargs or {},
                "hyperparameters": hyperparameters or {}, "seed": seed, "num_envs": num_envs, "steps": steps,
                "resume": None if resume is None else str(resume)}  # fmt: skip
    return json.loads(json.dumps(settings, default=str))  # as summary.json will hold them (tuples become lists)


def _check_agent(agent_name: str | None) -> None:
    if agent_name not in AGENTS:
        raise ValueError(f"unknown agent {agent_name!r}; expected one of {sorted(AGENTS)}")


def _tuned_line(entry: TunedEntry, steps: int | None, hyperparameters: dict[str, Any], env_kwargs: dict[str, Any],
                num_envs: int | None) -> str:  # fmt: skip
    """``using tuned entry qr-dqn.toml ["CartPole-v1"] (n_timesteps=50000; tuned: ...); ...`` and what the command
    line overrides."""
    own = [f"n_timesteps={entry.n_timesteps}"] + ([f"n_envs={entry.n_envs}"] if entry.n_envs != 1 else [])
    extra_env = {k: v for k, v in entry.env_kwargs.items() if k not in entry.env_config}
    own += [f"env: {' '.join(f'{k}={v}' for k, v in extra_env.items())}"] if extra_env else []
    line = f"using tuned entry {entry.label} ({', '.join(own)}; tuned: {entry.tuned})"
    given = [("--set", sorted(hyperparameters)), ("--env-set", sorted(set(env_kwargs) - set(entry.env_config))),
             ("--steps", ["n_timesteps"] if steps is not None else []),
             ("--num-envs", ["n_envs"] if num_envs is not None else [])]  # fmt: skip
    overrides = [f"{flag} overrides {', '.join(names)}" for flag, names in given if names]
    return f"{line}; {'; '.join(overrides)}" if overrides else f"{line}; --set, --env-set, --steps override it"


def _missing_steps(agent_name: str | None, env_id: str | None, env_kwargs: dict[str, Any] | None, tuned: bool,
                   resume: str | os.PathLike | None) -> str:  # fmt: skip
    """The one-line error for a run without a step budget."""
    if resume is not None:
        return "give --steps: how many env steps to train the checkpoint further"
    if not tuned:
        return "give --steps: with --no-tuned the run has no default budget"
    config = "".join(f" {k}={v}" for k, v in (env_kwargs or {}).items())
    path = hyperparams.FOLDER / f"{agent_name}.toml"  # read when called: tests point it elsewhere
    others = [f'["{e.key}"]' for e in read_entries(path) if e.env_id == env_id] if path.is_file() else []
    listed = f" (its entries for {env_id}: {', '.join(others)})" if others else ""
    return f"no tuned entry for {agent_name} on {env_id}{config} in {path}{listed}; give --steps"


def _previous_run(out: Path, settings: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
    """The state of the unfinished run in ``out`` to resume, or None to start afresh (clearing what a run there
    left that cannot be resumed); a one-line ``ValueError`` when ``out`` holds a run that must not be replaced."""
    state_path = out / STATE_FILE
    state = _read_state(state_path) if state_path.is_file() else None
    if overwrite or (state is not None and not state.get("finished", True) and not state.get("resume_from")):
        _clear(out)  # asked to, or an unfinished run that never saved a checkpoint: nothing to keep
        return None
    if state is None:
        if any((out / name).exists() for name in OUTPUTS):
            raise ValueError(f"{out} holds files of another run but no {STATE_FILE}; pass --overwrite to replace "
                             "them or choose another --out")  # fmt: skip
        return None
    if state.get("finished", True):  # summaries written before runs could resume were all of finished runs
        raise ValueError(f"{out} holds a finished run ({state.get('agent')} on {state.get('env_id')}, "
                         f"{state.get('total_steps')} steps); pass --overwrite to replace it or choose another "
                         "--out")  # fmt: skip
    theirs = state.get("settings", {})
    for key, mine in settings.items():
        if theirs.get(key) != mine:
            raise ValueError(f"{out} holds an interrupted run with other settings ({key} {theirs.get(key)!r} there, "
                             f"{mine!r} here); rerun it as it was to resume, or pass --overwrite")  # fmt: skip
    return state


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"{path}: not a readable run summary; pass --overwrite to start the run afresh") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a run summary (a JSON object); pass --overwrite to start the run afresh")
    return state


def _clear(out: Path) -> None:
    """Remove what a training run writes into ``out`` (nothing else: ``out`` may hold the user's own files)."""
    for name in OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _new_agent(settings: dict[str, Any], log_dir: Path) -> Agent:
    """The agent a fresh run starts from: a new one, or the ``resume`` checkpoint's."""
    if settings["resume"] is not None:
        agent = load_agent(Checkpoint.read(settings["resume"]))
        if hasattr(agent, "log_dir"):
            agent.log_dir = log_dir
        return agent
    name = settings["agent"]
    env = make_training_env(settings["env_id"], settings["env_kwargs"], settings["num_envs"])
    extra = {"log_dir": log_dir} if _accepts(name, "log_dir") else {}
    return make_agent(name, env, seed=settings["seed"], **settings["hyperparameters"], **extra)


def _resumed_agent(checkpoint: Checkpoint, settings: dict[str, Any], log_dir: Path) -> Agent:
    """The interrupted run's agent, in the env the command names (so ``module:Id`` envs are imported first)."""
    env = None
    if settings["env_id"] is not None:
        env = make_training_env(settings["env_id"], settings["env_kwargs"], settings["num_envs"])
    agent = load_agent(checkpoint, env=env)
    if hasattr(agent, "log_dir"):
        agent.log_dir = log_dir
    return agent


def _learn(agent: Agent, target: int, out: Path, state: dict[str, Any], checkpoint_every: int | None,
           progress_bar: bool, stop: StopTraining | None) -> None:  # fmt: skip
    """Train until the agent's step counter reaches ``target`` or ``stop`` is set, saving at every multiple of
    ``checkpoint_every`` steps to ``<out>/checkpoints/step_<n>`` (recorded in ``state`` as the point to resume from)."""
    callback = stop
    while agent.num_timesteps < target and not (stop is not None and stop.is_set()):
        every = checkpoint_every or target
        chunk = every - agent.num_timesteps % every
        agent.learn(min(chunk, target - agent.num_timesteps), callback=callback, progress_bar=progress_bar)
        if checkpoint_every is not None and not (stop is not None and stop.is_set()):
            agent.save(out / "checkpoints" / f"step_{agent.num_timesteps}")
            state["resume_from"] = f"checkpoints/step_{agent.num_timesteps}"
            _write_state(out, state, finished=False)


def _checkpoint_folder(folder: Path) -> Path:
    """``folder``, after completing a swap that a crash cut short (see :func:`_save_atomically`)."""
    old = folder.with_name(f".{folder.name}.old")
    if not folder.exists() and old.is_dir():
        os.replace(old, folder)
    return folder


def _save_atomically(agent: Agent, folder: Path) -> Path:
    """Save ``agent`` into a new folder beside ``folder``, then swap it in: a crash leaves one whole checkpoint."""
    partial, old = folder.with_name(f".{folder.name}.partial"), folder.with_name(f".{folder.name}.old")
    for leftover in (partial, old):
        shutil.rmtree(leftover, ignore_errors=True)
    agent.save(partial)
    if folder.exists():
        os.replace(folder, old)
    os.replace(partial, folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def _accepts(agent_name: str, argument: str) -> bool:
    """Whether the registered agent's constructor takes ``argument`` by name."""
    cls: type[Agent] = AGENTS[agent_name].load_class()
    return argument in inspect.signature(cls.__init__).parameters


def _write_state(out: Path, state: dict[str, Any], finished: bool, result: TrainResult | None = None) -> None:
    """``<out>/summary.json``, replaced atomically: the run's settings and progress, and its results once known."""
    summary = {**state, "finished": finished, "target_steps": int(state["target_steps"])}
    if result is not None:
        ev = result.evaluation
        summary.update({
            "agent": result.agent, "env_id": result.env_id, "seed": state["settings"]["seed"], "steps": result.steps,
            "total_steps": result.total_steps, "wall_time_s": round(result.wall_time_s, 3),
            "steps_per_s": round(result.steps_per_s, 1), "checkpoint": str(result.checkpoint),
            "eval_episodes": None if ev is None else len(ev.returns),
            "eval_mean_return": None if ev is None else ev.mean, "eval_std_return": None if ev is None else ev.std,
        })  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{STATE_FILE}.partial"
    tmp.write_text(json.dumps(summary, indent=2))
    os.replace(tmp, out / STATE_FILE)
