"""The gravity-shift experiment (``repgym shift``): learn a task with one gravity, then face another.

For each seed, with one agent kind and one set of hyperparameters:

1. **source** — a fresh agent learns ``steps`` env steps at ``train_gravity``;
2. **zero-shot** — the source agent is evaluated at ``test_gravity`` without learning;
3. **fine-tune** — the source agent keeps learning ``steps`` more env steps in the same env, whose gravity is
   switched to ``test_gravity`` (it takes effect on the next step, so the episode under way finishes in the new
   gravity; an off-policy agent keeps its replay buffer);
4. **scratch** — a fresh agent learns ``steps`` env steps at ``test_gravity``;
5. **head-only** (with ``head_only=True``; ANIL, Raghu et al. 2020 (ICLR), "Rapid learning or feature reuse?") —
   a copy of the source agent taken at the switch (replay buffer included) learns ``steps`` env steps at
   ``test_gravity`` with every body weight frozen (:func:`repgym.agents.surgery.freeze_all_but_head`). Then the
   pre-shift agent plays ``cka_states`` states at the test gravity, and per layer the debiased linear CKA between
   the pre-shift agent and each of the fine-tuned and head-only agents on those states is recorded
   (:func:`repgym.analysis.adaptation.adaptation`); a frozen layer's CKA is 1.

Every ``eval_every`` env steps the learning agent plays ``eval_episodes`` evaluation episodes with deterministic
actions through :func:`repgym.runs.play` (the run protocol's reset seeds, the same for every agent and checkpoint,
so curves are paired); a return is the sum of an episode's rewards. A uniformly random policy plays the same
episodes at ``test_gravity`` as a floor.

Summary, per metric: the mean ± std (ddof 1) over seeds, the 95% Student-t interval of the mean
(:func:`repgym.analysis.seed_stats.mean_ci`) and each seed's value. The metrics: return at the training gravity,
zero-shot return at the test gravity and the drop between them, the fine-tuned and from-scratch final returns, and
the env steps each of fine-tune and scratch took to reach 90% of the from-scratch final return — returns are
negative in some envs, so "90%" is measured from the random policy: threshold = random + 0.9 x (mean from-scratch
final - random). A run that never reaches it counts as not reached: the steps-to-90% statistics are over the seeds
that reached it (the table says how many did). Results go to ``shift.json`` (every curve, the settings and the
package version) and ``shift.png`` (the curves) in ``out_dir``.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global backend state, renders with Agg
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

import repgym
from repgym.analysis.seed_stats import mean_ci
from repgym.envs.physics.wrappers import DiscretizeActions
from repgym.runs import EvalProtocol, Policy, play

THRESHOLD_FRACTION = 0.9


@dataclass
class Curve:
    """Mean evaluation return after ``steps[i]`` env steps of a phase (``steps[0] == 0``: before it learns)."""

    steps: list[int] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)

    @property
    def final(self) -> float:
        return self.returns[-1]

    def steps_to_reach(self, threshold: float) -> int | None:
        """The first checkpoint's step count whose return is >= ``threshold`` (None: never)."""
        for step, value in zip(self.steps, self.returns, strict=True):
            if value >= threshold:
                return step
        return None


@dataclass
class SeedResult:
    """One seed's four phases. ``zero_shot`` equals ``finetune.returns[0]``."""

    seed: int
    source: Curve  # at the training gravity
    zero_shot: float
    finetune: Curve  # at the test gravity, steps counted from the switch
    scratch: Curve  # at the test gravity
    random_return: float  # uniformly random actions at the test gravity
    wall_s: float
    head_only: Curve | None = None  # at the test gravity, body frozen (head_only runs only)
    cka: dict[str, dict[str, float]] = field(default_factory=dict)  # {"finetune"|"head_only": {layer: linear CKA}}


