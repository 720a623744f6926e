"""The analysis pipeline behind ``repgym analyze``: collect states, capture latents, run every analyzer, write
the report.

Everything here goes through the agent interface (``predict``, ``latent_modules``) and the env's ground truth,
so any agent — SB3 baselines, the distributional DQN, look-ahead agents, world models — is analysed the same way.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from threadpoolctl import threadpool_limits

import repgym
from repgym.analysis.ablation import ablated, return_impact, unit_ablation
from repgym.analysis.adaptation import adaptation
from repgym.analysis.attribution import conductance
from repgym.analysis.capture import (
    Capture,
    agent_runner,
    capture_activations,
    has_representation,
    recurrent_runner,
)
from repgym.analysis.conflation import conflation
from repgym.analysis.dimensionality import dimensionality
from repgym.analysis.disentanglement import disentanglement
from repgym.analysis.forward_path import same_values, trace_forward_path
from repgym.analysis.generality import generality
from repgym.analysis.probes import probe_table
from repgym.analysis.similarity import cka_matrix, pwcca, rsa, svcca
from repgym.analysis.states import StateSet, collect_states
from repgym.analysis.tidy import Table


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


def _acts(capture: Capture) -> dict[str, np.ndarray]:
    return dict(capture.activations)


def _cca_rows(acts: dict[str, np.ndarray], order: list[str]) -> Table:
    """SVCCA and PWCCA between consecutive layers (refused rows carry the reason)."""
    table = Table()
    for a, b in zip(order, order[1:], strict=False):
        x, y = acts[a].reshape(len(acts[a]), -1), acts[b].reshape(len(acts[b]), -1)
        for name, fn, field_name in (("svcca", svcca, "mean"), ("pwcca", pwcca, "pwcca")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                try:
                    result = fn(x, y)
                except ValueError as err:
                    table.add("cca", a, None, name, float("nan"), x.shape[0], other=b, refused=str(err))
                    continue
            table.add(
                "cca",
                a,
                None,
                name,
                getattr(result, field_name),
                result.n,
                other=b,
                p=result.p_x,
                p_other=result.p_y,
                small_n=result.small_n,
            )
    return table


def _rsa_rows(acts: dict[str, np.ndarray], states: StateSet, seed: int) -> Table:
    """RSA of each layer against the ground truth (standardised factors) and against the raw observation."""
    table = Table()
    names, gt = states.factor_matrix()
    gt = (gt - gt.mean(axis=0)) / np.where(gt.std(axis=0) > 0, gt.std(axis=0), 1.0)
    obs = states.obs.reshape(len(states), -1).astype(np.float64)
    for layer, act in acts.items():
        flat = act.reshape(len(act), -1)
        n = min(len(flat), 1000)
        if gt.shape[1]:
            table.add("rsa", layer, None, "rsa_ground_truth", rsa(flat, gt, seed=seed), n, factors=len(names))
        table.add("rsa", layer, None, "rsa_observation", rsa(flat, obs, seed=seed), n)
    return table


def _collection_steps(s: AnalysisSettings) -> int:
    """Steps per episode while collecting: ``max_episode_steps``, cut so that ``min_episodes`` episodes fit."""
    return min(s.max_episode_steps, max(25, s.states // max(1, s.min_episodes)))


def _has_parameters(module: Any) -> bool:
    return any(True for _ in module.parameters())


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
) -> Analysis:
    """Run every analyzer on ``agent`` acting in ``env`` (and, with ``compare``, the comparison/adaptation
    analyses against a second agent on the same states)."""
    s = settings or AnalysisSettings()
    with threadpool_limits(limits=s.blas_threads):
        return _analyze(agent, env, s, compare, progress)


def _analyze(agent: Any, env: gym.Env, s: AnalysisSettings, compare: Any, progress: bool) -> Analysis:
    console = Console(stderr=True, quiet=not progress)
    started = time.perf_counter()
    modules = agent.latent_modules()
    if not modules:
        raise ValueError(f"{type(agent).__name__}.latent_modules() is empty: there is nothing to analyse")
    states = collect_states(
        env, agent, s.states, s.seed, s.epsilon, max_episode_steps=_collection_steps(s), progress=progress
    )
    collect_seconds = round(time.perf_counter() - started, 2)
    # inputs of run/act: the observations, or for a recurrent agent their indices (each state is replayed with the
    # recurrent state it had while the agent played)
    run, keys, recurrent = agent_runner(agent), states.obs, False
    if states.memory is not None and not has_representation(agent):
        replay = recurrent_runner(agent, states.obs, states.memory)
        if replay is not None:
            run, keys, recurrent = replay, np.arange(len(states)), True

    def act(inputs: np.ndarray) -> np.ndarray:
        return np.asarray((run(inputs) if recurrent else agent.predict(inputs, deterministic=True))[0])

    with _progress(progress) as bar:
        stage = bar.add_task("capturing activations", total=None)
        timings: dict[str, float] = {"collect": collect_seconds}
        clock = {"name": "capture", "t": time.perf_counter()}

        def _stage(name: str, description: str) -> None:
            now = time.perf_counter()
            timings[clock["name"]] = round(timings.get(clock["name"], 0.0) + now - clock["t"], 2)
            clock.update(name=name, t=now)
            bar.update(stage, description=description)

        cap = capture_activations(modules, run, keys)
        if not cap.activations:
            raise ValueError(f"no latent module produced per-state activations: {cap.skipped}")
        acts = _acts(cap)
        order = [c.name for c in cap.calls if c.name in acts]
        order += [k for k in acts if k not in order]
        table = Table()
        _stage("similarity", "similarity (CKA, SVCCA/PWCCA, RSA)")
        table.extend(cka_matrix(acts, seed=s.seed))
        table.extend(_cca_rows(acts, [k for k in order if cap.is_main(k)]))
        table.extend(_rsa_rows(acts, states, s.seed))
        _stage("generality", "unit generality")
        gen = generality(acts)
        table.extend(gen)
        _stage("probes", "probes")
        table.extend(
            probe_table(
                {"observation": states.obs, **acts},
                states.factors,
                states.categorical,
                s.probe_folds,
                states.episode,
                s.seed,
                states.defined,
            )
        )
        _stage("dimensionality", "dimensionality")
        table.extend(dimensionality(acts, states.obs))
        _stage("disentanglement", "disentanglement (MIG, DCI)")
        names, gt = states.factor_matrix()
        if names:
            table.extend(disentanglement(acts, names, gt, groups=states.episode))
        if states.labels is not None:
            _stage("conflation", "conflation")
            table.extend(
                conflation(acts, states.labels, states.factors, states.obs, s.conflation_quantile, seed=s.seed)
            )
        _stage("ablation", "ablation")
        subset = keys[: s.ablation_states]
        # parameter-free layers (activations) are left out: zeroing a ReLU/tanh unit is zeroing its input unit
        weighted = [k for k in order if cap.is_main(k) and _has_parameters(cap.modules[k])]
        output = output_module(cap, act, subset[:64])
        ablation_rows, impacts = unit_ablation(
            cap,
            act,
            subset,
            layers=weighted,
            output=output,
            mode=s.ablation_mode,
            seed=s.seed,
            progress=bar,
            run=run if has_representation(agent) else None,  # else act's own call drives the output module
        )
        table.extend(ablation_rows)
        if s.episodes > 0:
            table.extend(
                return_impact(
                    agent,
                    env,
                    cap,
                    impacts,
                    s.return_ks,
                    s.episodes,
                    s.seed + 10_000,
                    s.ablation_mode,
                    s.max_episode_steps,
                    progress=bar,
                )
            )
        _stage("attribution", "attribution (Captum conductance)")
        path = trace_forward_path(cap.calls, end=output)
        attribution_note = "no verified forward path through the latent modules"
        if path is not None and len(path.names) >= 2:
            few = keys[: s.attribution_states]
            inputs = path.inputs(run, few)
            axes = {k: cap.unit_axes[k][1] for k in path.names if k in cap.unit_axes and cap.unit_axes[k][0] == 0}
            width = int(np.prod(cap.activations[path.names[-1]].shape[1:]))
            if states.n_actions is not None or width == 1:
                chosen = act(few).reshape(len(few), -1)[:, 0] if states.n_actions is not None else None
                targets: list[tuple[np.ndarray | None, str | None]] = [(chosen, None)]
            else:  # continuous actions: each output dimension (e.g. each joint's torque mean) is its own target
                targets = [(np.full(len(few), i), f"output[{i}]") for i in range(width)]
            for chosen, label in targets:
                table.extend(
                    conductance(
                        path,
                        inputs,
                        chosen,
                        states.n_actions,
                        axes,
                        n_steps=s.attribution_steps,
                        obs_shape=states.obs.shape[1:],
                        layers=[k for k in path.names[:-1] if _has_parameters(path.module(k))] or None,
                        target_label=label,
                    )
                )
            attribution_note = f"path {' -> '.join(path.names)} (max recomposition error {path.max_error:.2e})"
        if compare is not None:
            _stage("comparison", "comparison with the second agent")
            cap2 = capture_activations(compare.latent_modules(), agent_runner(compare), states.obs)
            acts2 = _acts(cap2)
            cross = cka_matrix(acts, acts2, seed=s.seed)
            for row in cross:
                row.analyzer = "cka_compare"
            table.extend(cross)
            fractions = {layer: gen.filter(layer=layer, metric="active_fraction").values() for layer in acts}
            try:
                table.extend(adaptation(acts, acts2, fractions))
            except ValueError as err:
                console.print(f"[yellow]adaptation skipped:[/yellow] {err}")
        _stage("done", "writing")
    meta = {
        "agent": type(agent).__name__,
        "env_id": getattr(getattr(env, "spec", None), "id", None),
        "settings": asdict(s),
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
        "attribution": attribution_note,
        "capture_via": "agent.represent (observed states)" if has_representation(agent) else "agent.predict",
        "output_module": output,
        "recurrent_state": "replayed per state" if recurrent else None,
        "repgym_version": repgym.__version__,
        "seconds": round(time.perf_counter() - started, 1),
        "stage_seconds": timings,
    }
    return Analysis(table, states, cap, meta)


def analyze_checkpoint(
    checkpoint: str | os.PathLike,
    env_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    states: int = 1000,
    compare: str | os.PathLike | None = None,
    out_dir: str | os.PathLike = "repgym_analysis",
    seed: int = 0,
    episodes: int = 5,
    threads: int = 1,
    progress: bool = True,
    **settings: Any,
) -> Path:
    """Load an agent checkpoint (and optionally a second one), analyse it in its env (or ``env_id`` made with
    ``env_kwargs``), and write ``report.md``, figures, ``table.csv`` and ``table.json`` to ``out_dir``.

    ``settings`` are further fields of :class:`AnalysisSettings` (e.g. ``epsilon``, ``max_episode_steps``).

    Returns the path of ``report.md``.
    """
    import repgym.envs  # noqa: F401  (registers the ids)
    from repgym.agents import load_agent
    from repgym.agents.base import read_checkpoint
    from repgym.analysis.report import write_report

    meta, _ = read_checkpoint(checkpoint)
    env_id = env_id or meta.get("env_id")
    if not env_id:
        raise ValueError(f"checkpoint {checkpoint} records no env id; pass --env")
    kwargs = dict(meta.get("env_kwargs") or {}) if env_id == meta.get("env_id") else {}
    kwargs.update(env_kwargs or {})
    env = gym.make(env_id, **kwargs)
    agent = load_agent(checkpoint, env=env)
    other = load_agent(compare, env=gym.make(env_id, **kwargs)) if compare is not None else None
    unknown = sorted(set(settings) - {f.name for f in fields(AnalysisSettings)})
    if unknown:
        raise ValueError(f"unknown analysis settings {unknown}; see repgym.analysis.analyze.AnalysisSettings")
    config = AnalysisSettings(states=states, seed=seed, episodes=episodes, blas_threads=threads, **settings)
    analysis = analyze_agent(agent, env, config, compare=other, progress=progress)
    analysis.meta.update(
        checkpoint=str(checkpoint),
        checkpoint_agent=meta.get("agent"),
        checkpoint_steps=meta.get("num_timesteps"),
        env_id=env_id,
        env_kwargs=kwargs,
        compare=None if compare is None else str(compare),
    )
    report = write_report(analysis.table, out_dir, analysis.meta)
    if progress:
        Console(stderr=True).print(f"report: {report}")
    return report
