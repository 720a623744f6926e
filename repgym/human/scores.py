"""People and agents on one scale: human-normalised scores, and how people learned a game from their recordings.

```python
from repgym.human.scores import human_normalised_score, human_score, learning_summary, random_score
recs = [read_recording(p) for p in paths]          # one env id and constructor arguments
human = human_score(recs)                          # median over players of each player's mean return (>= 5 players)
rand = random_score(recs[0].env_id, recs[0].env_kwargs)
human_normalised_score(agent_mean_return, rand, human)   # 0 = random, 1 = human
summary = learning_summary(recs)                   # episodes until first success, success rate by episode index
```

**The human reference** is a statistic over players, not over sessions or episodes: the median of the players' mean
returns over their finished episodes (:func:`human_reference`). One person who plays many games, or one
below-random session, moves it by at most one player's rank; and it exists only once ``MIN_PLAYERS`` (5) players
have played the env config, so that a single session never defines what "human" means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from repgym.human.recording import Episode, Recording
from repgym.runs import DEFAULT_FIRST_SEED, EnvSpec, EvalProtocol, play

MIN_PLAYERS = 5  # players an env config needs before it has a human reference


def human_normalised_score(agent: float, random: float, human: float) -> float:
    """``(agent - random) / (human - random)``: 0 plays like chance, 1 like the people recorded."""
    if human == random:
        raise ValueError(f"human and random scores are equal ({human!r}): the normalised score is undefined")
    return (agent - random) / (human - random)


def random_score(
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    episodes: int = 100,
    seed: int = 0,
    first_seed: int = DEFAULT_FIRST_SEED,
) -> float:
    """Mean return of uniformly random legal actions (:func:`repgym.runs.play` with no policy) over ``episodes``
    episodes reset from ``first_seed``, ``first_seed + 1``, ... (default: the run protocol's evaluation games, the
    ones agents are scored on); ``seed`` seeds the random actions."""
    protocol = EvalProtocol(episodes, first_seed=first_seed, rng_seed=seed)
    return play(None, EnvSpec(env_id, env_kwargs or {}), protocol).mean


def _same_game(recordings: Sequence[Recording]) -> None:
    if not recordings:
        raise ValueError("no recordings given")
    games = {(r.env_id, tuple(sorted(r.env_kwargs.items()))) for r in recordings}
    if len(games) > 1:
        raise ValueError(f"recordings of different games or settings cannot be pooled: {sorted(games)}")


def finished_episodes(recordings: Sequence[Recording]) -> dict[str, list[Episode]]:
    """Per player, the episodes the game ended (terminated or truncated) in the order played: recordings sorted by
    start time, restarts and quits left out."""
    _same_game(recordings)
    players: dict[str, list[Episode]] = {}
    for rec in sorted(recordings, key=lambda r: r.header["started_utc"]):
        players.setdefault(rec.player, []).extend(ep for ep in rec.episodes if ep.finished)
    return players


def human_reference(returns_by_player: Mapping[str, Sequence[float]], min_players: int = MIN_PLAYERS) -> float | None:
    """The median over players of each player's mean return (``returns_by_player``: a player's finished-episode
    returns); None while fewer than ``min_players`` players have at least one return."""
    if min_players < 1:
        raise ValueError(f"min_players must be at least 1, got {min_players}")
    means = [float(np.mean(r)) for r in returns_by_player.values() if len(r)]
    return float(np.median(means)) if len(means) >= min_players else None


def human_score(recordings: Sequence[Recording], min_players: int = MIN_PLAYERS) -> float:
    """:func:`human_reference` of the finished episodes in ``recordings`` (one game and setting); ValueError when
    fewer than ``min_players`` players finished an episode."""
    players = {name: [ep.total_reward for ep in eps] for name, eps in finished_episodes(recordings).items()}
    reference = human_reference(players, min_players)
    if reference is None:
        done = sum(1 for r in players.values() if r)
        if not done:
            raise ValueError("the recordings hold no finished episode")
        raise ValueError(f"a human reference needs {min_players} players with a finished episode; these recordings "
                         f"hold {done}")  # fmt: skip
    return reference


@dataclass
class LearningSummary:
    """How people learned one game. Episode indices count finished episodes from 0, per player."""

    players: list[str]
    episodes_to_first_success: dict[str, int | None]  # finished episodes played before the first success (None: never)
    success_rate_by_episode: np.ndarray  # (max episodes,) float64, fraction of players who succeeded in episode i
    players_by_episode: np.ndarray  # (max episodes,) int64, players who played an episode i
    mean_return: float  # over every finished episode


def learning_summary(recordings: Sequence[Recording], success_threshold: float | None = None) -> LearningSummary:
    """Episodes until the first success and the success rate by episode index, over the players recorded.

    An episode is a success when the env reported ``info["success"] = True`` at its end (the delayed games do),
    or, with ``success_threshold``, when its return is at least that (for envs without a success signal)."""
    players = finished_episodes(recordings)

    def succeeded(ep: Episode) -> bool:
        if success_threshold is not None:
            return ep.total_reward >= success_threshold
        if ep.success is None:
            raise ValueError("this env records no success signal; pass success_threshold (a return) to define one")
        return ep.success

    outcomes = {name: np.array([succeeded(ep) for ep in eps], bool) for name, eps in players.items()}
    longest = max((len(o) for o in outcomes.values()), default=0)
    wins, counts = np.zeros(longest), np.zeros(longest, np.int64)
    for o in outcomes.values():
        wins[: len(o)] += o
        counts[: len(o)] += 1
    first = {name: (int(np.argmax(o)) if o.any() else None) for name, o in outcomes.items()}
    returns = [ep.total_reward for eps in players.values() for ep in eps]
    return LearningSummary(
        players=sorted(players),
        episodes_to_first_success=first,
        success_rate_by_episode=np.divide(wins, counts, out=np.zeros(longest), where=counts > 0),
        players_by_episode=counts,
        mean_return=float(np.mean(returns)) if returns else float("nan"),
    )
