"""From result rows to leaderboard entries: rows that differ only in their seed form one entry, scored over seeds.

An entry's key is (env id, env constructor arguments, agent, hyperparameters, training steps, evaluation episodes,
protocol) — everything but the seed — so rows are pooled only when they measured the same thing. A person's
recordings of one game and setting form one ``human:<name>`` entry (each recording counts as one "seed").

Per entry: mean and std over every evaluation episode, the IQM over per-seed mean returns with a 95% percentile
bootstrap interval (:mod:`.scoring`), and normalised scores against the env config's references: *random* is the
mean return of all ``random`` rows of that env and config, *expert* that of its ``expert`` rows, *human* the mean
return of every finished episode people submitted for it (:func:`repgym.human.scores.human_score`'s definition).
They are computed when the rows are read, so a reference added later rescales every entry. Entries of one env
config are ranked by mean return (highest first), which is also their order by any normalised score.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from repgym.benchmark.scoring import bootstrap_ci, expert_normalised, human_normalised, random_normalised


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


def references(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float | None]]:
    """Per env config ``(env_id, env_kwargs JSON)``: the ``random``, ``human`` and ``expert`` mean returns (None when
    absent)."""
    pooled: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: {name: [] for name in REFERENCES})
    for row in rows:
        env = (row["env_id"], json.dumps(row["env_kwargs"], sort_keys=True))
        if row["kind"] == "human":
            pooled[env]["human"] += row["returns"]
        elif row["agent"] in ("random", "expert"):
            pooled[env][row["agent"]] += row["returns"]
    return {env: {name: (float(np.mean(v)) if v else None) for name, v in refs.items()} for env, refs in pooled.items()}


def build_entries(rows: list[dict[str, Any]], reps: int = 2000) -> dict[str, list[Entry]]:
    """Finished rows -> entries grouped by env config label (envs in first-seen order), each group ranked."""
    rows = [r for r in rows if r["status"] == "ok" and r["returns"]]
    refs = references(rows)
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[_key(row)].append(row)
    by_env: dict[str, list[Entry]] = defaultdict(list)
    for key, members in groups.items():
        returns = [x for r in members for x in r["returns"]]
        per_seed = [float(np.mean(r["returns"])) for r in members]
        point, low, high = bootstrap_ci(per_seed, reps=reps)
        first, best = members[0], max(members, key=lambda r: (r["mean"], -r["seed"]))
        ref = refs.get(key[:2], dict.fromkeys(REFERENCES))
        mean = float(np.mean(returns))
        entry = Entry(
            env_id=first["env_id"], env_kwargs=first["env_kwargs"], agent=first["agent"], kind=first["kind"],
            hyperparameters=first["hyperparameters"], train_steps=key[4], eval_episodes=key[5],
            protocol=first["protocol"], seeds=[r["seed"] for r in members], per_seed=per_seed, returns=returns,
            mean=mean, std=float(np.std(returns)), iqm=point, iqm_low=low, iqm_high=high,
            wall_time_s=float(sum(r["wall_time_s"] or 0.0 for r in members)),
            versions=sorted({r["repgym_version"] for r in members}),
            commits=sorted({r["git_commit"] for r in members if r["git_commit"]}),
            date=max(r["created_utc"] for r in members), row_ids=[r["id"] for r in members], best_row=best["id"],
            video=best["video_path"] or next((r["video_path"] for r in members if r["video_path"]), None),
            learning_curves=[r["learning_curve"] for r in members if r["learning_curve"]],
            random_norm=random_normalised(mean, ref["random"]),
            human_norm=human_normalised(mean, ref["random"], ref["human"]),
            expert_norm=expert_normalised(mean, ref["random"], ref["expert"]),
        )  # fmt: skip
        by_env[entry.env_label].append(entry)
    for entries in by_env.values():
        entries.sort(key=lambda e: (-e.mean, e.agent))
        for rank, entry in enumerate(entries, start=1):
            entry.rank = rank
    return dict(by_env)


__all__ = ["REFERENCES", "Entry", "build_entries", "env_label", "references"]
