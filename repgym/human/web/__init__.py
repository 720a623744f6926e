"""The browser front end of human play (``repgym serve``): a Starlette app whose pages draw the game and send the
player's moves over a WebSocket to a :class:`~repgym.human.session.GameSession` on the server.

The app is imported on first use, so that :mod:`.messages` and the static files (which the notebook widget shares)
need no web packages."""

from __future__ import annotations

from typing import Any

__all__ = ["ServerConfig", "SessionResult", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from repgym.human.web import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
