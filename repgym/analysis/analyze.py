"""The analysis pipeline behind ``repgym analyze``: collect states, capture latents, run the registered analyzers
(:mod:`repgym.analysis.registry`), write the report.

Everything here goes through the agent interface (``predict``, ``latent_modules``) and the env's ground truth,
so any agent — SB3 baselines, the distributional DQN, look-ahead agents, world models — is analysed the same way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from threadpoolctl import threadpool_limits

import repgym
from repgym.agents.base import Agent
from repgym.analysis.ablation import ablated
from repgym.analysis.capture import (
    Capture,
    agent_runner,
    capture_activations,
    has_representation,
    recurrent_runner,
)
from repgym.analysis.forward_path import same_values
from repgym.analysis.registry import Analyzer, Context, select
from repgym.analysis.states import StateSet, collect_states
from repgym.analysis.tidy import Table
from repgym.runs import Checkpoint, EnvSpec


@dataclass
class AnalysisSettings:
    """What ``repgym analyze`` does; every field is recorded with the results."""

    states: int = 1000  # states collected (the agent plays, epsilon-random moves mixed in)
    seed: int = 0  # first episode seed; analyses that sample use it too
    epsilon: float = 0.1  # probability of a random (legal) move while collecting states
    episodes: int = 5  # episodes per point of the ablation return curves
    ablation_states: int = 512  # states used for unit ablation
    ablation_mode: str = "zero"  # "zero" or "mean"
    return_ks: tuple[int, ...] = (0, 1, 4)  # top-k units ablated for the return curves
    attribution_states: int = 128  # states used for conductance
    attribution_steps: int = 32  # integration steps
    probe_folds: int = 5
    conflation_quantile: float = 0.01
    max_episode_steps: int = 200  # per episode, while collecting states and measuring returns
    # probes split folds by episode, so long episodes (a 200-step reach) are cut while collecting to give at least
    # this many episodes (never below 25 steps each)
    min_episodes: int = 20
    blas_threads: int = 1  # numpy's BLAS threads: on a shared machine, threaded small SVDs run 100x slower
    # the sub-class of the nested-manifold analysis, a predicate over ground-truth factors ("key_held == 1");
    # None: the env family's default (repgym.analysis.nested)
    nested_subclass: str | None = None


@dataclass
class Analysis:
    """The results of one analysis: the tidy table, the states, the capture and a description of the setup."""

    table: Table
    states: StateSet
    capture: Capture
    meta: dict[str, Any] = field(default_factory=dict)


def _progress(enabled: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=True,
    )


def _collection_steps(s: AnalysisSettings) -> int:
    """Steps per episode while collecting: ``max_episode_steps``, cut so that ``min_episodes`` episodes fit."""
    return min(s.max_episode_steps, max(25, s.states // max(1, s.min_episodes)))


def output_module(cap: Capture, act: Any, inputs: np.ndarray, candidates: int = 4) -> str | None:
    """The captured module whose output the agent acts on: of the modules whose output no later module reads
    (leaves of the first batch's calls), the last to run whose zeroing changes the deterministic actions
    ``act(inputs)``.

    The last module to run is not always it: SAC's actor computes ``log_std`` after ``mu``, and a deterministic
    action reads only ``mu``. Falls back to the last module to run when no leaf changes the actions.
    """
    calls = [c for c in cap.calls if cap.is_main(c.name) and c.output is not None]
    read = {
        c.name
        for c in calls
        for later in calls
        if later.start > c.end and later.input is not None and same_values(c.output, later.input)
    }
    leaves = [c.name for c in reversed(calls) if c.name not in read][:candidates]
    if len(leaves) <= 1:
        return leaves[0] if leaves else cap.last_module()
    base = np.asarray(act(inputs))
    for name in leaves:
        with ablated(cap.modules[name], np.arange(cap.activations[name].shape[1]), cap.unit_axes[name]):
            if not np.array_equal(np.asarray(act(inputs)), base):
                return name
    return cap.last_module()


def analyze_agent(
    agent: Any,
    env: gym.Env,
    settings: AnalysisSettings | None = None,
    compare: Any = None,
    progress: bool = True,
    only: Sequence[str] | None = None,
) -> Analysis:
    """Run the registered analyzers (those named in ``only``; default: all) on ``agent`` acting in ``env``; with
    ``compare``, a second agent, also those that compare the two on the same states."""
    analyzers = select(only)  # an unknown name fails before any state is collected
    s = settings or AnalysisSettings()
    with threadpool_limits(limits=s.blas_threads):
        return _analyze(agent, env, s, compare, progress, analyzers)


def _analyze(
    agent: Any, env: gym.Env, s: AnalysisSettings, compare: Any, progress: bool, analyzers: list[Analyzer]
) -> Analysis:
    console = Console(stderr=True, quiet=not progress)
    started = time.perf_counter()
    modules = agent.latent_modules()
    if not modules:
        raise ValueError(f"{type(agent).__name__}.latent_modules() is empty: there is nothing to analyse")
    states = collect_states(
        env, agent, s.states, s.seed, s.epsilon, max_episode_steps=_collection_steps(s), progress=progress
    )
    timings: dict[str, float] = {"collect": round(time.perf_counter() - started, 2)}
    # inputs of run/act: the observations, or for a recurrent agent their indices (each state is replayed with the
    # recurrent state it had while the agent played)
    run, keys, recurrent = agent_runner(agent), states.obs, False
    if states.memory is not None and not has_representation(agent):
        replay = recurrent_runner(agent, states.obs, states.memory)
        if replay is not None:
            run, keys, recurrent = replay, np.arange(len(states)), True

    def act(inputs: np.ndarray) -> np.ndarray:
        return np.asarray((run(inputs) if recurrent else agent.predict(inputs, deterministic=True))[0])

    table = Table()
    skipped: dict[str, str] = {}
    with _progress(progress) as bar:
        stage = bar.add_task("capturing activations", total=None)
        clock = time.perf_counter()
        cap = capture_activations(modules, run, keys)
        if not cap.activations:
            raise ValueError(f"no latent module produced per-state activations: {cap.skipped}")
        acts = dict(cap.activations)
        order = [c.name for c in cap.calls if c.name in acts]
        order += [k for k in acts if k not in order]
        output = output_module(cap, act, keys[: s.ablation_states][:64])
        timings["capture"] = round(time.perf_counter() - clock, 2)
        ctx = Context(
            agent=agent,
            env=env,
            settings=s,
            states=states,
            capture=cap,
            acts=acts,
            layers=order,
            keys=keys,
            run=run,
            act=act,
            output=output,
            compare=compare,
            progress=bar,
            console=console,
        )
        available = ctx.available()
        for entry in analyzers:
            if missing := sorted(entry.needs - available):
                skipped[entry.name] = f"needs {', '.join(missing)}"
                continue
            bar.update(stage, description=entry.description)
            clock = time.perf_counter()
            table.extend(entry.run(ctx))
            timings[entry.name] = round(time.perf_counter() - clock, 2)
    meta = {
        "agent": type(agent).__name__,
        "env_id": getattr(getattr(env, "spec", None), "id", None),
        "settings": asdict(s),
        "analyzers": [a.name for a in analyzers if a.name not in skipped],
        "skipped_analyzers": skipped,
        "states": len(states),
        "distinct_states": int(np.unique(states.obs.reshape(len(states), -1), axis=0).shape[0]),
        "episodes_collected": len(states.episode_returns),
        "collection_steps_per_episode": _collection_steps(s),
        "collection_return_mean": float(np.mean(states.episode_returns)) if states.episode_returns else None,
        "factors": len(states.factors),
        "categorical_factors": len(states.categorical),
        "dropped_factors": len(states.dropped_factors),
        "layers": {k: list(v.shape[1:]) for k, v in acts.items()},
        "layer_order": order,
        "skipped_layers": cap.skipped,
        "repeated_layers": cap.repeated,
        "decision_labels": "env oracle or legal-move mask" if states.labels is not None else None,
        "attribution": ctx.notes.get("attribution"),
        "capture_via": "agent.represent (observed states)" if has_representation(agent) else "agent.predict",
        "output_module": output,
        "recurrent_state": "replayed per state" if recurrent else None,
        "repgym_version": repgym.__version__,
        "seconds": round(time.perf_counter() - started, 1),
        "stage_seconds": timings,
    }
    return Analysis(table, states, cap, meta)


def analyze_checkpoint(
    checkpoint: str | os.PathLike | Checkpoint,
    env_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    states: int = 1000,
    compare: str | os.PathLike | Checkpoint | None = None,
    out_dir: str | os.PathLike = "repgym_analysis",
    seed: int = 0,
    episodes: int = 5,
    threads: int = 1,
    progress: bool = True,
    only: Sequence[str] | None = None,
    untrained: bool = False,
    **settings: Any,
) -> Path:
    """Load an agent checkpoint (and optionally a second one), analyse it in its env (or ``env_id`` made with
    ``env_kwargs``), and write ``report.md``, figures, ``table.csv`` and ``table.json`` to ``out_dir``.

    ``untrained``: analyse the checkpoint's agent with freshly initialised weights instead of its saved ones (same
    class, hyperparameters and seed: :meth:`Agent.untrained_like`): the control that tells what training changed.
    With ``epsilon=1`` both collect the same random-play states, so their tables compare state for state.

    Each checkpoint is read once (its weights only: acting never needs the replay buffer). ``only`` names the
    analyzers to run (default: all registered); ``settings`` are further fields of :class:`AnalysisSettings`
    (e.g. ``epsilon``, ``max_episode_steps``).

    Returns the path of ``report.md``.
    """
    from repgym.analysis.report import write_report

    select(only)  # an unknown analyzer name fails before any checkpoint is read
    unknown = sorted(set(settings) - {f.name for f in fields(AnalysisSettings)})
    if unknown:
        raise ValueError(f"unknown analysis settings {unknown}; see repgym.analysis.analyze.AnalysisSettings")
    config = AnalysisSettings(states=states, seed=seed, episodes=episodes, blas_threads=threads, **settings)
    first = Checkpoint.read(checkpoint)
    second = Checkpoint.read(compare) if compare is not None else None
    spec = _env_spec(first, env_id, env_kwargs or {})
    env = spec.make()
    agent, acting = _load_for_analysis(first, env, untrained=untrained)
    other = _load_for_analysis(second, spec.make())[0] if second is not None else None
    analysis = analyze_agent(agent, env, config, compare=other, progress=progress, only=only)
    analysis.meta.update(
        checkpoint=str(first.path),
        checkpoint_agent=first.agent,
        checkpoint_steps=0 if untrained else first.num_timesteps,
        untrained=untrained,
        env_id=spec.id,
        env_kwargs=dict(spec.kwargs),
        compare=None if second is None else str(second.path),
        acting_overrides=acting or None,
    )
    report = write_report(analysis.table, out_dir, analysis.meta)
    if progress:
        Console(stderr=True).print(f"report: {report}")
    return report


def _load_for_analysis(checkpoint: Checkpoint, env: gym.Env, untrained: bool = False) -> tuple[Agent, dict[str, Any]]:
    """The agent of ``checkpoint``, loaded with its class's :attr:`~repgym.agents.base.Agent.analysis_overrides`
    (how it acts while analysed), and those overrides; ``untrained``: the same agent with fresh weights."""
    from repgym.agents import registered_agent

    agent_cls = registered_agent(checkpoint).load_class()
    overrides = dict(agent_cls.analysis_overrides)
    build = agent_cls.untrained_like if untrained else agent_cls.load
    return build(checkpoint, env=env, **overrides), overrides


def _env_spec(checkpoint: Checkpoint, env_id: str | None, overrides: dict[str, Any]) -> EnvSpec:
    """The env to analyse in: the recorded one (its arguments, ``overrides`` replacing some), or ``env_id`` with
    only ``overrides`` when it names another env."""
    recorded = checkpoint.env
    if env_id is None or (recorded is not None and env_id == recorded.id):
        if recorded is None:
            raise ValueError(f"checkpoint {checkpoint.path} records no env id; pass --env")
        return recorded.with_kwargs(**overrides)
    return EnvSpec(env_id, overrides)
