"""From result rows to leaderboard entries: rows that differ only in their seed form one entry, scored over seeds.

An entry's key is (env id, env constructor arguments, agent, hyperparameters, training steps, evaluation episodes,
protocol) — everything but the seed — so rows are pooled only when they measured the same thing. A person's
recordings of one game and setting form one ``human:<name>`` entry (each recording counts as one "seed").

Per entry: mean and std over every evaluation episode, the IQM over per-seed mean returns with a 95% percentile
bootstrap interval (:mod:`.scoring`), and normalised scores against the env config's references: *random* is the
mean return of all ``random`` rows of that env and config, *expert* that of its ``expert`` rows, *human* the median
over players of each player's mean return (:func:`repgym.human.scores.human_reference`), present only once at least
``min_players`` players (default 5) have played that env config; every entry carries the number of players the
config's human reference rests on. References are computed when the rows are read, so one added later rescales
every entry. Entries of one env config are ranked by mean return (highest first), which is also their order by any
normalised score.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from repgym.benchmark.scoring import bootstrap_ci, expert_normalised, human_normalised, random_normalised
from repgym.human.scores import MIN_PLAYERS, human_reference


@dataclass
class Entry:
    """One leaderboard line: an agent (or a person) on one env config under one protocol, over its seeds."""

    env_id: str
    env_kwargs: dict[str, Any]
    agent: str
    kind: str  # agent | human
    hyperparameters: dict[str, Any]
    train_steps: int | None
    eval_episodes: int | None
    protocol: str
    seeds: list[int]
    per_seed: list[float]  # mean return of each seed (or recording)
    returns: list[float]  # every evaluation episode, pooled
    mean: float
    std: float
    iqm: float
    iqm_low: float
    iqm_high: float
    wall_time_s: float  # summed over seeds
    cpu_time_s: float | None  # summed over seeds; None where no row recorded it (people, rows written before it)
    success_rate: float | None  # over every evaluation episode; None where the env reports no success
    versions: list[str]
    commits: list[str]
    date: str  # latest row's
    row_ids: list[int]
    best_row: int  # id of the seed with the highest mean return
    video: str | None
    learning_curves: list[list[list[float]]] = field(default_factory=list)
    random_norm: float | None = None
    human_norm: float | None = None
    expert_norm: float | None = None
    human_players: int = 0  # players whose finished games the env config's human reference pools
    human_reference: float | None = None  # None until ``min_players`` players have played the config
    rank: int = 0

    @property
    def env_label(self) -> str:
        return env_label(self.env_id, self.env_kwargs)


def env_label(env_id: str, env_kwargs: dict[str, Any]) -> str:
    """``repgym/X-v0`` or ``repgym/X-v0 (delay=5, rows=8)`` for a non-default config."""
    if not env_kwargs:
        return env_id
    return f"{env_id} ({', '.join(f'{k}={v}' for k, v in sorted(env_kwargs.items()))})"


def _key(row: dict[str, Any]) -> tuple:
    env = (row["env_id"], json.dumps(row["env_kwargs"], sort_keys=True))
    if row["kind"] == "human":
        return (*env, row["agent"], "{}", None, None, row["protocol"])
    return (*env, row["agent"], json.dumps(row["hyperparameters"], sort_keys=True), row["train_steps"],
            row["eval_episodes"], row["protocol"])  # fmt: skip


REFERENCES = ("random", "human", "expert")


def _success_rate(members: list[dict[str, Any]]) -> float | None:
    """Successes over all evaluation episodes of an entry's rows, where every row recorded its rate."""
    rates = [(r.get("success_rate"), len(r["returns"])) for r in members]
    if not rates or any(rate is None for rate, _ in rates):
        return None
    return float(sum(rate * n for rate, n in rates) / sum(n for _, n in rates))


def _cpu_time(members: list[dict[str, Any]]) -> float | None:
    """CPU seconds of an entry's rows together, where every row recorded them."""
    times = [r.get("cpu_time_s") for r in members]
    return None if any(t is None for t in times) else float(sum(times))


