"""``repgym serve``'s web app (Starlette): pages over HTTP, games over a WebSocket, every session recorded here.

Routes: ``/`` the games; ``/play/<name>?<settings>`` a game page (``name`` as registered without the ``repgym/``
namespace, settings checked by :func:`repgym.human.guides.parse_settings`); ``/ws/<name>?<settings>&player=<name>``
the game itself (messages: :mod:`.messages`); ``/leaderboard`` the leaderboard page when the app was given one;
``/static/*`` the page's script and style. With ``ServerConfig.study``, the study's routes
(:mod:`.study_routes`) replace the home, game and socket routes.

One WebSocket is one :class:`~repgym.human.session.GameSession` — one env, one recording. Its env work runs on one
worker thread for the whole session (a MuJoCo GL context must stay on the thread that made it), off the event loop,
so a slow render delays only the sessions sharing that thread. When the socket ends, however it ends, the session
is closed — an episode under way is recorded as ``disconnect`` — and the recording is handed to ``submit`` (the
leaderboard), also when the server is shutting down.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import gymnasium as gym
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from repgym.envs.registry import NAMESPACE
from repgym.human import guides
from repgym.human.session import GameSession, SessionError
from repgym.human.study import Study
from repgym.human.web import pages
from repgym.human.web.messages import (
    MAX_MESSAGE_BYTES,
    MessageError,
    RateLimit,
    check_player,
    error_frame,
    parse_message,
)

log = logging.getLogger("repgym.serve")
T = TypeVar("T")
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")  # fmt: skip
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]  # fmt: skip
MAX_QUERY_ITEMS = 12


@dataclass
class ServerConfig:
    """How the server runs. ``submit(path) -> str`` gets each finished session's recording (on a worker thread)
    and says what became of it; ``leaderboard() -> str`` returns the leaderboard page's HTML. Both are given by
    the caller (``repgym serve`` wires the benchmark's), so this layer does not write the leaderboard itself."""

    recordings: Path | None = None  # None: repgym.human.recording.default_recordings_dir()
    durable: bool = True  # fsync every recorded line
    max_sessions: int = 64
    max_message_bytes: int = MAX_MESSAGE_BYTES
    rate: float = 20.0  # messages per second per session, after a burst of ``burst``
    burst: float = 40.0
    workers: int = 4  # threads for env work; a session keeps one for its whole life
    idle_timeout_s: float = 1800.0  # a session that sends nothing for this long is ended (as a disconnect)
    submit: Callable[[Path], str] | None = None
    leaderboard: Callable[[], str] | None = None
    clock: Callable[[], float] | None = None  # for the rate limit (tests); None: time.monotonic
    seed: int | None = None  # every session's first seed (all players get the same games); None: random per session
    study: Study | None = None  # serve this study (repgym.human.web.study_routes) instead of free play


@dataclass
class SessionResult:
    """What became of one finished session (kept for the operator's log and for tests)."""

    path: Path
    player: str
    env_id: str
    reason: str  # "quit" (the player ended it, or the socket closed between games) or "disconnect"
    finished: int  # games played to their end
    submitted: str | None = None  # what ``submit`` said (None: not submitted, e.g. no finished game)
    error: str | None = None  # why submitting failed


@dataclass
class Server:
    """The app's shared state: the config, the worker threads, live session count, finished sessions."""

    config: ServerConfig
    executors: list[ThreadPoolExecutor] = field(default_factory=list)
    results: list[SessionResult] = field(default_factory=list)
    live: int = 0
    study_desk: Any = None  # a study server's progress (repgym.human.web.study_routes.StudyDesk)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.executors = [ThreadPoolExecutor(1, thread_name_prefix=f"repgym-env-{i}")
                          for i in range(max(1, self.config.workers))]  # fmt: skip

    def worker(self) -> ThreadPoolExecutor:
        """The next worker thread, round robin."""
        return self.executors[next(self._next) % len(self.executors)]

    def admit(self) -> bool:
        with self._lock:
            if self.live >= self.config.max_sessions:
                return False
            self.live += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.live -= 1

    def finished(self, result: SessionResult) -> None:
        with self._lock:
            self.results.append(result)

    def shutdown(self) -> None:
        for executor in self.executors:
            executor.shutdown(wait=True)


