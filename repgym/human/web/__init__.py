"""The browser front end of human play (``repgym serve``): a Starlette app whose pages draw the game and send the
player's moves over a WebSocket to a :class:`~repgym.human.session.GameSession` on the server."""

from repgym.human.web.app import ServerConfig, SessionResult, create_app

__all__ = ["ServerConfig", "SessionResult", "create_app"]
