"""Lagged control: steer a body to a goal when every command takes effect ``delay`` steps after it is given."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from gymnasium import spaces

from repgym.envs.delayed import render as draw
from repgym.envs.delayed.base import DelayedGameEnv, ObsMode, check_int, move, step_toward

STAY = 0  # actions 1..4 are moves up, right, down, left (``base.MOVES`` index + 1)


class LaggedControlEnv(DelayedGameEnv):
    """Lagged control: a body on a grid obeys each command ``delay`` steps after it was given.

    ## Description
    A body and a goal on a ``size x size`` grid. Each command enters a queue and is carried out ``delay`` steps
    later (the queue starts full of "stay"), like steering a probe across a long communication link. The
    observation shows where the body is now, not what it has been told to do: a player must remember their own
    commands in flight and aim where the body *will* be. With ``delay=0`` it is an easy grid walk.

    ## Action Space
    ``Discrete(5)``: 0 stay, 1 up, 2 right, 3 down, 4 left; a move into a wall leaves the body in place.
    Keys in ``repgym play``: arrow keys or WASD to move, Space to stay.

    ## Observation Space
    - ``"symbolic"`` (default): ``(4,) float32`` ``[body_row, body_col, goal_row, goal_col]``.
    - ``"pixels"``: ``(64, 64, 3) uint8``: the grid, the goal (green square) and the body (cyan disc), and a clock
      bar on top (steps taken / ``max_steps``).

    ## Rewards
    ``+1`` when the body reaches the goal; 0 otherwise.

    **Optimal policy** (:meth:`optimal_action`): predict where the queued commands will take the body, then
    command a shortest path from that predicted cell (and "stay" once the body is bound to reach the goal). It
    always succeeds, after ``delay + distance`` steps. **Random policy** (uniform actions): the delay only
    postpones a random walk, so it succeeds about as often at every delay: in about 18% of episodes at
    ``size=7`` with the default ``max_steps``.

    ## Starting State
    Body and goal on uniformly random cells at least 2 apart (Manhattan distance); the queue holds ``delay``
    "stay" commands.

    ## Episode End
    Terminated when the body reaches the goal (``info["success"] = True``); truncated after ``max_steps`` steps
    (default ``delay + 4 * size``, so the time left after the lag is the same at every delay).

    ## Info
    ``success`` and ``state``: ``position``, ``goal``, ``pending`` (queued commands, oldest first),
    ``predicted_position`` (where the body will be once the queued commands are carried out; the episode ends
    earlier if they pass over the goal), ``steps`` and ``delay``.

    ## Arguments
    ```python
    gymnasium.make(
        "repgym/LaggedControl-v0",
        delay=5,              # steps between a command and its effect
        size=7,               # the grid is size x size cells (3..30)
        max_steps=None,       # step limit (None: delay + 4 * size)
        obs_mode="symbolic",  # "symbolic" | "pixels"
        render_mode=None,     # "human" | "rgb_array"
    )
    ```

    ## Version History
    - v0: initial version.
    """

    def __init__(
        self,
        delay: int = 5,
        size: int = 7,
        max_steps: int | None = None,
        obs_mode: ObsMode = "symbolic",
        render_mode: str | None = None,
    ) -> None:
        self.size = check_int("size", size, 3, 30, " (a 64-pixel frame)")
        delay = check_int("delay", delay, 0)
        self.max_steps = delay + 4 * self.size if max_steps is None else check_int("max_steps", max_steps, 1)
        self.layout = draw.GridLayout(self.size, self.size)
        super().__init__(delay, 5, obs_mode, render_mode)

    def _symbolic_space(self) -> spaces.Box:
        return spaces.Box(0, self.size - 1, (4,), np.float32)

    def _new_game(self) -> None:
        n = self.size * self.size
        self.position = divmod(int(self.np_random.integers(n)), self.size)
        far = [divmod(i, self.size) for i in range(n)]
        far = [cell for cell in far if abs(cell[0] - self.position[0]) + abs(cell[1] - self.position[1]) >= 2]
        self.goal = far[int(self.np_random.integers(len(far)))]
        self.pending: deque[int] = deque([STAY] * self.delay)
        self.predicted = self.position  # where the body is once every command given so far has been carried out
        self.goal_planned = False  # a command given so far takes the body onto the goal

    def _advance(self, action: int) -> tuple[float, bool, bool]:
        self.pending.append(action)
        if action != STAY:
            self.predicted = move(self.predicted, action - 1, self.size)
        self.goal_planned |= self.predicted == self.goal
        command = self.pending.popleft()
        if command != STAY:
            self.position = move(self.position, command - 1, self.size)
        self.success = self.position == self.goal
        truncated = not self.success and self.steps + 1 >= self.max_steps
        return float(self.success), self.success, truncated

    def _symbolic(self) -> np.ndarray:
        return np.array([*self.position, *self.goal], np.float32)

    def _frame(self) -> np.ndarray:
        frame = draw.blank()
        draw.bar(frame, 0, 2, 60, 4, self.steps / self.max_steps, draw.WHITE)
        self.layout.floor(frame)
        self.layout.square(frame, *self.goal, draw.GREEN, inset=0)
        self.layout.circle(frame, *self.position, draw.CYAN)
        return frame

    def ground_truth(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "goal": self.goal,
            "pending": tuple(self.pending),
            "predicted_position": self.predicted,
            "steps": self.steps,
            "delay": self.delay,
        }

    def optimal_action(self) -> int:
        direction = None if self.goal_planned else step_toward(self.predicted, self.goal)
        return STAY if direction is None else direction + 1

    def keyboard_controls(self) -> dict[str, tuple[int, str]]:
        return {
            "up": (1, "up"), "right": (2, "right"), "down": (3, "down"), "left": (4, "left"),
            "w": (1, "up"), "d": (2, "right"), "s": (3, "down"), "a": (4, "left"), "space": (STAY, "stay"),
        }  # fmt: skip