async def _on(executor: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on ``executor``'s thread and wait for it (here, once the server has stopped its threads:
    a session still closing must not lose its recording)."""
    try:
        future = executor.submit(fn, *args)
    except RuntimeError:  # "cannot schedule new futures after shutdown"
        return fn(*args)
    return await asyncio.wrap_future(future)


def _entry(name: str) -> Any:
    return guides.playable_envs().get(f"{NAMESPACE}/{name}")


def _query_settings(entry: Any, items: list[tuple[str, str]], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Validated env settings from query items (ValueError: unknown, repeated or out of range)."""
    items = [(k, v) for k, v in items if k not in skip]
    if len(items) > MAX_QUERY_ITEMS:
        raise ValueError(f"too many settings ({len(items)})")
    names = [k for k, _ in items]
    repeated = sorted({k for k in names if names.count(k) > 1})
    if repeated:
        raise ValueError(f"setting {repeated[0][:40]!r} given more than once")
    return guides.parse_settings(entry.id, dict(items))


def create_app(config: ServerConfig | None = None) -> Starlette:
    """The web app; ``app.state.server`` is its :class:`Server`."""
    config = config or ServerConfig()
    server = Server(config)

    async def home(request: Request) -> Response:
        return HTMLResponse(pages.home_page(list(guides.playable_envs().values()), config.leaderboard is not None))

    async def play_page(request: Request) -> Response:
        entry = _entry(request.path_params["name"])
        if entry is None:
            return HTMLResponse(pages.message_page("No such game", "no repgym env of that name; see the list of "
                                                   "games"), 404)  # fmt: skip
        try:
            settings = _query_settings(entry, list(request.query_params.multi_items()), skip=("player",))
            guide, current = await _on(server.worker(), _describe, entry.id, settings)
        except (ValueError, TypeError, gym.error.Error) as err:
            return HTMLResponse(pages.message_page("Cannot start this game", str(err)), 400)
        allowed = guides.allowed_settings(entry.id)
        html = pages.game_page(entry, guide, settings, allowed, current, config.leaderboard is not None)
        return HTMLResponse(html)

    async def leaderboard(request: Request) -> Response:
        if config.leaderboard is None:
            return HTMLResponse(pages.message_page("Leaderboard", "this server shows no leaderboard"), 404)
        try:
            return HTMLResponse(await _on(server.worker(), config.leaderboard))
        except Exception as err:  # noqa: BLE001  (a broken database must not take the server down)
            log.warning("leaderboard page failed: %s", err)
            return HTMLResponse(pages.message_page("Leaderboard", f"cannot read the leaderboard: {err}"), 500)

    async def game_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        if not _same_origin(websocket):
            await _refuse(websocket, "bad_origin", "this game can only be played from the server's own pages")
            return
        entry = _entry(websocket.path_params["name"])
        try:
            if entry is None:
                raise ValueError(f"no repgym env named {websocket.path_params['name'][:60]!r}")
            items = list(websocket.query_params.multi_items())
            settings = _query_settings(entry, items, skip=("player",))
            player = check_player(websocket.query_params.get("player"))
        except ValueError as err:
            await _refuse(websocket, "bad_request", str(err))
            return
        if not server.admit():
            await _refuse(websocket, "busy", f"the server is full ({config.max_sessions} games under way); try later")
            return
        try:
            await _serve(websocket, server, Seat(entry.id, settings, player))
        finally:
            server.leave()

    if config.study is None:
        routes = [Route("/", home), Route("/play/{name}", play_page), WebSocketRoute("/ws/{name}", game_socket)]
    else:  # a study server: players follow the study, nothing else
        from repgym.human.web.study_routes import study_routes

        routes = study_routes(server, config.study)
    app = Starlette(
        routes=[
            *routes,
            Route("/leaderboard", leaderboard),
            Mount("/static", StaticFiles(directory=str(files("repgym.human.web").joinpath("static"))), name="static"),
        ],
        lifespan=_lifespan(server),
    )
    app.state.server = server
    app.add_middleware(SecurityHeaders)
    return app


