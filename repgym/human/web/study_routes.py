"""``repgym serve --study``: the routes that walk each player through a study's games.

- ``/`` sends players to ``/study``: the study's title, what they will do, the consent text and a start button; the
  page's script gives the browser an anonymous id (``p-`` and 10 hex digits, kept in ``localStorage``);
- ``/study/play?player=<id>`` is the player's current game — the first of their sequence
  (:meth:`~repgym.human.study.Study.sequence`) with episodes still to play — on the ordinary game page with the
  study's settings fixed, or the end page once all are played;
- ``/study/ws?player=<id>&game=<index>`` plays it: the server, not the page, picks the env and settings, so a
  player cannot change them. The session plays the episodes still owed and no more (each to its end), then the
  server ends it; the page then links to the next game.

Progress is counted from the recordings (read once at start, then updated as sessions end), so a player who closes
the page, or a server that restarts, continues where the player stopped. One session per player at a time.
"""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from repgym.human.recording import RecordingError, default_recordings_dir, read_recording
from repgym.human.study import Study, read_sessions
from repgym.human.web import pages
from repgym.human.web.app import Seat, Server, SessionResult, _describe, _entry, _on, _refuse, _same_origin, _serve

PLAYER_RE = re.compile(r"p-[0-9a-f]{10}")  # what study.js makes: anonymous by construction


def check_study_player(value: str | None) -> str:
    """A study player id (``p-`` and 10 lowercase hex digits); ValueError otherwise."""
    if value is None or not PLAYER_RE.fullmatch(value):
        raise ValueError(f"player must be a study id such as p-0123456789, got {str(value)[:40]!r}")
    return value


@dataclass
class StudyDesk:
    """The server's view of a study: each player's finished episodes per game (``(return, success)``), and who is
    playing now."""

    study: Study
    played: dict[tuple[str, int], list[tuple[float, bool | None]]] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_recordings(cls, study: Study, directory: Path) -> StudyDesk:
        """The progress recorded so far in ``directory`` (none if it does not exist yet)."""
        desk = cls(study)
        if directory.is_dir():
            for rec, game in read_sessions(directory, study).sessions:
                desk._add(rec.player, study.games.index(game), rec)
        return desk

    def _add(self, player: str, index: int, rec: Any) -> None:
        done = [(ep.total_reward, ep.success) for ep in rec.episodes if ep.finished]
        self.played.setdefault((player, index), []).extend(done)

    def count(self, player: str, index: int) -> int:
        with self._lock:
            return len(self.played.get((player, index), []))

    def current(self, player: str) -> tuple[int, int] | None:
        """``(position in the player's sequence, game index)`` of the first game with episodes left, or None."""
        for position, index in enumerate(self.study.sequence(player)):
            if self.count(player, index) < self.study.games[index].episodes:
                return position, index
        return None

    def sit(self, player: str) -> bool:
        """Mark ``player`` as playing; False if they already are (another tab)."""
        with self._lock:
            if player in self.live:
                return False
            self.live.add(player)
            return True

    def stand(self, player: str, index: int, result: SessionResult | None) -> None:
        """``player``'s session of game ``index`` ended (``result`` None: it never started)."""
        with self._lock:
            if result is not None and result.finished:
                # unreadable: the count stays as it was, and the export will say why
                with contextlib.suppress(RecordingError, OSError):
                    self._add(player, index, read_recording(result.path))
            self.live.discard(player)

    def results(self, player: str) -> list[tuple[str, int, int | None, float]]:
        """Per game in the player's order: label, finished episodes, successes (None: no success signal), mean."""
        out = []
        for index in self.study.sequence(player):
            done = self.played.get((player, index), [])
            flags = [s for _, s in done if s is not None]
            mean = sum(r for r, _ in done) / len(done) if done else 0.0
            out.append((self.study.games[index].label, len(done), sum(flags) if flags else None, mean))
        return out


def study_routes(server: Server, study: Study) -> list[Any]:
    """The routes of a study server (see the module docstring)."""
    directory = server.config.recordings or default_recordings_dir()
    desk = StudyDesk.from_recordings(study, directory)
    server.study_desk = desk  # for the operator and tests

    async def home(request: Request) -> Response:
        return RedirectResponse("/study", 303)

    async def intro(request: Request) -> Response:
        return HTMLResponse(pages.study_intro_page(study.name, study.title, len(study.games), study.episodes,
                                                   study.consent))  # fmt: skip

    async def play(request: Request) -> Response:
        try:
            player = check_study_player(request.query_params.get("player"))
        except ValueError as err:
            return HTMLResponse(pages.message_page("Cannot continue the study", f"{err}; start from /study"), 400)
        place = desk.current(player)
        if place is None:
            return HTMLResponse(pages.study_end_page(study.title, player, desk.results(player)))
        position, index = place
        game = study.games[index]
        entry = _entry(game.env_id.split("/", 1)[1])
        guide, current = await _on(server.worker(), _describe, game.env_id, dict(game.settings))
        where = pages.StudyPlace(
            study.title, position + 1, len(study.games), game.episodes, desk.count(player, index), player,
            f"/study/ws?player={player}&game={index}", f"/study/play?player={player}",
        )  # fmt: skip
        return HTMLResponse(pages.game_page(entry, guide, dict(game.settings), {}, current, False, where))

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        if not _same_origin(websocket):
            await _refuse(websocket, "bad_origin", "this game can only be played from the server's own pages")
            return
        try:
            player = check_study_player(websocket.query_params.get("player"))
        except ValueError as err:
            await _refuse(websocket, "bad_request", str(err))
            return
        place = desk.current(player)
        if place is None:
            await _refuse(websocket, "all_played", "you have played every game of this study: thank you!")
            return
        position, index = place
        if websocket.query_params.get("game") != str(index):
            await _refuse(websocket, "reload", "the study has moved on to another game: reload the page")
            return
        if not desk.sit(player):
            await _refuse(websocket, "already_playing", "this study is open in another tab or window: play there, "
                                                        "or close it and reload this page")  # fmt: skip
            return
        if not server.admit():
            desk.stand(player, index, None)
            await _refuse(websocket, "busy", "the server is full; try again in a minute")
            return
        game = study.games[index]
        played = desk.count(player, index)
        seat = Seat(
            game.env_id, dict(game.settings), player,
            seed=None if study.seed is None else study.seed + played,
            games=game.episodes - played,
            extra={"study": {"title": study.title, "position": position + 1, "count": len(study.games),
                             "game": game.label, "episodes": game.episodes, "played": played}},
            done=lambda result: desk.stand(player, index, result),
        )  # fmt: skip
        try:
            await _serve(websocket, server, seat)
        finally:
            server.leave()
            desk.stand(player, index, None)  # no-op after done(); frees the player if the session never started

    return [Route("/", home), Route("/study", intro), Route("/study/play", play), WebSocketRoute("/study/ws", socket)]
