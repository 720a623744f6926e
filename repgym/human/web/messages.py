"""The browser's messages, checked before anything acts on them: size, JSON, type, fields; player names; a
per-session rate limit.

Client → server, one JSON object per WebSocket text message:

- ``{"type": "reset"}``: start a new game (one under way is recorded as restarted);
- ``{"type": "action", "action": 12}``: an action of the env's action space (a list of numbers for Box spaces);
- ``{"type": "key", "key": "ArrowUp"}``: a key of the game's controls (``KeyboardEvent.key``);
- ``{"type": "quit"}``: end the session (the server closes the connection).

Server → client: ``hello`` (the game's guide and settings, once), ``state`` (after every reset and action: see
:meth:`repgym.human.session.GameSession.view`), ``error`` (``code`` and a one-line ``error``; nothing changed).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BYTES = 2048  # the longest legitimate message is a Box action of a few numbers
PLAYER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.\-]{0,31}")
FIELDS: dict[str, set[str]] = {"reset": set(), "action": {"action"}, "key": {"key"}, "quit": set()}


class MessageError(ValueError):
    """A message refused before it reached the game; ``code`` is sent in the error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def error_frame(code: str, message: str) -> dict[str, str]:
    """What the server sends back for a refused message."""
    return {"type": "error", "code": code, "error": message}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_message(text: str | None, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """The checked message in ``text`` (a WebSocket text frame); :class:`MessageError` saying what is wrong."""
    if text is None:
        raise MessageError("bad_message", "send JSON text messages, not binary ones")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise MessageError("too_large", f"message of {size} bytes; the limit is {max_bytes}")
    try:
        message = json.loads(text, parse_constant=_no_constant)
    except ValueError as err:  # JSONDecodeError, NaN/Infinity, bad surrogates
        raise MessageError("bad_json", f"not valid JSON: {str(err)[:80]}") from None
    if not isinstance(message, dict):
        raise MessageError("bad_message", f"expected a JSON object, got {type(message).__name__}")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in FIELDS:
        raise MessageError("unknown_type", f"unknown message type {str(kind)[:40]!r}; expected one of "
                                           f"{sorted(FIELDS)}")  # fmt: skip
    extra = set(message) - FIELDS[kind] - {"type"}
    missing = FIELDS[kind] - set(message)
    if extra or missing:
        what = f"unexpected field(s) {sorted(extra)[:5]}" if extra else f"missing field(s) {sorted(missing)}"
        raise MessageError("bad_message", f"{kind} message with {what}")
    if kind == "key" and (not isinstance(message["key"], str) or not 0 < len(message["key"]) <= 20):
        raise MessageError("bad_message", 'key must be a key name of 1..20 characters, e.g. "ArrowUp"')
    if kind == "action" and not _is_action_json(message["action"]):
        raise MessageError("bad_action", "action must be an integer or a list of at most 16 finite numbers")
    return message


def _is_action_json(value: Any) -> bool:
    def number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

    return number(value) or (isinstance(value, list) and 0 < len(value) <= 16 and all(map(number, value)))


def check_player(name: str | None, default: str = "anonymous") -> str:
    """A player name: 1..32 letters, digits, spaces, ``_ . -``, starting with a letter or digit (so it is safe in a
    file name and readable on the leaderboard; it is still HTML-escaped wherever it is shown)."""
    if name is None or name == "":
        return default
    if not PLAYER_RE.fullmatch(name):
        raise ValueError("player name must be 1..32 letters, digits, spaces or _ . - (starting with a letter or "
                         f"digit), got {name[:40]!r}")  # fmt: skip
    return name.strip()


@dataclass
class RateLimit:
    """A token bucket: ``burst`` messages at once, refilled at ``rate`` per second. ``clock`` is a parameter so
    tests need not wait."""

    rate: float = 20.0
    burst: float = 40.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._tokens = self.burst
        self._last = self.clock()

    def allow(self) -> bool:
        """Take one token if there is one."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
