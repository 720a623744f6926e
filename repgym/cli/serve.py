"""``repgym serve``: every registered env, playable in a browser; sessions recorded and submitted to the
leaderboard by the server."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from repgym.cli.common import Handler, add_command

EPILOG_SERVE = """\
the env runs on the server; the browser only sends moves (WebSocket). Every session is recorded on the server
(the `repgym play` recording format) in --recordings, default $REPGYM_RECORDINGS, else
~/.local/share/repgym/recordings; when a player leaves, the finished games of the session are replayed and added
to the leaderboard (--db, default $REPGYM_DB, else ~/.local/share/repgym/leaderboard.sqlite) as human:<player>.
A game left in the middle is recorded as `disconnect`.

game pages take the env's settings in the query string, e.g. /play/KeyToDoor-v0?delay=5 (only the settings
the page lists, within their ranges).

a study (--study study.toml: the games, their settings, episodes per player, order, consent text; see
examples/study.toml) turns the server into that study only: players open / , read the consent text, get an
anonymous id (kept by their browser) and play their sequence of games with the settings fixed; the server records
every session (default folder: <recordings>/studies/<study name>) and submits it to the leaderboard. Then
`repgym study export` writes the tables and learning curves.

binds 127.0.0.1 (this machine only) unless --host says otherwise: with --host 0.0.0.0 anyone who can reach the
port can play and add recordings. Needs the web extra: pip install "repgym[web]".

examples:
  repgym serve                                 http://127.0.0.1:8000
  repgym serve --port 8080 --recordings study/recordings --db study/leaderboard.sqlite
  repgym serve --host 0.0.0.0 --port 8000      publish on the local network
  repgym serve --study examples/study.toml --recordings study/recordings   a human study
"""

WS_MAX_BYTES = 64 * 1024  # uvicorn refuses larger WebSocket frames before the app sees them


def register(sub) -> dict[str, Handler]:
    p = add_command(sub, "serve", "play every env in a browser (web server; sessions recorded)",
                    "Serve a web app in which every registered repgym env can be played in a browser.",
                    EPILOG_SERVE)  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--recordings", default=None, metavar="DIR", help="folder for the recordings (default: see below)")
    p.add_argument("--db", default=None, metavar="PATH", help="leaderboard database (default: see below)")
    p.add_argument("--max-sessions", type=int, default=64, help="games under way at once (default: 64)")
    p.add_argument("--no-submit", action="store_true", help="record sessions without adding them to the leaderboard")
    p.add_argument("--study", default=None, metavar="FILE", help="serve this study (TOML) instead of free play")
    return {"serve": _cmd_serve}


def make_app(recordings: str | Path | None = None, db: str | Path | None = None, submit: bool = True,
             study: str | Path | Any | None = None, **config: Any) -> Any:  # fmt: skip
    """The app of ``repgym serve``: recordings in ``recordings``, finished sessions submitted to the leaderboard
    at ``db`` (both defaults as for ``repgym play`` and ``repgym leaderboard``); ``study``: a study file (or a
    loaded :class:`~repgym.human.study.Study`) to serve instead of free play, its recordings by default in
    ``<default recordings>/studies/<name>`` and its seed the sessions' seed; ``config``: other
    :class:`~repgym.human.web.ServerConfig` fields."""
    from repgym.human.web import ServerConfig, create_app

    def submit_recording(path: Path) -> str:
        from repgym.benchmark.store import LeaderboardStore
        from repgym.benchmark.submit import submit_recording

        with LeaderboardStore(db) as store:
            s = submit_recording(path, store)
        state = "already on the leaderboard" if s.duplicate else "added to the leaderboard"
        return f"{s.agent} on {s.env_id}: {s.episodes} finished games, mean {s.mean:.2f} — {state}"

    def leaderboard_page() -> str:
        from repgym.benchmark.export import to_html
        from repgym.benchmark.store import LeaderboardError, LeaderboardStore
        from repgym.benchmark.table import build_entries

        try:
            with LeaderboardStore(db, read_only=True) as store:
                by_env = build_entries(store.rows())
        except LeaderboardError as err:
            if "no leaderboard at" not in str(err):
                raise
            by_env = {}
        return to_html(by_env).replace("<body>", "<body><p><a href='/'>← all games</a></p>", 1)

    directory = Path(recordings).expanduser() if recordings is not None else None
    if study is not None:
        from repgym.human.recording import default_recordings_dir
        from repgym.human.study import Study, load_study

        study = study if isinstance(study, Study) else load_study(study)
        directory = directory or default_recordings_dir() / "studies" / study.name
    return create_app(ServerConfig(recordings=directory, submit=submit_recording if submit else None,
                                   leaderboard=leaderboard_page, study=study, **config))  # fmt: skip


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise OSError('repgym serve needs the web extra: pip install "repgym[web]"') from None
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1..65535, got {args.port}")
    if args.max_sessions < 1:
        raise ValueError(f"--max-sessions must be at least 1, got {args.max_sessions}")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logging.getLogger("repgym.serve").addHandler(handler)  # one line per finished session, and errors
    logging.getLogger("repgym.serve").setLevel(logging.INFO)
    app = make_app(args.recordings, args.db, submit=not args.no_submit, max_sessions=args.max_sessions,
                   study=args.study)  # fmt: skip
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"repgym serve: http://{host}:{args.port}/  (Ctrl-C stops)", flush=True)
    study = app.state.server.config.study
    if study is not None:
        print(f"study {study.name!r}: {len(study.games)} games, {study.episodes} episodes per player, order "
              f"{study.order}; recordings in {app.state.server.config.recordings}", flush=True)  # fmt: skip
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: bound to {args.host}: anyone who can reach this port can play and add recordings", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, ws_max_size=WS_MAX_BYTES, log_level="warning")
    return 0
