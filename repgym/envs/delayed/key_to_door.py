"""Key-to-Door: a key that pays off only at a door, ``delay`` steps of apple-picking later."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from repgym.envs.delayed import render as draw
from repgym.envs.delayed.base import DelayedGameEnv, ObsMode, check_int, move, step_toward

KEY_ROOM, APPLE_ROOM, DOOR_ROOM = 0, 1, 2
PHASE_COLOURS = (draw.YELLOW, draw.RED, draw.BROWN)


class KeyToDoorEnv(DelayedGameEnv):
    """Key-to-Door, after the task of Hung et al., "Optimizing agent behavior over long time scales by
    transporting value", Nature Communications 2019.

    ## Description
    Three rooms, each a ``size x size`` grid, visited in turn; every room starts with the player at the middle of
    its bottom row. **Key room** (``key_steps`` steps): a key lies on a random cell; walking onto it picks it up —
    nothing is paid for that. **Apple room** (``delay`` steps; skipped when ``delay=0``): one apple at a time on a
    random cell, each eaten pays ``apple_reward`` and a new one appears elsewhere — rewards that have nothing to do
    with the key. **Door room** (up to ``door_steps`` steps): the door is in the middle of the top row and opens,
    paying ``door_reward``, only for a player who carries the key. The decisive action (taking the key) and its
    feedback (the door) are ``delay`` steps or more apart, with distracting rewards in between.

    ## Action Space
    ``Discrete(4)``: 0 up, 1 right, 2 down, 3 left; walking into a wall leaves the player in place.
    Keys in ``repgym play``: arrow keys or WASD.

    ## Observation Space
    - ``"symbolic"`` (default): ``(6,) float32`` ``[room, row, col, key_held, item_row, item_col]`` where room is
      0 key room, 1 apple room, 2 door room, and the item is the key (``-1, -1`` once taken), the apple or the
      door of the current room.
    - ``"pixels"``: ``(64, 64, 3) uint8``: the room (player cyan, key yellow, apple red, door brown), and a strip
      on top with the key slot (yellow when held) and three squares marking the current room.

    ## Rewards
    ``apple_reward`` per apple eaten; ``door_reward`` when the door opens. Nothing else.

    **Optimal policy** (:meth:`optimal_action`): walk to the key, then in the apple room walk to each apple by a
    shortest path, then to the door. It always opens the door (``key_steps`` and ``door_steps`` are at least the
    longest walk), so its return is ``door_reward`` plus the apples eaten, about ``apple_reward * delay / 3.4``
    at ``size=5``. **Random policy** (uniform actions): opens the door in about 0.5% of episodes at the default
    sizes and eats about ``0.02 * delay`` apples (measure with ``repgym bench --agents optimal``).

    ## Starting State
    Player at the middle of the bottom row of the key room; key on a uniformly random other cell.

    ## Episode End
    Terminated when the door opens (``info["success"] = True``) or when the door room's ``door_steps`` run out.
    An episode lasts at most ``key_steps + delay + door_steps`` steps; there is no truncation.

    ## Info
    ``success`` and ``state``: ``room``, ``position``, ``key_held``, ``key_position`` (None once taken),
    ``apple_position`` (None outside the apple room), ``door_position``, ``steps_in_room``, ``steps_since_key``
    (None until the key is taken) and ``delay``.

    ## Arguments
    ```python
    gymnasium.make(
        "repgym/KeyToDoor-v0",
        delay=20,            # steps in the apple room, between key and door (0: no apple room)
        size=5,              # rooms are size x size cells (3..12)
        key_steps=8,         # steps in the key room (at least the longest walk to the key)
        door_steps=8,        # steps allowed in the door room (at least the walk to the door)
        apple_reward=1.0,    # reward per apple
        door_reward=10.0,    # reward for opening the door
        obs_mode="symbolic", # "symbolic" | "pixels"
        render_mode=None,    # "human" | "rgb_array"
    )
    ```

    ## Version History
    - v0: initial version.
    """

    def __init__(
        self,
        delay: int = 20,
        size: int = 5,
        key_steps: int = 8,
        door_steps: int = 8,
        apple_reward: float = 1.0,
        door_reward: float = 10.0,
        obs_mode: ObsMode = "symbolic",
        render_mode: str | None = None,
    ) -> None:
        self.size = check_int("size", size, 3, 12, " (a 64-pixel frame)")
        longest_walk = (self.size - 1) + self.size // 2
        self.key_steps = check_int("key_steps", key_steps, longest_walk)
        self.door_steps = check_int("door_steps", door_steps, self.size - 1)
        self.apple_reward = float(apple_reward)
        self.door_reward = float(door_reward)
        self.start = (self.size - 1, self.size // 2)
        self.door = (0, self.size // 2)
        self.layout = draw.GridLayout(self.size, self.size)
        super().__init__(delay, 4, obs_mode, render_mode)

    def _symbolic_space(self) -> spaces.Box:
        high = np.array([2, *(2 * [self.size - 1]), 1, *(2 * [self.size - 1])], np.float32)
        return spaces.Box(np.array([0, 0, 0, 0, -1, -1], np.float32), high, dtype=np.float32)

    def _new_game(self) -> None:
        self.room = KEY_ROOM
        self.position = self.start
        self.key_held = False
        self.key_position: tuple[int, int] | None = self._random_cell(avoid=self.start)
        self.apple_position: tuple[int, int] | None = None
        self.steps_in_room = 0
        self.key_step: int | None = None

    def _advance(self, action: int) -> tuple[float, bool, bool]:
        self.position = move(self.position, action, self.size)
        reward, terminated = 0.0, False
        if self.room == KEY_ROOM and self.position == self.key_position:
            self.key_held, self.key_position, self.key_step = True, None, self.steps + 1
        elif self.room == APPLE_ROOM and self.position == self.apple_position:
            reward = self.apple_reward
            self.apple_position = self._random_cell(avoid=self.position)
        elif self.room == DOOR_ROOM and self.position == self.door and self.key_held:
            reward, terminated, self.success = self.door_reward, True, True
        self.steps_in_room += 1
        if not terminated and self.steps_in_room == self._room_steps(self.room):
            terminated = self.room == DOOR_ROOM
            if not terminated:
                self._enter(APPLE_ROOM if self.room == KEY_ROOM and self.delay > 0 else DOOR_ROOM)
        return reward, terminated, False

    def _enter(self, room: int) -> None:
        self.room, self.position, self.steps_in_room = room, self.start, 0
        self.apple_position = self._random_cell(avoid=self.start) if room == APPLE_ROOM else None

    def _room_steps(self, room: int) -> int:
        return (self.key_steps, self.delay, self.door_steps)[room]

    def _random_cell(self, avoid: tuple[int, int]) -> tuple[int, int]:
        """A uniformly random cell other than ``avoid``."""
        flat = int(self.np_random.integers(self.size * self.size - 1))
        flat += flat >= avoid[0] * self.size + avoid[1]
        return divmod(flat, self.size)

    def _item(self) -> tuple[int, int] | None:
        return (self.key_position, self.apple_position, self.door)[self.room]

    def _symbolic(self) -> np.ndarray:
        item = self._item() or (-1, -1)
        return np.array([self.room, *self.position, self.key_held, *item], np.float32)

    def _frame(self) -> np.ndarray:
        frame = draw.blank()
        draw.fill(frame, 0, 1, 4, 4, draw.YELLOW if self.key_held else draw.GRID_LINE)
        for room in range(3):
            colour = PHASE_COLOURS[room] if room == self.room else draw.GRID_LINE
            draw.fill(frame, 0, 44 + 6 * room, 4, 4, colour)
        lay = self.layout
        lay.floor(frame)
        if self.room == KEY_ROOM and self.key_position is not None:
            lay.square(frame, *self.key_position, draw.YELLOW, inset=lay.cell // 4)
        elif self.room == APPLE_ROOM and self.apple_position is not None:
            lay.circle(frame, *self.apple_position, draw.RED)
        elif self.room == DOOR_ROOM:
            lay.square(frame, *self.door, draw.GREEN if self.success else draw.BROWN, inset=0)
        lay.circle(frame, *self.position, draw.CYAN)
        return frame

    def ground_truth(self) -> dict[str, Any]:
        return {
            "room": self.room,
            "position": self.position,
            "key_held": self.key_held,
            "key_position": self.key_position,
            "apple_position": self.apple_position,
            "door_position": self.door,
            "steps_in_room": self.steps_in_room,
            "steps_since_key": None if self.key_step is None else self.steps - self.key_step,
            "delay": self.delay,
        }

    def optimal_action(self) -> int:
        target = self._item() if self.room != KEY_ROOM or not self.key_held else None
        direction = step_toward(self.position, target) if target is not None else None
        return 0 if direction is None else direction

    def keyboard_controls(self) -> dict[str, tuple[int, str]]:
        return {
            "up": (0, "up"), "right": (1, "right"), "down": (2, "down"), "left": (3, "left"),
            "w": (0, "up"), "d": (1, "right"), "s": (2, "down"), "a": (3, "left"),
        }  # fmt: skip