@dataclass
class ShiftConfig:
    """Everything that defines a run (stored with its results)."""

    env_id: str
    agent: str = "sb3-sac"
    train_gravity: float = 0.0
    test_gravity: float = 9.81
    steps: int = 20_000  # env steps per phase (source, fine-tune, scratch)
    seeds: int = 3
    first_seed: int = 0
    eval_every: int = 0  # env steps between evaluations; 0: steps // 10
    eval_episodes: int = 5
    bins: int | None = None  # DiscretizeActions bins per joint, for discrete-action agents
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    threads: int = 1  # torch threads
    head_only: bool = False  # add the head-only fine-tune phase and the per-layer CKA with the pre-shift agent
    cka_states: int = 256  # states the CKA is measured on

    def validate(self) -> ShiftConfig:
        """Check the settings (ValueError naming the bad one); fill in ``eval_every``."""
        for name in ("steps", "seeds", "eval_episodes", "threads", "cka_states"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("train_gravity", "test_gravity"):
            if not np.isfinite(float(getattr(self, name))):
                raise ValueError(f"{name} must be a finite number (m/s²), got {getattr(self, name)!r}")
        if "gravity" in self.env_kwargs:
            raise ValueError("set gravity with train_gravity / test_gravity, not in env_kwargs")
        if self.head_only and self.cka_states < 4:
            raise ValueError(f"cka_states must be >= 4 (debiased CKA), got {self.cka_states}")
        if self.eval_every < 0:
            raise ValueError(f"eval_every must be >= 0 (0: steps // 10), got {self.eval_every}")
        self.eval_every = self.eval_every or max(1, self.steps // 10)
        return self


@dataclass
class ShiftResult:
    """A finished run: its settings, one :class:`SeedResult` per seed, and the summary over seeds."""

    config: ShiftConfig
    seeds: list[SeedResult]
    wall_s: float
    version: str = repgym.__version__
    date: str = ""

    @property
    def threshold(self) -> float:
        """Return reached by 90% of the way from the random policy to the mean from-scratch final return."""
        random = float(np.mean([s.random_return for s in self.seeds]))
        scratch = float(np.mean([s.scratch.final for s in self.seeds]))
        return random + THRESHOLD_FRACTION * (scratch - random)

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{metric: {"mean", "std", "ci95", "n", "values"}}``; ``std`` with ddof=1 (0 for one seed), ``ci95`` the
        95% t interval of the mean (:mod:`repgym.analysis.seed_stats`); steps-to-90%
        entries average the seeds that reached the threshold (``n`` of them) and list None for the others."""
        threshold = self.threshold
        per_seed = {
            "return_train_gravity": [s.source.final for s in self.seeds],
            "zero_shot_return": [s.zero_shot for s in self.seeds],
            "zero_shot_drop": [s.source.final - s.zero_shot for s in self.seeds],
            "finetune_final_return": [s.finetune.final for s in self.seeds],
            "scratch_final_return": [s.scratch.final for s in self.seeds],
            "random_return": [s.random_return for s in self.seeds],
            "finetune_steps_to_90": [s.finetune.steps_to_reach(threshold) for s in self.seeds],
            "scratch_steps_to_90": [s.scratch.steps_to_reach(threshold) for s in self.seeds],
        }
        if self.config.head_only:
            per_seed["head_only_final_return"] = [s.head_only.final for s in self.seeds]
            per_seed["head_only_steps_to_90"] = [s.head_only.steps_to_reach(threshold) for s in self.seeds]
            for phase in ("finetune", "head_only"):
                for layer in self.seeds[0].cka.get(phase, {}):
                    per_seed[f"cka_{phase}:{layer}"] = [s.cka[phase].get(layer) for s in self.seeds]
        out = {}
        for name, values in per_seed.items():
            reached = np.array([v for v in values if v is not None], dtype=np.float64)
            ci = mean_ci(reached.tolist()) if reached.size else None
            out[name] = {
                "mean": float(reached.mean()) if reached.size else None,
                "std": float(reached.std(ddof=1)) if reached.size > 1 else 0.0,
                "ci95": [ci.low, ci.high] if ci is not None else None,
                "n": int(reached.size),
                "values": values,
            }
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "experiment": "gravity-shift",
            "config": asdict(self.config),
            "threshold": self.threshold,
            "summary": self.summary(),
            "seeds": [asdict(s) for s in self.seeds],
            "wall_s": self.wall_s,
            "version": self.version,
            "date": self.date,
        }


# -- envs and evaluation -------------------------------------------------------------------------------------------


def make_env(config: ShiftConfig, gravity: float) -> gym.Env:
    """``gym.make(env_id, gravity=gravity, **env_kwargs)``, discretized when ``config.bins`` is set."""
    try:
        env = gym.make(config.env_id, gravity=gravity, **config.env_kwargs)
    except TypeError as err:
        raise ValueError(
            f"{config.env_id} does not take a gravity argument ({err}); use a physics env such as "
            "repgym/TwoLinkReach-v0"
        ) from None
    return DiscretizeActions(env, bins=config.bins) if config.bins else env


def evaluate_return(policy: Policy | None, env: gym.Env, episodes: int, rng_seed: int = 0) -> float:
    """Mean return of ``episodes`` episodes of the run protocol (:class:`EvalProtocol`'s default seeds), with the
    policy's deterministic actions; ``policy`` None plays uniformly random actions drawn with ``rng_seed``."""
    return play(policy, env, EvalProtocol(episodes, rng_seed=rng_seed)).mean


def learn_with_evaluations(
    agent: Any, steps: int, every: int, evaluate: Callable[[], float], advance: Callable[[int], None]
) -> Curve:
    """Train ``agent`` for ``steps`` env steps in chunks of ``every``, evaluating before and after each chunk.

    Step counts come from ``agent.num_timesteps``: an agent that collects whole rollouts (PPO) may overshoot a
    chunk, and the curve records what it actually did. ``advance(n)`` reports progress.
    """
    start = agent.num_timesteps
    curve = Curve([0], [evaluate()])
    while (done := agent.num_timesteps - start) < steps:
        before = agent.num_timesteps
        agent.learn(min(every, steps - done))
        advance(agent.num_timesteps - before)
        curve.steps.append(int(agent.num_timesteps - start))
        curve.returns.append(evaluate())
    return curve


# -- the experiment ------------------------------------------------------------------------------------------------


def run_seed(
    config: ShiftConfig, seed: int, advance: Callable[[int], None], phase: Callable[[str], None]
) -> SeedResult:
    """The four phases for one seed (see the module docstring)."""
    from repgym.agents import make_agent

    start = time.perf_counter()
    eval_train = make_env(config, config.train_gravity)
    eval_test = make_env(config, config.test_gravity)
    episodes, every = config.eval_episodes, config.eval_every

    train_env = make_env(config, config.train_gravity)
    agent = make_agent(config.agent, train_env, seed=seed, **config.hyperparameters)
    phase("source")
    source = learn_with_evaluations(
        agent, config.steps, every, lambda: evaluate_return(agent, eval_train, episodes), advance
    )
    if config.head_only:
        pre_shift = copy.deepcopy(agent)
        memo: dict[int, Any] = {}
        head_agent = copy.deepcopy(agent, memo)  # the copy's own env, replay buffer and optimiser state
        if id(train_env) not in memo:
            raise ValueError(f"{type(agent).__name__} holds no reference to its env: cannot copy it for head-only")
        head_env = memo[id(train_env)]
        head_env.unwrapped.gravity = config.test_gravity
    phase("fine-tune")
    train_env.unwrapped.gravity = config.test_gravity  # the switch: from the next step on
    finetune = learn_with_evaluations(
        agent, config.steps, every, lambda: evaluate_return(agent, eval_test, episodes), advance
    )
    head_only, cka = None, {}
    if config.head_only:
        from repgym.agents.surgery import freeze_all_but_head

        phase("head-only")
        freeze_all_but_head(head_agent)
        head_only = learn_with_evaluations(
            head_agent, config.steps, every, lambda: evaluate_return(head_agent, eval_test, episodes), advance
        )
        head_env.close()
        cka = layer_cka(pre_shift, {"finetune": agent, "head_only": head_agent}, eval_test, config.cka_states, seed)
    phase("scratch")
    scratch_agent = make_agent(config.agent, make_env(config, config.test_gravity), seed=seed, **config.hyperparameters)
    scratch = learn_with_evaluations(
        scratch_agent, config.steps, every, lambda: evaluate_return(scratch_agent, eval_test, episodes), advance
    )
    random_return = evaluate_return(None, eval_test, episodes, rng_seed=seed)
    for env in (eval_train, eval_test, train_env):
        env.close()
    return SeedResult(seed, source, finetune.returns[0], finetune, scratch, random_return,
                      time.perf_counter() - start, head_only, cka)  # fmt: skip


def layer_cka(
    before: Any, after: dict[str, Any], env: gym.Env, n_states: int, seed: int
) -> dict[str, dict[str, float]]:
    """``{name: {layer: debiased linear CKA}}`` between ``before`` and each agent of ``after`` on ``n_states``
    states that ``before`` plays in ``env`` (10% random actions); ``{}`` for agents without latent modules."""
    if not hasattr(before, "latent_modules"):
        return {}
    from repgym.analysis.adaptation import adaptation
    from repgym.analysis.capture import agent_runner, capture_activations
    from repgym.analysis.states import collect_states

    obs = collect_states(env, before, n_states=n_states, seed=seed, progress=False).obs

    def acts(agent: Any) -> dict[str, np.ndarray]:
        return capture_activations(agent.latent_modules(), agent_runner(agent), obs, keep_calls=False).activations

    reference = acts(before)
    out = {}
    for name, agent in after.items():
        table = adaptation(reference, acts(agent)).filter(metric="cka_linear")
        out[name] = {row.layer: float(row.value) for row in table.rows}
    return out


def run_shift(
    config: ShiftConfig,
    out_dir: str | Path | None = "runs/shift",
    plot: bool = True,
    console: Console | None = None,
) -> ShiftResult:
    """Run the experiment for every seed, print the summary table, write ``shift.json`` and ``shift.png``."""
    import torch

    config.validate()
    console = console or Console()
    torch.set_num_threads(config.threads)
    make_env(config, config.train_gravity).close()  # fail fast on a bad env id or argument
    seeds = range(config.first_seed, config.first_seed + config.seeds)
    start = time.perf_counter()
    results = []
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("env steps"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        phases = 4 if config.head_only else 3
        task = progress.add_task("", total=phases * config.steps * config.seeds)
        for i, seed in enumerate(seeds):

            def phase(name: str, i: int = i, seed: int = seed) -> None:
                progress.update(task, description=f"seed {seed} ({i + 1}/{config.seeds}) {name}")

            results.append(run_seed(config, seed, lambda n: progress.advance(task, n), phase))
    result = ShiftResult(config, results, time.perf_counter() - start,
                         date=datetime.now(timezone.utc).isoformat(timespec="seconds"))  # fmt: skip
    console.print(summary_table(result))
    if out_dir is not None:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "shift.json").write_text(json.dumps(result.to_json(), indent=2))
        written = [folder / "shift.json"]
        if plot:
            curves_figure(result).savefig(folder / "shift.png", dpi=120)
            written.append(folder / "shift.png")
        console.print("wrote " + ", ".join(str(p) for p in written))
    return result


# -- reporting -----------------------------------------------------------------------------------------------------


def summary_table(result: ShiftResult) -> Table:
    """The summary as a rich table: one row per metric, mean ± std and the 95% t interval over seeds."""
    c = result.config
    summary = result.summary()
    title = (
        f"{c.env_id}, {c.agent}: gravity {c.train_gravity:g} -> {c.test_gravity:g} m/s², {c.steps:,} env steps per "
        f"phase, {c.seeds} seed(s), {c.eval_episodes} eval episodes, {result.wall_s:,.0f} s"
    )
    table = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("metric")
    table.add_column("mean ± std", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("per seed", justify="right")
    rows = [
        ("return at train gravity (source, final)", "return_train_gravity"),
        ("zero-shot return at test gravity", "zero_shot_return"),
        ("zero-shot drop (source - zero-shot)", "zero_shot_drop"),
        ("fine-tune final return", "finetune_final_return"),
        ("from-scratch final return", "scratch_final_return"),
        ("random policy return", "random_return"),
        ("fine-tune: env steps to 90%", "finetune_steps_to_90"),
        ("from scratch: env steps to 90%", "scratch_steps_to_90"),
    ]
    if c.head_only:
        rows.insert(4, ("head-only fine-tune final return", "head_only_final_return"))
        rows.append(("head-only: env steps to 90%", "head_only_steps_to_90"))
        rows += [(f"CKA pre-shift vs {key[4:].replace(':', ', ')}", key) for key in summary if key.startswith("cka_")]
    for label, key in rows:
        entry = summary[key]
        steps = key.endswith("_to_90")
        fmt = "{:,.0f}" if steps else "{:.3f}" if key.startswith("cka_") else "{:.1f}"
        interval = "-" if entry["n"] < 2 else "[" + ", ".join(fmt.format(v) for v in entry["ci95"]) + "]"
        if entry["mean"] is None:
            cell = "not reached"
        else:
            cell = f"{fmt.format(entry['mean'])} ± {fmt.format(entry['std'])}"
            if steps and entry["n"] < len(entry["values"]):
                cell += f" ({entry['n']}/{len(entry['values'])} reached)"
        per_seed = ", ".join("-" if v is None else fmt.format(v) for v in entry["values"])
        table.add_row(label, cell, interval, per_seed)
    table.caption = f"90% threshold: return {result.threshold:.1f} (random + 0.9 x (from-scratch final - random))"
    return table


def _band(ax: Any, curves: list[Curve], label: str, colour: str) -> None:
    steps = np.array(curves[0].steps)
    if any(len(c.steps) != len(steps) for c in curves):  # uneven checkpoints (rollout overshoot): plot each
        for k, c in enumerate(curves):
            ax.plot(c.steps, c.returns, color=colour, alpha=0.8, label=label if k == 0 else None)
        return
    values = np.array([c.returns for c in curves])
    mean, std = values.mean(axis=0), values.std(axis=0)
    ax.plot(steps, mean, color=colour, label=label)
    ax.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.2)


def curves_figure(result: ShiftResult) -> Figure:
    """Learning curves, mean ± std over seeds: the source at the training gravity (left), and fine-tune against
    scratch at the test gravity with the 90% threshold (right)."""
    c = result.config
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    _band(left, [s.source for s in result.seeds], f"source, gravity {c.train_gravity:g}", "tab:blue")
    left.set_title(f"learning at gravity {c.train_gravity:g} m/s²")
    _band(right, [s.finetune for s in result.seeds], "fine-tune (source agent)", "tab:orange")
    _band(right, [s.scratch for s in result.seeds], "from scratch", "tab:green")
    if c.head_only:
        _band(right, [s.head_only for s in result.seeds], "head-only fine-tune (body frozen)", "tab:purple")
    right.axhline(result.threshold, color="grey", linestyle="--", label="90% of from-scratch final")
    right.axhline(np.mean([s.random_return for s in result.seeds]), color="grey", linestyle=":", label="random")
    right.set_title(f"after the switch to gravity {c.test_gravity:g} m/s²")
    for ax in (left, right):
        ax.set_xlabel("env steps in the phase")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    left.set_ylabel(f"mean return ({c.eval_episodes} eval episodes)")
    fig.suptitle(f"{c.env_id}, {c.agent}, {c.seeds} seed(s)")
    return fig
