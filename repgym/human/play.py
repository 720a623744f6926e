"""Human play (``repgym play``): any Gymnasium env in a pygame window, every session recorded.

Controls, chosen from the env:

- **Bubble Breaker / SameGame**: click a bubble of a group (the board window's ``cell_at`` maps the click to a
  cell); clicks on cells that are not in a group are ignored (not sent to the env, not recorded).
- **envs with ``keyboard_controls()``** (the delayed games): their keys, one step per key press (holding a key
  repeats it).
- **other discrete envs**: keys 1..9, 0 for actions 0..9, one step per press.
- **continuous (Box) envs**: real time at the env's ``render_fps``; pairs of keys push each action dimension to
  its high/low bound while held (arrows, then WASD, IJKL, ...), otherwise the action is zero (clipped into the
  bounds).

Always: **R** restarts (a new episode), **Q** or **Esc** (or closing the window) quits; after an episode ends,
**Space** or **Enter** starts the next. Episode ``i`` of a session is reset with seed ``seed + i``; the score,
step and episode number are shown above the game, the controls below it.

Headless use (tests): with ``SDL_VIDEODRIVER=dummy``, create a :class:`PlaySession`, ``pygame.event.post`` events,
and call :meth:`PlaySession.run` with ``max_frames``.
"""

from __future__ import annotations

import getpass
import os
import secrets
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from repgym.envs.bubble.env import BubbleBreakerEnv
from repgym.envs.bubble.render import BoardWindow
from repgym.envs.delayed.render import FrameWindow
from repgym.human.recording import RecordingWriter

PLAYER_ENV_VAR = "REPGYM_PLAYER"
# Key pairs (high, low) for the dimensions of a continuous action, in order.
AXIS_KEYS = (("right", "left"), ("up", "down"), ("d", "a"), ("w", "s"), ("l", "j"), ("i", "k"), ("h", "f"),
             ("t", "g"))  # fmt: skip
DIGIT_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0")
SYSTEM_HELP = "R new game · Q quit"


def default_player() -> str:
    """``$REPGYM_PLAYER``, else the login name, else ``"anonymous"``."""
    if os.environ.get(PLAYER_ENV_VAR):
        return os.environ[PLAYER_ENV_VAR]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


@dataclass
class Controls:
    """How key presses and clicks become actions.

    ``mode``: ``"click"`` (Bubble Breaker cells), ``"press"`` (one step per key press) or ``"hold"`` (real time,
    the action follows the keys held)."""

    mode: str
    keys: dict[str, Any] = field(default_factory=dict)  # press: key name -> action
    axes: list[tuple[str, str]] = field(default_factory=list)  # hold: (high key, low key) per action dimension
    help: list[str] = field(default_factory=list)  # lines shown under the game

    def held_action(self, held: set[str], space: spaces.Box) -> np.ndarray:
        """The continuous action for the keys held now (``hold`` mode)."""
        action = np.zeros(space.shape, space.dtype).reshape(-1)
        low, high = space.low.reshape(-1), space.high.reshape(-1)
        for i, (up, down) in enumerate(self.axes):
            action[i] = high[i] if up in held else (low[i] if down in held else 0)
        return np.clip(action, low, high).reshape(space.shape)


def controls_for(env: gym.Env) -> Controls:
    """The controls of ``env`` (see the module docstring); ValueError for action spaces a keyboard cannot drive."""
    game, space = env.unwrapped, env.action_space
    if isinstance(game, BubbleBreakerEnv):
        return Controls("click", help=["click a group of 2+ to remove it", SYSTEM_HELP])
    if hasattr(game, "keyboard_controls"):
        keys = game.keyboard_controls()
        by_label: dict[str, list[str]] = {}
        for key, (_, label) in keys.items():
            by_label.setdefault(label, []).append(key.upper() if len(key) == 1 else key.capitalize())
        text = " · ".join(f"{'/'.join(names)} {label}" for label, names in by_label.items())
        return Controls("press", {k: a for k, (a, _) in keys.items()}, help=[*_wrap(text), SYSTEM_HELP])
    if isinstance(space, spaces.Discrete):
        if space.n > len(DIGIT_KEYS):
            raise ValueError(f"keyboard play supports up to {len(DIGIT_KEYS)} discrete actions, got {space}")
        keys = {DIGIT_KEYS[i]: int(space.start) + i for i in range(int(space.n))}
        return Controls("press", keys, help=[f"keys 1..{DIGIT_KEYS[space.n - 1]}: actions 0..{space.n - 1}",
                                             SYSTEM_HELP])  # fmt: skip
    if isinstance(space, spaces.Box):
        if space.shape is None or int(np.prod(space.shape)) > len(AXIS_KEYS):
            raise ValueError(f"keyboard play supports up to {len(AXIS_KEYS)} action dimensions, got {space}")
        axes = list(AXIS_KEYS[: int(np.prod(space.shape))])
        text = " · ".join(f"{up}/{down}: dim {i} +/-" for i, (up, down) in enumerate(axes))
        return Controls("hold", axes=axes, help=[*_wrap(text), SYSTEM_HELP])
    raise ValueError(f"keyboard play supports Discrete and Box action spaces, got {space}")


def _wrap(text: str, width: int = 48) -> list[str]:
    return textwrap.wrap(text, width) or [""]


