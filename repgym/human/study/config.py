"""A human study's definition: which env configs each player plays, how many episodes of each, in what order, and
the consent text shown first — read from a TOML file and checked once, where it arrives.

```toml
[study]
name = "delayed-feedback"        # letters, digits, _ . -: names the recordings folder
title = "How do people cope with delayed feedback?"
episodes = 5                     # per game and player (a game may say otherwise)
order = "random"                 # "fixed" (as listed) or "random" (shuffled per player, seeded by the player id)
seed = 1000                      # optional: episode i of every game starts from reset(seed=1000 + i) for everyone
consent = "..."                  # optional: shown before the first game; starting means agreeing

[[game]]
env = "KeyToDoor-v0"             # a repgym env (the repgym/ namespace may be left out)
settings = { delay = 5 }         # only the settings the game page offers, within their ranges
episodes = 3                     # optional
success_return = 10.0            # optional: for envs without info["success"], a return that counts as success
```

A bad file is a :class:`StudyError` of one line naming the file and the field (``study.toml: game[2].settings.delay
must be an integer in 0..200, got '500'``).
"""

from __future__ import annotations

import hashlib
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repgym.envs.registry import NAMESPACE
from repgym.human import guides

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
ORDERS = ("fixed", "random")
MAX_EPISODES = 1000
MAX_CONSENT_CHARS = 20_000
STUDY_KEYS = {"name", "title", "episodes", "order", "seed", "consent"}
GAME_KEYS = {"env", "settings", "episodes", "success_return"}


class StudyError(ValueError):
    """A study file that cannot be used; the message is one line naming the file and the field."""


@dataclass(frozen=True)
class StudyGame:
    """One env config of a study: ``episodes`` finished episodes of ``env_id`` made with ``settings``."""

    env_id: str
    settings: dict[str, int | float]
    episodes: int
    success_return: float | None = None

    def __hash__(self) -> int:  # settings is a dict: hash what tells games apart
        return hash((self.env_id, self.label))

    @property
    def label(self) -> str:
        """``KeyToDoor-v0 delay=5``: how tables, figures and file names tell the games apart."""
        name = self.env_id.split("/")[-1]
        return " ".join([name] + [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in
                                  sorted(self.settings.items())])  # fmt: skip

    @property
    def slug(self) -> str:
        """:attr:`label` as a file name part (``KeyToDoor-v0_delay-5``)."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label.replace("=", "-"))

    def matches(self, env_id: str, env_kwargs: dict[str, Any]) -> bool:
        """Whether a recording of ``env_id`` made with ``env_kwargs`` is a session of this game."""
        return env_id == self.env_id and same_settings(env_kwargs, self.settings)


@dataclass(frozen=True)
class Study:
    """A checked study file (see the module docstring)."""

    name: str
    title: str
    games: tuple[StudyGame, ...]
    order: str = "fixed"
    seed: int | None = None
    consent: str | None = None
    path: Path | None = None

    def sequence(self, player: str) -> list[int]:
        """The indices of :attr:`games` in the order ``player`` plays them: as listed, or shuffled by a generator
        seeded with the player id (the same player always gets the same order, on any machine)."""
        order = list(range(len(self.games)))
        if self.order == "random":
            digest = hashlib.sha256(f"{self.name}\0{player}".encode()).digest()
            random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
        return order

    def game_of(self, env_id: str, env_kwargs: dict[str, Any]) -> int | None:
        """The index of the game a recording of ``env_id`` with ``env_kwargs`` belongs to, or None."""
        return next((i for i, g in enumerate(self.games) if g.matches(env_id, env_kwargs)), None)

    @property
    def episodes(self) -> int:
        """Episodes one player plays in all."""
        return sum(g.episodes for g in self.games)


def same_settings(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal env settings, ``5`` and ``5.0`` alike (a recording's JSON may hold either)."""
    return a.keys() == b.keys() and all(float(a[k]) == float(b[k]) for k in a)


