"""``repgym study export``: a study's recordings as tables and the people's learning curves as figures.

Writes to ``out``:

- ``episodes.csv`` and ``episodes.jsonl``: one row per recorded episode (:data:`EPISODE_FIELDS`): who played which
  game with which settings, the episode's place in the player's sequence of finished episodes of that game
  (``episode``, from 0; empty for episodes that did not finish: restarts, quits, disconnects), its return, length,
  success and end reason;
- ``curves.csv``: per game and episode index, how many players played it, how many succeeded, the success rate and
  the mean return;
- ``first_success.csv``: per game and player, the finished episodes played before the first success (empty: never);
- ``curve-<game>.png`` per game (success rate by episode index; episodes to the first success) and
  ``curves.png`` (every game's success rate on one axis — e.g. the same game at several delays).

The numbers come from :func:`repgym.human.scores.learning_summary` and
:func:`~repgym.human.scores.finished_episodes`, the same as every other human score in repgym.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from repgym.human.recording import Recording
from repgym.human.scores import LearningSummary, finished_episodes, learning_summary
from repgym.human.study.config import Study, StudyGame
from repgym.human.study.sessions import StudySessions, read_sessions

EPISODE_FIELDS = ("study", "player", "env_id", "settings", "game", "session", "session_episode", "episode", "seed",
                  "return", "length", "success", "end_reason", "started_utc")  # fmt: skip
CURVE_FIELDS = ("game", "episode", "players", "successes", "success_rate", "mean_return")


@dataclass
class GameCurves:
    """One game's learning curves: ``summary`` is None when the env reports no success and no ``success_return``
    was given (then only the returns are plotted)."""

    game: StudyGame
    summary: LearningSummary | None
    mean_return_by_episode: np.ndarray  # (max episodes,) float64
    players_by_episode: np.ndarray  # (max episodes,) int64
    figure: Path | None = None


@dataclass
class ExportResult:
    """What was written, for the command's report and for tests."""

    out: Path
    episodes: int
    players: list[str]
    games: list[GameCurves]
    files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def export_study(recordings: str | Path, out: str | Path, study: Study | None = None, verify: bool = True,
                 figures: bool = True) -> ExportResult:  # fmt: skip
    """Write the tables and figures described in the module docstring for the recordings under ``recordings``
    (only the study's games when ``study`` is given); ``verify`` re-simulates every recording first."""
    sessions = read_sessions(recordings, study, verify=verify)
    if not sessions.sessions:
        where = f" of study {study.name!r}" if study else ""
        extra = f" ({len(sessions.skipped)} left out: {sessions.skipped[0]})" if sessions.skipped else ""
        raise ValueError(f"no recordings{where} in {recordings}{extra}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = episode_rows(sessions, study)
    curves = [_curves(game, recs) for game, recs in sessions.by_game().items()]
    files = [_write_csv(out / "episodes.csv", EPISODE_FIELDS, rows), _write_jsonl(out / "episodes.jsonl", rows),
             _write_csv(out / "curves.csv", CURVE_FIELDS, _curve_rows(curves)),
             _write_csv(out / "first_success.csv", ("game", "player", "episodes_to_first_success"),
                        _first_success_rows(curves))]  # fmt: skip
    if figures:
        from repgym.human.study.figures import plot_game, plot_overview

        for c in curves:
            c.figure = plot_game(c, out / f"curve-{c.game.slug}.png")
            files.append(c.figure)
        files.append(plot_overview(curves, out / "curves.png"))
    players = sorted({rec.player for rec, _ in sessions.sessions})
    return ExportResult(out, len(rows), players, curves, files, sessions.skipped)


def episode_rows(sessions: StudySessions, study: Study | None = None) -> list[dict[str, Any]]:
    """One row per recorded episode (:data:`EPISODE_FIELDS`), games in order, then players' sessions by time."""
    rows = []
    for game, recs in sessions.by_game().items():
        place = {id(ep): i for eps in finished_episodes(recs).values() for i, ep in enumerate(eps)}
        for rec in recs:
            for ep in rec.episodes:
                rows.append({
                    "study": study.name if study else "", "player": rec.player, "env_id": rec.env_id,
                    "settings": rec.env_kwargs, "game": game.label,
                    "session": rec.path.name, "session_episode": ep.index, "episode": place.get(id(ep)),
                    "seed": ep.seed, "return": ep.total_reward, "length": len(ep.steps), "success": ep.success,
                    "end_reason": ep.end_reason or "interrupted", "started_utc": rec.header["started_utc"],
                })  # fmt: skip
    return rows


def _curves(game: StudyGame, recs: list[Recording]) -> GameCurves:
    players = finished_episodes(recs)
    try:
        summary = learning_summary(recs, success_threshold=game.success_return)
    except ValueError:  # no success signal: the returns still make a curve
        summary = None
    longest = max((len(eps) for eps in players.values()), default=0)
    totals, counts = np.zeros(longest), np.zeros(longest, np.int64)
    for eps in players.values():
        totals[: len(eps)] += [ep.total_reward for ep in eps]
        counts[: len(eps)] += 1
    means = np.divide(totals, counts, out=np.full(longest, np.nan), where=counts > 0)
    return GameCurves(game, summary, means, counts)


def _curve_rows(curves: list[GameCurves]) -> list[dict[str, Any]]:
    rows = []
    for c in curves:
        for i, players in enumerate(c.players_by_episode):
            rate = None if c.summary is None else float(c.summary.success_rate_by_episode[i])
            rows.append({"game": c.game.label, "episode": i, "players": int(players),
                         "successes": None if rate is None else round(rate * int(players)),
                         "success_rate": rate, "mean_return": float(c.mean_return_by_episode[i])})  # fmt: skip
    return rows


def _first_success_rows(curves: list[GameCurves]) -> list[dict[str, Any]]:
    return [{"game": c.game.label, "player": player, "episodes_to_first_success": first}
            for c in curves if c.summary is not None
            for player, first in sorted(c.summary.episodes_to_first_success.items())]  # fmt: skip


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def _write_csv(path: Path, fields: tuple[str, ...], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows({k: _cell(row[k]) for k in fields} for row in rows)
    return path


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True) + "\n")
    return path
