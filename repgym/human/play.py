"""Desktop play (``repgym play``): a pygame window in front of a :class:`~repgym.human.session.GameSession`.

The session owns play — checked actions and key presses (Umbrella's choice rule among them), seeded episodes, the
recording, the status it reports — and the guide (:mod:`repgym.human.guides`) owns the words: goal, legend, named
controls. This module turns window events into session calls and draws :meth:`GameSession.view` beside the guide,
as the browser does (:mod:`repgym.human.web`). Its own rules are about the keyboard and the screen:

- **one press, one step**: a held key never repeats (pygame's key repeat stays off, and a second key-down without
  a key-up in between is ignored);
- **one key, one meaning**: the game's controls; **Enter** starts the next game, and only once a game is over;
  **R** starts a new game at any time (the one under way is recorded as restarted); **Esc** quits (and **Q**, in
  games where Q is not a control), as does closing the window;
- **nothing counts before it was seen**: the events read in the frame in which a game starts are dropped, so a
  decision is never taken before the new game has been drawn;
- **Bubble Breaker**: a click on any cell of the board goes to the env, so a click beside a group is recorded as
  the illegal move (a no-op) it is, exactly as in the browser; the group under the mouse is outlined and its
  points shown;
- **physics bodies** render offscreen (MuJoCo's Renderer on EGL, else OSMesa, :func:`use_offscreen_gl`) and the
  frame is blitted into the window, whose surface uses no OpenGL; each key press runs the guide's
  ``press_steps`` env steps and then waits, so a person can follow.

A session in which no move was made leaves no recording; one that crashes keeps the moves made but no ``close``
line, so that readers report it as not ended normally. Without a display, :class:`PlaySession` raises
:class:`NoDisplay` (one line) instead of opening an invisible window and waiting forever.

Headless use (tests): with ``SDL_VIDEODRIVER=dummy``, create a :class:`PlaySession`, ``pygame.event.post`` events,
and call :meth:`PlaySession.run` with ``max_frames``; :meth:`PlaySession.screenshot` saves the window as PNG.
"""

from __future__ import annotations

import base64
import ctypes.util
import getpass
import io
import os
import platform
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np

from repgym.human.session import GameSession, SessionError
from repgym.human.window import DIM, NOTICE, OVER, TEXT, BoardLayout, Colour, DesktopWindow, frame_size

PLAYER_ENV_VAR = "REPGYM_PLAYER"
# pygame's key names for the browser ``KeyboardEvent.key`` values that the guides bind.
PYGAME_KEYS = {"ArrowUp": "up", "ArrowDown": "down", "ArrowLeft": "left", "ArrowRight": "right", " ": "space"}
NEXT_GAME_KEYS = ("return", "enter")  # pygame's names for Return and the keypad's Enter


class NoDisplay(OSError):
    """There is no display to open a window on."""


def default_player() -> str:
    """``$REPGYM_PLAYER``, else the login name, else ``"anonymous"``."""
    if os.environ.get(PLAYER_ENV_VAR):
        return os.environ[PLAYER_ENV_VAR]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


def require_display(environ: MutableMapping[str, str] | None = None, system: str | None = None) -> None:
    """:class:`NoDisplay` on Linux when neither X (``DISPLAY``) nor Wayland (``WAYLAND_DISPLAY``) is there and no
    ``SDL_VIDEODRIVER`` was chosen: SDL would fall back to an invisible window and the game would wait forever."""
    environ = os.environ if environ is None else environ
    system = platform.system() if system is None else system
    if system != "Linux" or environ.get("SDL_VIDEODRIVER") or environ.get("DISPLAY"):
        return
    if environ.get("WAYLAND_DISPLAY"):
        return
    raise NoDisplay("no display to open a window on (DISPLAY is not set): play in a browser with `repgym serve`, "
                    "or set SDL_VIDEODRIVER=dummy for a headless run")  # fmt: skip


def use_offscreen_gl(
    environ: MutableMapping[str, str] | None = None,
    system: str | None = None,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
) -> str | None:
    """On Linux, where ``MUJOCO_GL`` is unset and MuJoCo not yet imported, choose an offscreen backend for it
    (``egl``, else ``osmesa``, as installed); return the value in effect (None: MuJoCo's default). MuJoCo's default,
    GLFW, opens a GLX context on the game window's display, which the window then never shows (or X refuses)."""
    environ = os.environ if environ is None else environ
    system = platform.system() if system is None else system
    if system != "Linux" or environ.get("MUJOCO_GL") or (environ is os.environ and "mujoco" in sys.modules):
        return environ.get("MUJOCO_GL") or None
    for backend, library in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if find_library(library):
            environ["MUJOCO_GL"] = backend
            return backend
    return None  # no offscreen library: a physics env fails with MuJoCo's own install hint


