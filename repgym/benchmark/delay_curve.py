"""Delay curves: success rate against delay, per agent and per game, from benchmark jobs at each delay.

The jobs are the leaderboard's own (:func:`repgym.benchmark.suites.make_jobs` with the ``reference`` suite's rules,
one env configuration per delay), so they run, resume and share work through :func:`~repgym.benchmark.runner.run_bench`
like ``repgym bench``'s. A learner trains with its tuned entry (``agents/hyperparams/<agent>.toml``) where the
game at that delay has one, else for the ``steps`` asked for with the agent's defaults; baselines do not train.

What "delay" means differs per game: KeyToDoor's steps between key and door, Umbrella's fog steps between choice and
reward, LaggedControl's command lag, and HiddenSequence's sequence length minus 1.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from repgym.benchmark.baseline_policies import is_baseline
from repgym.benchmark.jobs import JobSpec
from repgym.benchmark.suites import SUITES, Suite, make_jobs, select_envs
from repgym.runs import ZOO_PREFIX
from repgym.runs.env_spec import canonical_kwargs, env_arguments

GAMES = ("repgym/KeyToDoor-v0", "repgym/Umbrella-v0", "repgym/LaggedControl-v0", "repgym/HiddenSequence-v0")
DELAYS = (0, 5, 20, 80, 320)
CHANCE = {"repgym/Umbrella-v0": 0.5}  # success of a blind guess, where it does not depend on the delay
DELAY_AXIS = {
    "repgym/KeyToDoor-v0": "delay (steps between key and door)",
    "repgym/Umbrella-v0": "delay (fog steps between choice and reward)",
    "repgym/LaggedControl-v0": "delay (command lag, steps)",
    "repgym/HiddenSequence-v0": "delay (sequence length - 1)",
}
PEOPLE = "people"  # the curve of every human:* row of a game


class CurvePoint(NamedTuple):
    """One agent on one game at one delay: mean success over its rows (seeds; people: pooled over episodes)."""

    delay: int
    success: float  # 0..1
    per_seed: list[float]  # each row's success rate
    n: int  # rows (seeds, or people's sessions)
    train_steps: list[int]  # the distinct training budgets of those rows (0: no training)
    cpu_time_s: float | None  # mean CPU seconds per row, where the rows record it


Points = dict[str, dict[str, list[CurvePoint]]]  # game -> curve label -> points, delays ascending


# -- jobs ----------------------------------------------------------------------------------------------------------


def delay_suite(games: Sequence[str], delays: Sequence[int]) -> Suite:
    """The reference suite's rules (every tuned entry at its budget), on ``games`` at ``delays`` only; a named agent
    plays every delay, those without its tuned entry at a budget that ``delay_jobs`` sets."""
    variants = {game: tuple({"delay": int(d)} for d in delays) for game in games}
    return replace(SUITES["reference"], name="delay-curve", variants=variants, untuned_configs=True)


def delay_jobs(
    games: Sequence[str],
    delays: Sequence[int],
    agents: Sequence[str],
    seeds: int,
    episodes: int,
    steps: int | None = None,
) -> list[JobSpec]:
    """One job per (game, delay, agent, seed): tuned learners at their entry's budget, other learners for ``steps``
    env steps with their default hyperparameters (a one-line ``ValueError`` naming them when ``steps`` is None)."""
    if not delays or any(int(d) < 0 for d in delays):
        raise ValueError(f"delays must be integers >= 0, got {list(delays)}")
    if steps is not None and steps < 1:
        raise ValueError(f"--steps must be at least 1, got {steps}")
    ids = select_envs(games)
    # Passing the delays as the suite's variants (not env_kwargs) keeps the default delay's config canonical ({}).
    jobs = make_jobs(delay_suite(ids, delays), envs=ids, agents=agents, seeds=seeds, eval_episodes=episodes)
    untuned = [job for job in jobs if _learns(job) and not _is_tuned(job)]
    if untuned and steps is None:
        missing: dict[str, set[int]] = defaultdict(set)
        for job in untuned:
            missing[f"{job.agent} on {job.env_id.split('/')[-1]}"].add(config_delay(job.env_id, job.env_kwargs))
        where = "; ".join(f"{what} at delay {', '.join(map(str, sorted(d)))}" for what, d in sorted(missing.items()))
        raise ValueError(f"no tuned entry for {where}: give --steps N (their training budget)")
    fixed = {j.key: replace(j, train_steps=steps, hyperparameters={}, num_envs=1) for j in untuned}
    out = list({job.key: job for job in (fixed.get(j.key, j) for j in jobs)}.values())
    _check_every_agent_plays(out, agents)
    return out


def _learns(job: JobSpec) -> bool:
    return not is_baseline(job.agent) and not job.agent.startswith(ZOO_PREFIX)


def _is_tuned(job: JobSpec) -> bool:
    """Whether ``job`` trains as its agent's tuned entry for its config says (make_jobs gives a learner without one
    a placeholder budget, which ``delay_jobs`` replaces)."""
    from repgym.agents.hyperparams import tuned_entry

    entry = tuned_entry(job.agent, job.env_id, job.env_kwargs)
    return (
        entry is not None
        and (entry.n_timesteps, entry.hyperparameters, entry.n_envs)
        == (job.train_steps, job.hyperparameters, job.num_envs)
        and canonical_kwargs(job.env_id, {**job.env_kwargs, **entry.env_kwargs}) == job.env_kwargs
    )


def _check_every_agent_plays(jobs: Sequence[JobSpec], agents: Sequence[str]) -> None:
    """A named agent that got no job at all (e.g. a Bubble Breaker baseline) is an error, not a missing curve."""
    from repgym.benchmark.baseline_policies import baseline_name

    playing = {job.agent for job in jobs}
    idle = [a for a in agents if baseline_name(a) not in playing]
    if idle:
        raise ValueError(f"{', '.join(idle)} cannot play any of the chosen games; choose agents that can")


# -- points --------------------------------------------------------------------------------------------------------


def config_delay(env_id: str, env_kwargs: dict[str, Any]) -> int | None:
    """The delay an env config is made with (its default where the kwargs leave it out)."""
    delay = env_arguments(env_id, env_kwargs).get("delay")
    return None if delay is None else int(delay)


def curve_label(row: dict[str, Any]) -> str:
    """The curve a row belongs to: ``people``, ``policy:<baseline>`` or the agent, plus any env argument other
    than the delay (``qr-dqn (obs_mode=pixels)``), a non-greedy protocol and, for a learner, how its hyperparameters
    differ from what it trains with now at that config (:func:`hyperparameter_variant`), so that rows of different
    settings are never averaged into one point."""
    if row["kind"] == "human":
        return PEOPLE
    name = f"policy:{row['agent']}" if is_baseline(row["agent"]) else row["agent"]
    extra = [f"{k}={v}" for k, v in canonical_kwargs(row["env_id"], row["env_kwargs"]).items() if k != "delay"]
    if row.get("protocol") not in (None, "deterministic"):
        extra.append(row["protocol"])
    if not is_baseline(row["agent"]) and not row["agent"].startswith(ZOO_PREFIX):
        extra.extend(hyperparameter_variant(row))
    return f"{name} ({', '.join(extra)})" if extra else name


def hyperparameter_variant(row: dict[str, Any]) -> list[str]:
    """How a learner row's hyperparameters differ from its agent's tuned entry for the row's env config (from the
    defaults where it has none): ``[]`` when they are the same, ``["defaults"]`` for a row trained with the defaults
    where an entry now exists, else ``key=value`` per setting that differs."""
    from repgym.agents.hyperparams import tuned_entry

    hyperparameters = row.get("hyperparameters") or {}
    entry = tuned_entry(row["agent"], row["env_id"], row["env_kwargs"])
    expected = entry.hyperparameters if entry is not None else {}
    if hyperparameters == expected:
        return []
    if not hyperparameters:
        return ["defaults"]
    return [f"{k}={v}" for k, v in sorted(hyperparameters.items()) if expected.get(k, _UNSET) != v]


_UNSET = object()


def curve_points(rows: Iterable[dict[str, Any]], notes: list[str] | None = None) -> Points:
    """``{game: {label: [CurvePoint, ...]}}`` from finished leaderboard rows; rows without a success rate (or a
    delay) are skipped, and each skip is said once in ``notes``."""
    notes = notes if notes is not None else []
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        delay, label, game = config_delay(row["env_id"], row["env_kwargs"]), curve_label(row), row["env_id"]
        if delay is None:
            _note(notes, f"{game} has no delay argument; its rows are skipped")
        elif row.get("success_rate") is None:
            who = "people's rows carry no success rate yet" if label == PEOPLE else f"{label}'s rows carry none"
            _note(notes, f"{game}: {who}; skipped (success rate is needed)")
        else:
            groups[(game, label, delay)].append(row)
    points: Points = defaultdict(lambda: defaultdict(list))
    for (game, label, delay), members in sorted(groups.items()):
        points[game][label].append(_point(delay, members, pooled=label == PEOPLE))
        if len(points[game][label][-1].train_steps) > 1:
            _note(notes, f"{game} {label} delay={delay}: rows of several budgets are averaged together")
    return {game: dict(curves) for game, curves in points.items()}


def _point(delay: int, rows: list[dict[str, Any]], pooled: bool) -> CurvePoint:
    """One point; ``pooled``: success over every episode of the rows (people), else the mean over rows (seeds)."""
    rates = [float(r["success_rate"]) for r in rows]
    if pooled:
        episodes = [len(r["returns"] or ()) or 1 for r in rows]
        success = sum(s * e for s, e in zip(rates, episodes, strict=True)) / sum(episodes)
    else:
        success = statistics.fmean(rates)
    cpu = [r["cpu_time_s"] for r in rows if r.get("cpu_time_s") is not None]
    budgets = sorted({int(r["train_steps"] or 0) for r in rows})
    return CurvePoint(delay, success, rates, len(rows), budgets, statistics.fmean(cpu) if cpu else None)


def _note(notes: list[str], text: str) -> None:
    if text not in notes:
        notes.append(text)


# -- output --------------------------------------------------------------------------------------------------------


def points_json(points: Points, notes: Sequence[str] = ()) -> dict[str, Any]:
    """The numbers of the curves as plain JSON: per game and curve, one object per delay."""
    curves = {game: {label: [p._asdict() for p in pts] for label, pts in by_label.items()}
              for game, by_label in points.items()}  # fmt: skip
    return {"curves": curves, "chance": {g: CHANCE[g] for g in points if g in CHANCE}, "notes": list(notes)}


def write_json(points: Points, path: str | Path, notes: Sequence[str] = ()) -> Path:
    """Write :func:`points_json` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(points_json(points, notes), indent=2) + "\n")
    return path