def load_study(path: str | Path) -> Study:
    """Read and check the study file at ``path``; :class:`StudyError` (one line: file and field) if it is wrong."""
    path = Path(path)
    where = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise StudyError(f"{path}: cannot read the study file ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise StudyError(f"{where}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as err:
        raise StudyError(f"{where}: not valid TOML ({err})") from None
    return parse_study(data, where, path)


def parse_study(data: dict[str, Any], where: str = "study", path: Path | None = None) -> Study:
    """A :class:`Study` from a parsed TOML document; ``where`` names it in errors."""
    _only(data, {"study", "game"}, where, "")
    head = data.get("study")
    if not isinstance(head, dict):
        raise StudyError(f"{where}: missing the [study] table (name, title, episodes, order, ...)")
    _only(head, STUDY_KEYS, where, "study.")
    name = head.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise StudyError(f"{where}: study.name must be 1..64 letters, digits, _ . - (starting with a letter or digit), "
                         f"got {name!r}")  # fmt: skip
    title = head.get("title", name)
    if not isinstance(title, str) or not 0 < len(title) <= 200:
        raise StudyError(f"{where}: study.title must be text of 1..200 characters")
    episodes = _episodes(head.get("episodes", 1), where, "study.episodes")
    order = head.get("order", "fixed")
    if order not in ORDERS:
        raise StudyError(f"{where}: study.order must be one of {list(ORDERS)}, got {order!r}")
    seed = head.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31):
        raise StudyError(f"{where}: study.seed must be an integer in 0..2147483647, got {seed!r}")
    consent = head.get("consent")
    if consent is not None and (not isinstance(consent, str) or not consent.strip() or
                                len(consent) > MAX_CONSENT_CHARS):  # fmt: skip
        raise StudyError(f"{where}: study.consent must be non-empty text of at most {MAX_CONSENT_CHARS} characters")
    raw_games = data.get("game")
    if not isinstance(raw_games, list) or not raw_games:
        raise StudyError(f"{where}: no games: add at least one [[game]] table (env, settings)")
    games = [_game(g, i, episodes, where) for i, g in enumerate(raw_games, start=1)]
    for i, game in enumerate(games):
        for j in range(i):
            if games[j].matches(game.env_id, game.settings):
                raise StudyError(f"{where}: game[{i + 1}] repeats game[{j + 1}] ({game.label})")
    return Study(name, title, tuple(games), order, seed, consent.strip() if consent else None, path)


def _only(table: dict[str, Any], allowed: set[str], where: str, prefix: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise StudyError(f"{where}: unknown field {prefix}{unknown[0]}; expected one of {sorted(allowed)}")


def _episodes(value: Any, where: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EPISODES:
        raise StudyError(f"{where}: {field} must be an integer in 1..{MAX_EPISODES}, got {value!r}")
    return value


def _game(raw: Any, number: int, episodes: int, where: str) -> StudyGame:
    field = f"game[{number}]"
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: {field} must be a table (env, settings, episodes)")
    _only(raw, GAME_KEYS, where, f"{field}.")
    env = raw.get("env")
    if not isinstance(env, str) or not env:
        raise StudyError(f'{where}: {field}.env must name a repgym env, e.g. "KeyToDoor-v0"')
    env_id = env if env.startswith(f"{NAMESPACE}/") else f"{NAMESPACE}/{env}"
    if env_id not in guides.playable_envs():
        raise StudyError(f"{where}: {field}.env: no repgym env named {env!r} (see repgym list)")
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise StudyError(f"{where}: {field}.settings must be a table, e.g. {{ delay = 5 }}")
    allowed = guides.allowed_settings(env_id)
    checked: dict[str, int | float] = {}
    for key, value in settings.items():
        if key not in allowed:
            takes = ", ".join(allowed) or "no settings"
            raise StudyError(f"{where}: {field}.settings.{key}: not a setting of {env_id}; it takes {takes}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StudyError(f"{where}: {field}.settings.{key} must be a number, got {value!r}")
        try:
            checked[key] = allowed[key].parse(str(value))
        except ValueError as err:
            raise StudyError(f"{where}: {field}.settings.{err}") from None
    success = raw.get("success_return")
    if success is not None and (isinstance(success, bool) or not isinstance(success, int | float)):
        raise StudyError(f"{where}: {field}.success_return must be a number (a return that counts as success)")
    return StudyGame(env_id, checked, _episodes(raw.get("episodes", episodes), where, f"{field}.episodes"),
                     None if success is None else float(success))  # fmt: skip