def _lifespan(server: Server) -> Callable[[Starlette], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        server.shutdown()

    return lifespan


def _describe(env_id: str, settings: dict[str, Any]) -> tuple[guides.Guide, dict[str, Any]]:
    """The guide of ``env_id`` made with ``settings``, and the current value of every setting a player may change."""
    env = gym.make(env_id, **settings)
    try:
        game = env.unwrapped
        current = {}
        for name in guides.allowed_settings(env_id):
            value = getattr(game, name, getattr(getattr(game, "config", None), name, None))
            current[name] = value
        return guides.guide_for(env), current
    finally:
        env.close()


def _same_origin(websocket: WebSocket) -> bool:
    """A browser's ``Origin`` must name this server (stops other sites' pages from playing in a visitor's name);
    clients that send none (tests, scripts) pass."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def _refuse(websocket: WebSocket, code: str, message: str) -> None:
    await websocket.send_json(error_frame(code, message))
    await websocket.close(code=1008)


@dataclass
class Seat:
    """What one WebSocket plays: the env config, the player, the first seed (None: ``config.seed``), and for a study
    its quota of ``games`` (the server ends the session once they are played), ``extra`` fields for the hello frame
    (where in the study this is) and ``done``, told the session's result before the socket closes."""

    env_id: str
    settings: dict[str, Any]
    player: str
    seed: int | None = None
    games: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    done: Callable[[SessionResult], None] | None = None


async def _serve(websocket: WebSocket, server: Server, seat: Seat) -> None:
    """Play one session to its end, then close its recording and submit it (``server.results`` tells how)."""
    config = server.config
    worker = server.worker()
    env_id = seat.env_id
    try:
        session = await _on(worker, _open_session, seat, config)
    except (ValueError, TypeError, OSError, gym.error.Error) as err:
        await _refuse(websocket, "cannot_start", f"cannot start {env_id}: {err}")
        return
    limit = RateLimit(config.rate, config.burst, **({"clock": config.clock} if config.clock else {}))
    reason = "disconnect"
    try:
        await websocket.send_json({"type": "hello", "env_id": env_id, "settings": seat.settings,
                                   "player": seat.player, "guide": session.guide.to_json(), **seat.extra})  # fmt: skip
        await websocket.send_json({"type": "state", **await _on(worker, _reset, session)})
        while True:
            try:
                message = await asyncio.wait_for(websocket.receive(), config.idle_timeout_s)
            except asyncio.TimeoutError:
                await _refuse(websocket, "idle", f"no move for {config.idle_timeout_s:g} s: the session has ended")
                break
            if message["type"] == "websocket.disconnect":
                break
            if not limit.allow():
                await websocket.send_json(error_frame("rate_limited", "too many messages; slow down"))
                continue
            try:
                request = parse_message(message.get("text"), config.max_message_bytes)
                if request["type"] == "quit":
                    reason = "quit"
                    break
                state = await _on(worker, _handle, session, request)
            except (MessageError, SessionError) as err:
                await websocket.send_json(error_frame(err.code, str(err)))
                continue
            except Exception as err:  # noqa: BLE001  (an env's bug ends no session but is logged in full)
                log.exception("session %s: a request failed", session.path.name)
                await websocket.send_json(error_frame("server_error", f"the game failed: {type(err).__name__}"))
                continue
            await websocket.send_json({"type": "state", **state})
            if seat.games is not None and session.finished >= seat.games:
                reason = "quit"  # a study's quota is played: the server ends the session
                break
    except WebSocketDisconnect:
        pass
    except Exception as err:  # noqa: BLE001  (e.g. the first render fails: tell the player, record, close)
        log.exception("session %s failed", session.path.name)
        with contextlib.suppress(Exception):
            await _refuse(websocket, "server_error", f"the game failed: {type(err).__name__}: {err}")
    finally:
        # Shielded: a cancelled connection (client gone, server stopping) still ends its recording and submits it.
        with anyio.CancelScope(shield=True):
            result = await _on(worker, _finish, session, reason, config.submit)
            server.finished(result)
            if seat.done is not None:
                seat.done(result)
    if reason == "quit":
        with contextlib.suppress(RuntimeError):  # already closed by the client
            await websocket.close()


def _open_session(seat: Seat, config: ServerConfig) -> GameSession:
    seed = config.seed if seat.seed is None else seat.seed
    return GameSession(seat.env_id, seat.settings, seed=seed, player=seat.player, record_dir=config.recordings,
                       durable=config.durable, games=seat.games)  # fmt: skip


def _reset(session: GameSession) -> dict[str, Any]:
    session.reset()
    return session.view()


def _handle(session: GameSession, request: dict[str, Any]) -> dict[str, Any]:
    """Apply one checked request (reset, action or key) and return the new view."""
    kind = request["type"]
    if kind == "reset":
        session.reset()
    elif kind == "action":
        session.act(request["action"])
    else:
        session.press(request["key"])
    return session.view()


def _finish(session: GameSession, reason: str, submit: Callable[[Path], str] | None) -> SessionResult:
    """Close the session's recording (an episode under way ends with ``reason``) and submit it."""
    cut = reason == "disconnect" and not session.over
    path = session.close("disconnect" if cut else "quit")
    result = SessionResult(path, session.player, session.env_id, "disconnect" if cut else "quit", session.finished)
    if submit is not None and session.finished:
        try:
            result.submitted = submit(path)
        except Exception as err:  # noqa: BLE001  (a recording the leaderboard refuses must not stop the server)
            result.error = str(err).removeprefix(f"{path.name}: ")
    outcome = result.submitted or (f"not submitted: {result.error}" if result.error else "nothing to submit")
    log.info("%s (%s, %d finished): %s", path.name, result.reason, result.finished, outcome)
    return result


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)