def plot_curves(points: Points, out_dir: str | Path) -> list[Path]:
    """One PNG per game, ``<out_dir>/<Game-v0>.png``: mean success (line) and each seed's (dots) against delay.
    Each agent keeps its colour in every game's figure (:func:`curve_colours`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    colours = curve_colours(points)
    paths = []
    for game, curves in points.items():
        path = out / f"{game.split('/')[-1]}.png"
        _figure(game, curves, colours).savefig(path, dpi=120)
        paths.append(path)
    return paths


def seed_count(points: list) -> str:
    """The legend's seed count of one curve: ``n=3``, or ``n=1-3`` while some delays have fewer seeds than others
    (a run still going), so that a mean over fewer seeds is not read as one over all of them."""
    low, high = min(p.n for p in points), max(p.n for p in points)
    return f"n={high}" if low == high else f"n={low}-{high}"


def curve_colours(points: Points) -> dict[str, str]:
    """A matplotlib colour per curve label, the same in every game: labels in sorted order take the default colour
    cycle (``C0``, ``C1``, ...), so a reader can follow one agent from figure to figure."""
    labels = sorted({label for curves in points.values() for label in curves})
    return {label: f"C{i % 10}" for i, label in enumerate(labels)}


def _figure(game: str, curves: dict[str, list[CurvePoint]], colours: dict[str, str]) -> Any:
    """The figure of one game. The delays sit at even steps (a categorical axis): they grow geometrically and 0 is
    one of them. Curves are spread a little sideways so that equal values stay visible."""
    from matplotlib.figure import Figure  # no pyplot: no global state

    delays = sorted({p.delay for pts in curves.values() for p in pts})
    where = {d: i for i, d in enumerate(delays)}
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    spread = min(0.3, 0.06 * (len(curves) - 1))  # sideways, between the first and the last curve
    for i, (label, pts) in enumerate(sorted(curves.items())):
        shift = spread * (i / (len(curves) - 1) - 0.5) if len(curves) > 1 else 0.0
        x = [where[p.delay] + shift for p in pts]
        colour = colours[label]
        ax.plot(x, [p.success for p in pts], marker="o", color=colour, label=f"{label} ({seed_count(pts)})")
        dots = [(xi, s) for xi, p in zip(x, pts, strict=True) for s in p.per_seed]
        ax.scatter(*zip(*dots, strict=True), color=colour, alpha=0.35, s=14, linewidths=0)
    if game in CHANCE:
        ax.axhline(CHANCE[game], color="grey", linestyle="--", linewidth=1, label=f"chance ({CHANCE[game]:g})")
    ax.set_xticks(range(len(delays)), [str(d) for d in delays])
    ax.set_xlim(-0.5, len(delays) - 0.5)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(DELAY_AXIS.get(game, "delay"))
    ax.set_ylabel("success rate (line: mean; dots: seeds)")
    ax.set_title(f"{game.split('/')[-1]}: success against delay")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


__all__ = [
    "CHANCE",
    "DELAYS",
    "GAMES",
    "PEOPLE",
    "CurvePoint",
    "config_delay",
    "curve_colours",
    "curve_label",
    "curve_points",
    "delay_jobs",
    "delay_suite",
    "plot_curves",
    "points_json",
    "seed_count",
    "write_json",
]
