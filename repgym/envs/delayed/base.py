"""What every delayed-reward game shares: the ``delay`` knob, observation modes, rendering and the step contract.

A game subclasses :class:`DelayedGameEnv` and supplies its rules (``_new_game``, ``_advance``), its two views
(``_symbolic`` vector, ``_frame`` 64x64 picture), its ground truth (``ground_truth``), the oracle
``optimal_action`` and its keyboard controls. The shell checks arguments, seeds, counts steps and the return,
and reports ``info = {"state": ground_truth(), "success": bool}``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from repgym.envs.arguments import check_choice, check_render_mode, is_integer, one_integer
from repgym.envs.delayed.render import FRAME

ObsMode = Literal["symbolic", "pixels"]
OBS_MODES = ("symbolic", "pixels")


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None, why: str = "") -> int:
    """``value`` as an int ``>= minimum`` (and ``<= maximum``), or a ValueError naming the argument (and ``why``
    there is a maximum, e.g. ``" (a 64-pixel frame)"``)."""
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}{why}, got {value}")
    return int(value)


def step_toward(position: tuple[int, int], target: tuple[int, int]) -> int | None:
    """The move (0 up, 1 right, 2 down, 3 left) that brings ``position`` one cell closer to ``target`` (rows
    first), or None when they coincide."""
    (r, c), (tr, tc) = position, target
    if tr < r:
        return 0
    if tr > r:
        return 2
    if tc > c:
        return 1
    if tc < c:
        return 3
    return None


MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left as (d_row, d_col)


def move(position: tuple[int, int], direction: int, size: int) -> tuple[int, int]:
    """``position`` moved one cell in ``direction`` (index into ``MOVES``), staying inside a ``size x size`` room."""
    dr, dc = MOVES[direction]
    return min(max(position[0] + dr, 0), size - 1), min(max(position[1] + dc, 0), size - 1)


class DelayedGameEnv(gym.Env):
    """Base class of the delayed-reward games (see each game's docstring for its rules)."""

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 8}

    def __init__(self, delay: int, n_actions: int, obs_mode: ObsMode = "symbolic", render_mode: str | None = None):
        self.delay = check_int("delay", delay, 0)
        check_choice("obs_mode", obs_mode, OBS_MODES)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.obs_mode = obs_mode
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(n_actions)
        self.observation_space = (
            self._symbolic_space() if obs_mode == "symbolic" else spaces.Box(0, 255, (FRAME, FRAME, 3), np.uint8)
        )
        self.steps = 0  # steps taken in this episode
        self.episode_return = 0.0  # sum of this episode's rewards
        self.success = False  # the episode's goal was reached
        self.done = True  # no episode under way until reset()
        self._started = False
        self._window = None

    # -- what each game supplies -----------------------------------------------------------------------------------

    @abstractmethod
    def _symbolic_space(self) -> spaces.Box:
        """The ``"symbolic"`` observation space (a small float32 vector)."""

    @abstractmethod
    def _new_game(self) -> None:
        """Set up a new episode, drawing every random choice from ``self.np_random``."""

    @abstractmethod
    def _advance(self, action: int) -> tuple[float, bool, bool]:
        """Apply one legal action: ``(reward, terminated, truncated)``; set ``self.success`` when the goal is met."""

    @abstractmethod
    def _symbolic(self) -> np.ndarray:
        """The symbolic observation of the current state."""

    @abstractmethod
    def _frame(self) -> np.ndarray:
        """The ``(64, 64, 3) uint8`` picture of the current state."""

    @abstractmethod
    def ground_truth(self) -> dict[str, Any]:
        """The hidden and visible factors of the current state (what ``info["state"]`` reports)."""

    @abstractmethod
    def optimal_action(self) -> int:
        """The action an optimal player takes now; it may read hidden state (an oracle for baselines)."""

    @abstractmethod
    def keyboard_controls(self) -> dict[str, tuple[int, str]]:
        """Pygame key name -> (action, what it does), for ``repgym play``."""

    # -- Gymnasium API ---------------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; this game takes none")
        self.steps, self.episode_return, self.success, self.done = 0, 0.0, False, False
        self._started = True
        self._new_game()
        if self.render_mode == "human":
            self.render()
        return self._observe(), self._info()

    def step(self, action):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self.done:
            raise RuntimeError("the episode is over: call reset() before step()")
        reward, terminated, truncated = self._advance(self._check_action(action))
        self.steps += 1
        self.episode_return += reward
        self.done = terminated or truncated
        if self.render_mode == "human":
            self.render()
        return self._observe(), float(reward), bool(terminated), bool(truncated), self._info()

    def render(self):
        if self.render_mode is None or not self._started:
            return None
        frame = self._frame()
        if self.render_mode == "rgb_array":
            return frame
        if self._window is None:
            from repgym.envs.delayed.render import FrameWindow

            self._window = FrameWindow(frame.shape[:2], title=f"repgym — {type(self).__name__}")
        status = f"step {self.steps}   return {self.episode_return:g}" + ("   success" if self.success else "")
        self._window.draw(frame, [status], fps=self.metadata["render_fps"])
        return None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _check_action(self, action) -> int:
        a, n = one_integer(action), int(self.action_space.n)
        if a is None or not 0 <= a < n:
            raise ValueError(f"action must be one integer in 0..{n - 1}, got {action!r}")
        return a

    def _observe(self) -> np.ndarray:
        if self.obs_mode == "symbolic":
            return self._symbolic().astype(np.float32)
        return self._frame()

    def _info(self) -> dict[str, Any]:
        return {"state": self.ground_truth(), "success": self.success}