class PlaySession:
    """One person's play session: a window, an env, and a recording (see the module docstring)."""

    def __init__(
        self,
        env_id: str,
        env_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        player: str | None = None,
        record_dir: str | Path | None = None,
        fps: int | None = None,
        durable: bool = True,
    ) -> None:
        import pygame

        self.pygame = pygame
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.env = gym.make(env_id, render_mode="rgb_array", **self.env_kwargs)
        self.game = self.env.unwrapped
        self.controls = controls_for(self.env)
        # Real-time play runs at the env's own pace; turn-based play only redraws, so keep it responsive.
        env_fps = int(self.env.metadata.get("render_fps") or 30)
        self.fps = int(fps or (env_fps if self.controls.mode == "hold" else max(env_fps, 30)))
        self.base_seed = secrets.randbelow(2**31) if seed is None else int(seed)
        self.player = player or default_player()
        self.writer = RecordingWriter.create(
            record_dir, env_id, self.player, env_kwargs=self.env_kwargs, seed=self.base_seed,
            action_space=self.env.action_space, durable=durable,
        )  # fmt: skip
        self.path = self.writer.path
        self.episode = -1
        self.held: set[str] = set()
        self.quit = False
        self.over = False  # the current episode has ended; waiting for the next
        self.message = ""
        try:
            self._open_window()
        except pygame.error as err:
            self.close()
            self.path.unlink(missing_ok=True)  # nothing was played: leave no empty recording behind
            raise OSError(f"cannot open a window ({err}); on a machine without a display set "
                          "SDL_VIDEODRIVER=dummy") from None  # fmt: skip
        pygame.key.set_repeat(300, 80)
        self.new_episode()

    def _open_window(self) -> None:
        title = f"repgym play — {self.env_id}"
        if self.controls.mode == "click":
            self.window = BoardWindow(self.game.config, title=title, footer_lines=len(self.controls.help))
        else:
            self.env.reset(seed=self.base_seed)
            frame = np.asarray(self.env.render())
            self.window = FrameWindow(frame.shape[:2], title, header_lines=2, footer_lines=len(self.controls.help))

    # -- the game loop ---------------------------------------------------------------------------------------------

    def run(self, max_frames: int | None = None) -> Path:
        """Play until the person quits (or ``max_frames`` frames have passed); returns the recording's path."""
        frames = 0
        try:
            while not self.quit and (max_frames is None or frames < max_frames):
                for event in self.pygame.event.get():
                    self.handle(event)
                    if self.quit:
                        break
                if not self.quit and self.controls.mode == "hold" and not self.over:
                    self.act(self.controls.held_action(self.held, self.env.action_space))
                if not self.quit:
                    self.draw()
                frames += 1
        finally:
            self.close()
        return self.path

    def handle(self, event: Any) -> None:
        """React to one pygame event."""
        pg = self.pygame
        if event.type == pg.QUIT:
            self.quit = True
        elif event.type == pg.KEYDOWN:
            key = pg.key.name(event.key)
            self.held.add(key)
            if key in ("q", "escape"):
                self.quit = True
            elif key == "r":
                self.new_episode()
            elif self.over:
                if key in ("space", "return", "enter"):
                    self.new_episode()
            elif self.controls.mode == "press" and key in self.controls.keys:
                self.act(self.controls.keys[key])
        elif event.type == pg.KEYUP:
            self.held.discard(pg.key.name(event.key))
        elif event.type == pg.MOUSEBUTTONDOWN and self.controls.mode == "click" and not self.over:
            cell = self.window.cell_at(event.pos)
            if cell is not None and self.game.action_masks()[cell]:
                self.act(cell)
            else:
                self.message = "not a group"

    def new_episode(self) -> None:
        """Start the next episode (an unfinished one is recorded as restarted)."""
        self.episode += 1
        seed = self.base_seed + self.episode
        self.obs, self.info = self.env.reset(seed=seed)
        self.writer.start_episode(seed, self.obs)
        self.total, self.last_reward, self.steps, self.over = 0.0, None, 0, False
        self.message = ""

    def act(self, action: Any) -> None:
        """Step the env, record the step, and note the episode's end."""
        self.obs, reward, terminated, truncated, self.info = self.env.step(action)
        self.writer.step(action, reward, terminated, truncated, self.obs, self.info)
        self.total += float(reward)
        self.last_reward, self.steps, self.message = float(reward), self.steps + 1, ""
        if terminated or truncated:
            self.over = True
            outcome = {True: "success! ", False: "failed. "}.get(self.info.get("success"), "")
            self.message = f"game over: {outcome}Space: next game"

    def status(self) -> list[str]:
        """The lines shown above the game."""
        last = "" if self.last_reward is None else f"   reward {self.last_reward:+g}"
        first = f"game {self.episode + 1}   step {self.steps}   score {self.total:g}{last}"
        return [first, self.message] if self.message else [first]

    def draw(self) -> None:
        if self.controls.mode == "click":
            status = "   ".join(self.status())
            self.window.draw(self.info["state"], status, self.info.get("next_column"), self.fps, self.controls.help)
        else:
            self.window.draw(self.env.render(), self.status(), self.controls.help, self.fps)

    def close(self) -> None:
        """Finish the recording and close the window and the env (idempotent)."""
        self.writer.close()
        window = getattr(self, "window", None)
        if window is not None:
            window.close()
            self.window = None
        self.env.close()


def play(
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    seed: int | None = None,
    player: str | None = None,
    record_dir: str | Path | None = None,
    fps: int | None = None,
) -> Path:
    """Open a window, let a person play ``env_id`` until they quit, and return the session's recording path."""
    session = PlaySession(env_id, env_kwargs, seed=seed, player=player, record_dir=record_dir, fps=fps)
    return session.run()