def check_offscreen_gl(backend: str | None = None, system: str | None = None) -> None:
    """``OSError`` naming the fix when MuJoCo (its ``backend``: by default the one it was imported with, if it was)
    renders through a window of its own on Linux (GLFW, GLX): the game window can then not show its frames."""
    system = platform.system() if system is None else system
    if backend is None:
        if "mujoco" not in sys.modules:
            return
        backend = str(getattr(sys.modules.get("mujoco.gl_context"), "_MUJOCO_GL", ""))
    if system == "Linux" and backend.lower().strip() in ("", "glfw", "glx", "1", "on", "true", "enable", "enabled"):
        raise OSError(f"MuJoCo renders with MUJOCO_GL={backend or 'glfw'} through a window of its own, which the game "
                      "window cannot show: start again with MUJOCO_GL=egl or MUJOCO_GL=osmesa")  # fmt: skip


def _number(x: float) -> str:
    """A score as people read it: at most two decimals, no trailing zeros (``12``, ``-13.21``)."""
    text = f"{round(float(x), 2):g}"
    return "0" if text == "-0" else text


def _decode_frame(image: str) -> np.ndarray:
    """A ``data:image/png;base64,...`` URL (:meth:`GameSession.view`) as ``(height, width, 3) uint8``."""
    from PIL import Image

    data = base64.b64decode(image.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


class PlaySession:
    """One person's desktop session: a :class:`GameSession` (env, recording) and its window; see the module
    docstring. ``fps``: redraws per second (0: as fast as possible, for tests)."""

    def __init__(
        self,
        env_id: str,
        env_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        player: str | None = None,
        record_dir: str | Path | None = None,
        fps: int = 30,
        durable: bool = True,
    ) -> None:
        require_display()
        use_offscreen_gl()
        import pygame

        self.pygame = pygame
        self.fps = max(0, int(fps))
        self.session = GameSession(env_id, env_kwargs, seed=seed, player=player or default_player(),
                                   record_dir=record_dir, durable=durable)  # fmt: skip
        self.path: Path | None = self.session.path
        self.guide = self.session.guide
        self.board = self.guide.kind == "board"
        bound = {PYGAME_KEYS.get(c.key, c.key.lower()): c.key for c in self.guide.controls}
        self.controls = bound  # pygame key name -> the session's key
        self.quit_keys = {"escape"} | ({"q"} - set(bound))
        self.restart_keys = {"r"} - set(bound)
        self.held: set[str] = set()
        self.moves = 0  # steps recorded in this session
        self.quit = False
        self.shown = -1  # the last episode drawn: nothing counts in an episode before it was seen
        self.notice = ""  # why the last press did nothing; cleared by the next move
        self.hover: int | None = None
        self.window: DesktopWindow | None = None
        try:
            check_offscreen_gl()  # a physics env has imported MuJoCo by now
            self.session.reset()
            self.view = self.session.view()
            self._open_window(f"repgym play — {self.guide.title}")
        except BaseException as err:
            self._discard()
            if isinstance(err, pygame.error):
                raise NoDisplay(f"cannot open a window: {err}") from None
            raise
        if pygame.display.get_driver() == "offscreen" and not os.environ.get("SDL_VIDEODRIVER"):
            self._discard()  # SDL fell back to an invisible window: nobody could ever play it
            raise NoDisplay("no display to open a window on (SDL found none): play in a browser with `repgym serve`")
        pygame.key.set_repeat()  # off: one press is one step
        self.clock = pygame.time.Clock()

    def _open_window(self, title: str) -> None:
        footer = self._system_help()
        if self.board:
            rows, cols = np.asarray(self.view["board"]).shape
            probe = BoardLayout(rows, cols, self.view.get("preview") is not None, self.view["shift"], (0, 0))
            self.window = DesktopWindow(title, probe.size, self.guide, footer, header_lines=4)
            self.layout = BoardLayout(rows, cols, probe.preview_width > 0, self.view["shift"],
                                      self.window.content_origin)  # fmt: skip
        else:
            shape = _decode_frame(self.view["image"]).shape[:2]
            self.window = DesktopWindow(title, frame_size(shape), self.guide, footer, header_lines=3)

    def _system_help(self) -> list[str]:
        lines = ["Click a group of two or more bubbles; a click beside a group is a wasted move."] if self.board else []
        lines.append("Enter   next game, once a game is over")
        if self.restart_keys:
            lines.append("R   new game now (abandons this one)")
        lines.append("Esc" + ("/Q" if "q" in self.quit_keys else "") + "   quit")
        lines.append(f"Player {self.session.player}: every game is recorded.")
        return lines

    # -- the game loop ---------------------------------------------------------------------------------------------

    def run(self, max_frames: int | None = None) -> Path | None:
        """Play until the person quits (or ``max_frames`` frames have passed); returns the recording's path, or None
        when no move was made (no recording is kept)."""
        frames = 0
        try:
            while not self.quit and (max_frames is None or frames < max_frames):
                self.draw()
                for event in self.pygame.event.get():
                    self.handle(event)
                    if self.quit:
                        break
                self.clock.tick(self.fps)
                frames += 1
        except Exception:
            self.session.writer.abandon()  # a crash: keep the moves, but the file does not claim a normal end
            raise
        finally:
            self.close()
        return self.path

    def handle(self, event: Any) -> None:
        """React to one pygame event."""
        pg = self.pygame
        if event.type == pg.QUIT:
            self.quit = True
        elif event.type == getattr(pg, "WINDOWFOCUSLOST", -1):
            self.held.clear()  # key-ups are not delivered to a window without focus
        elif event.type == pg.KEYDOWN:
            name = pg.key.name(event.key)
            if name in self.held:
                return  # a repeat of a key still held: one press is one step
            self.held.add(name)
            self._key(name)
        elif event.type == pg.KEYUP:
            self.held.discard(pg.key.name(event.key))
        elif self.board and event.type == pg.MOUSEMOTION:
            self.hover = self.layout.cell_at(event.pos)
        elif self.board and event.type == pg.MOUSEBUTTONDOWN and event.button == 1:
            cell = self.layout.cell_at(event.pos)
            if cell is not None:
                self._move(lambda: self.session.act(cell))

    def _key(self, name: str) -> None:
        if name in self.quit_keys:
            self.quit = True
        elif name in NEXT_GAME_KEYS:
            if self.session.over:
                self.new_game()
            else:
                self.notice = "Enter starts the next game once this one is over" + (
                    " (R starts a new one now)" if self.restart_keys else "")  # fmt: skip
        elif name in self.restart_keys:
            self.new_game()
        elif name in self.controls:
            self._move(lambda: self.session.press(self.controls[name]))
        else:
            self.notice = f"the key {name!r} does nothing in this game: the keys are listed on the right"

    def _move(self, move: Callable[[], None]) -> None:
        """Make a move through the session, unless the game has not been seen yet or is over."""
        if self.shown != self.session.episode:
            return  # read in the frame the game started: the player cannot have seen it
        if self.session.over:
            self.notice = "the game is over: Enter starts the next one"
            return
        try:
            move()
        except SessionError as err:
            self.notice = str(err)
        else:
            self.notice = ""
            self.moves += 1
        self.view = self.session.view()

    def new_game(self) -> None:
        """Start the next episode (one under way is recorded as restarted)."""
        try:
            self.session.reset()
        except SessionError as err:  # a session with a quota of games may refuse
            self.notice = str(err)
            return
        self.notice = ""
        self.view = self.session.view()

    # -- the screen ----------------------------------------------------------------------------------------------

    def header(self) -> list[tuple[str, Colour]]:
        """The lines above the game: status, then the message (a refused press, the game's end), then for boards the
        group under the mouse."""
        v = self.view
        parts = [f"game {v['game']}", f"step {v['steps']}"]
        if v["steps_left"] is not None:
            parts.append(f"steps left {v['steps_left']}")
        parts.append(f"score {_number(v['score'])}")
        if v["last_reward"]:  # the reward of the move just made; a no-op or a new game shows none
            parts.append(f"last move {'+' if v['last_reward'] > 0 else ''}{_number(v['last_reward'])}")
        if v["delay"] is not None:
            parts.append(f"delay {v['delay']}")
        lines = [(" · ".join(parts), TEXT)]
        if self.notice:
            lines.append((self.notice, NOTICE))
        elif v["over"]:
            lines.append((f"{v['message']} — Enter: next game", OVER))
        elif v["message"]:
            lines.append((v["message"], NOTICE if v["message"].startswith("not a group") else DIM))
        if self.board:
            lines.append((self._hover_text(), DIM))
        return lines

    def _hover_text(self) -> str:
        if self.hover is None or self.view["over"]:
            return ""
        row, col = divmod(self.hover, self.layout.cols)
        label = self.view["groups"][row][col]
        if label < 0:
            return "" if not self.view["board"][row][col] else "a lone bubble: not a group"
        size = sum(cell == label for line in self.view["groups"] for cell in line)
        return f"{size} bubbles: {_number(self.view['points'][row][col])} points"

    def draw(self) -> None:
        """Draw the current view; from now on the game under way counts as seen."""
        window = self.window
        window.begin(self.header())
        if self.board:
            self.layout.draw(window.screen, self.view, None if self.view["over"] else self.hover)
        else:
            window.blit_frame(_decode_frame(self.view["image"]))
        window.show()
        self.shown = self.session.episode

    def screenshot(self, path: str | os.PathLike) -> Path:
        """Draw and save the window as PNG (for documentation and tests)."""
        self.draw()
        self.window.save(path)
        return Path(path)

    # -- ending --------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """End the recording (an episode under way ends as ``quit``), the env and the window (idempotent). A session
        without a single move keeps no recording."""
        self.session.close()
        if self.window is not None:
            self.window.close()
            self.window = None
        if self.moves == 0 and self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None

    def _discard(self) -> None:
        self.session.writer.abandon()
        self.session.close()
        if self.window is not None:
            self.window.close()
            self.window = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


def play(
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    seed: int | None = None,
    player: str | None = None,
    record_dir: str | Path | None = None,
    fps: int = 30,
) -> Path | None:
    """Open a window, let a person play ``env_id`` until they quit, and return the session's recording path (None
    when no move was made)."""
    return PlaySession(env_id, env_kwargs, seed=seed, player=player, record_dir=record_dir, fps=fps).run()