@dataclass(frozen=True)
class References:
    """One env config's reference scores (None when absent) and the players its human reference rests on."""

    random: float | None = None
    human: float | None = None
    expert: float | None = None
    human_players: int = 0


def references(rows: list[dict[str, Any]], min_players: int = MIN_PLAYERS) -> dict[tuple[str, str], References]:
    """Per env config ``(env_id, env_kwargs JSON)``: the mean return of the ``random`` and of the ``expert`` rows,
    and the human reference over the ``human:<name>`` rows (:func:`~repgym.human.scores.human_reference`)."""
    pooled: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: {"random": [], "expert": []})
    people: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        env = (row["env_id"], json.dumps(row["env_kwargs"], sort_keys=True))
        if row["kind"] == "human":
            people[env][row["agent"]] += row["returns"]
        elif row["agent"] in ("random", "expert"):
            pooled[env][row["agent"]] += row["returns"]
    out = {}
    for env in {**pooled, **people}:
        refs, players = pooled[env], people[env]
        out[env] = References(
            random=float(np.mean(refs["random"])) if refs["random"] else None,
            human=human_reference(players, min_players),
            expert=float(np.mean(refs["expert"])) if refs["expert"] else None,
            human_players=sum(1 for r in players.values() if r),
        )
    return out


def build_entries(
    rows: list[dict[str, Any]], reps: int = 2000, min_players: int = MIN_PLAYERS
) -> dict[str, list[Entry]]:
    """Finished rows -> entries grouped by env config label (envs in first-seen order), each group ranked; an env
    config has a human reference once ``min_players`` players have played it."""
    rows = [r for r in rows if r["status"] == "ok" and r["returns"]]
    refs = references(rows, min_players)
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[_key(row)].append(row)
    by_env: dict[str, list[Entry]] = defaultdict(list)
    for key, members in groups.items():
        returns = [x for r in members for x in r["returns"]]
        per_seed = [float(np.mean(r["returns"])) for r in members]
        point, low, high = bootstrap_ci(per_seed, reps=reps)
        first, best = members[0], max(members, key=lambda r: (r["mean"], -r["seed"]))
        ref = refs.get(key[:2], References())
        mean = float(np.mean(returns))
        entry = Entry(
            env_id=first["env_id"], env_kwargs=first["env_kwargs"], agent=first["agent"], kind=first["kind"],
            hyperparameters=first["hyperparameters"], train_steps=key[4], eval_episodes=key[5],
            protocol=first["protocol"], seeds=[r["seed"] for r in members], per_seed=per_seed, returns=returns,
            mean=mean, std=float(np.std(returns)), iqm=point, iqm_low=low, iqm_high=high,
            wall_time_s=float(sum(r["wall_time_s"] or 0.0 for r in members)),
            cpu_time_s=_cpu_time(members),
            success_rate=_success_rate(members),
            versions=sorted({r["repgym_version"] for r in members}),
            commits=sorted({r["git_commit"] for r in members if r["git_commit"]}),
            date=max(r["created_utc"] for r in members), row_ids=[r["id"] for r in members], best_row=best["id"],
            video=best["video_path"] or next((r["video_path"] for r in members if r["video_path"]), None),
            learning_curves=[r["learning_curve"] for r in members if r["learning_curve"]],
            random_norm=random_normalised(mean, ref.random), human_norm=human_normalised(mean, ref.random, ref.human),
            expert_norm=expert_normalised(mean, ref.random, ref.expert), human_players=ref.human_players,
            human_reference=ref.human,
        )  # fmt: skip
        by_env[entry.env_label].append(entry)
    for entries in by_env.values():
        entries.sort(key=lambda e: (-e.mean, e.agent))
        for rank, entry in enumerate(entries, start=1):
            entry.rank = rank
    return dict(by_env)


__all__ = ["REFERENCES", "Entry", "References", "build_entries", "env_label", "references"]
