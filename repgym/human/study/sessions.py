"""A study's recorded sessions: which recordings belong to which of its games, and how far each player has got.

The recordings are the study's only record — the server keeps no other file — so that what the export counts and
what the server lets a player play next are read from the same place.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from repgym.human.recording import Recording, RecordingError, read_recording
from repgym.human.study.config import Study, StudyGame


@dataclass
class StudySessions:
    """The readable recordings of a folder, each with its game; ``skipped`` says, one line each, which files were
    left out and why (unreadable, altered, not a game of the study, failed re-simulation)."""

    sessions: list[tuple[Recording, StudyGame]]
    skipped: list[str]

    def by_game(self) -> dict[StudyGame, list[Recording]]:
        """The recordings of each game, games in first-seen order."""
        out: dict[StudyGame, list[Recording]] = {}
        for rec, game in self.sessions:
            out.setdefault(game, []).append(rec)
        return out


def read_sessions(directory: str | Path, study: Study | None = None, verify: bool = False) -> StudySessions:
    """Every ``*.jsonl`` recording under ``directory`` (recursively), sorted by game, then start time. With
    ``study``, only the sessions of its games (in the study's game order); without, every env config recorded is a
    game.
    ``verify`` re-simulates each recording (:func:`repgym.human.replay.replay`) and leaves out those that differ."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no recordings folder at {directory}")
    found: list[tuple[Recording, StudyGame]] = []
    skipped: list[str] = []
    for path in sorted(directory.rglob("*.jsonl")):
        try:
            rec = read_recording(path)
            if verify and rec.episodes:
                from repgym.human.replay import replay

                replay(rec)
        except (RecordingError, OSError, ValueError) as err:
            skipped.append(f"{path.name}: {str(err).removeprefix(path.name + ': ')}")
            continue
        game = _game(rec, study)
        if game is None:
            skipped.append(f"{path.name}: {rec.env_id} {rec.env_kwargs} is not a game of study {study.name!r}")
            continue
        found.append((rec, game))
    order = {game: i for i, game in enumerate(study.games)} if study is not None else {}
    # started_utc has whole seconds: two sessions begun in one second go in the order they were last written to.
    found.sort(key=lambda pair: (order.get(pair[1], 0), pair[0].header["started_utc"], _mtime(pair[0].path)))
    return StudySessions(found, skipped)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _game(rec: Recording, study: Study | None) -> StudyGame | None:
    if study is None:
        return StudyGame(rec.env_id, dict(sorted(rec.env_kwargs.items())), 1)
    index = study.game_of(rec.env_id, rec.env_kwargs)
    return None if index is None else study.games[index]


def finished_counts(sessions: StudySessions, study: Study) -> Counter[tuple[str, int]]:
    """Finished episodes per ``(player, game index)``: how much of each game a player has played."""
    counts: Counter[tuple[str, int]] = Counter()
    index = {game: i for i, game in enumerate(study.games)}
    for rec, game in sessions.sessions:
        counts[(rec.player, index[game])] += sum(ep.finished for ep in rec.episodes)
    return counts
