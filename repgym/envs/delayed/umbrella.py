"""Umbrella: the first choice alone decides the final reward; ``delay`` steps of noise lie in between."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from repgym.envs.delayed import render as draw
from repgym.envs.delayed.base import DelayedGameEnv, ObsMode

LEAVE, TAKE = 0, 1
SUN, RAIN = 0, 1


class UmbrellaEnv(DelayedGameEnv):
    """Umbrella, after bsuite's ``umbrella_length`` (Osband et al., "Behaviour Suite for Reinforcement
    Learning", ICLR 2020).

    ## Description
    At the first step the forecast is shown — rain or sun, always right — and the player takes the umbrella or
    leaves it. Then ``delay`` steps pass in fog: the observation tells nothing about the weather, the player's
    actions change nothing, and each of these steps pays a random ``+distractor_reward`` or
    ``-distractor_reward``. At the last step the weather arrives: ``+1`` if the umbrella matches it (taken and
    rain, or left and sun), ``-1`` otherwise. Only the very first action matters, and its feedback comes ``delay``
    steps later, buried in noise.

    ## Action Space
    ``Discrete(2)``: 0 leave the umbrella, 1 take it. Only the first action of an episode counts; later ones are
    ignored. Keys in ``repgym play``: U take, N leave, Space wait.

    ## Observation Space
    - ``"symbolic"`` (default): ``(3,) float32`` ``[forecast, umbrella, clock]``: forecast ``+1`` rain, ``-1``
      sun, shown at the first step and again after the last (when the weather is revealed), ``0`` in between;
      umbrella 1 if taken; clock = steps taken / ``(delay + 1)``.
    - ``"pixels"``: ``(64, 64, 3) uint8``: sky with the sun or rain clouds when the weather is shown, grey fog
      otherwise; a magenta umbrella when taken; a clock bar on top.

    ## Rewards
    Steps 1..``delay`` (counting the choice as step 1) pay ``±distractor_reward`` with equal probability; the last
    step (step ``delay + 1``) pays ``+1`` for the right umbrella choice, ``-1`` otherwise.

    **Optimal policy** (:meth:`optimal_action`): take the umbrella exactly when the forecast says rain; it always
    succeeds, expected return ``+1``. **Random policy**: succeeds in half the episodes, expected return ``0``.
    Either way the return's standard deviation is ``distractor_reward * sqrt(delay)``.

    ## Starting State
    Rain or sun with equal probability; no umbrella.

    ## Episode End
    Terminated after ``delay + 1`` steps (``info["success"]`` is True when the last reward is ``+1``).

    ## Info
    ``success`` and ``state``: ``weather`` (1 rain, 0 sun), ``umbrella`` (None before the choice, else bool),
    ``steps_since_cue`` and ``delay``.

    ## Arguments
    ```python
    gymnasium.make(
        "repgym/Umbrella-v0",
        delay=20,                 # steps between the choice and the outcome, each paying a random distractor
        distractor_reward=1.0,    # size of the random rewards in between (0: none)
        obs_mode="symbolic",      # "symbolic" | "pixels"
        render_mode=None,         # "human" | "rgb_array"
    )
    ```

    ## Version History
    - v0: initial version.
    """

    def __init__(
        self,
        delay: int = 20,
        distractor_reward: float = 1.0,
        obs_mode: ObsMode = "symbolic",
        render_mode: str | None = None,
    ) -> None:
        self.distractor_reward = float(distractor_reward)
        super().__init__(delay, 2, obs_mode, render_mode)

    def _symbolic_space(self) -> spaces.Box:
        return spaces.Box(np.array([-1, 0, 0], np.float32), np.array([1, 1, 1], np.float32), dtype=np.float32)

    def _new_game(self) -> None:
        self.weather = int(self.np_random.integers(2))
        self.umbrella: bool | None = None

    def _advance(self, action: int) -> tuple[float, bool, bool]:
        if self.umbrella is None:
            self.umbrella = action == TAKE
        if self.steps == self.delay:  # the last step: the weather arrives
            self.success = self.umbrella == (self.weather == RAIN)
            return (1.0 if self.success else -1.0), True, False
        sign = 1.0 if self.np_random.integers(2) else -1.0
        return sign * self.distractor_reward, False, False

    def _forecast_shown(self) -> bool:
        return self.steps == 0 or self.done

    def _symbolic(self) -> np.ndarray:
        forecast = (1.0 if self.weather == RAIN else -1.0) if self._forecast_shown() else 0.0
        return np.array([forecast, float(bool(self.umbrella)), self.steps / (self.delay + 1)], np.float32)

    def _frame(self) -> np.ndarray:
        frame = draw.blank()
        draw.bar(frame, 0, 2, 60, 4, self.steps / (self.delay + 1), draw.WHITE)
        sky = draw.GREY if not self._forecast_shown() else ((40, 60, 90) if self.weather == RAIN else (120, 190, 240))
        draw.fill(frame, draw.HUD, 0, 64 - draw.HUD, 64, sky)
        if self.umbrella:  # a canopy (the top half of a disc) on a handle
            draw.disc(frame, 36, 20, 24, draw.MAGENTA)
            draw.fill(frame, 48, 20, 8, 24, sky)
            draw.fill(frame, 46, 31, 10, 2, draw.WHITE)
        if self._forecast_shown() and self.weather == RAIN:
            for left in (6, 26, 44):
                draw.disc(frame, 8, left, 14, (170, 170, 180))
            for x in range(6, 60, 8):
                for y in range(24, 34, 5):
                    draw.fill(frame, y + (x % 16) // 4, x, 3, 1, draw.BLUE)
        elif self._forecast_shown():
            draw.disc(frame, 9, 22, 20, draw.YELLOW)
        draw.fill(frame, 56, 0, 8, 64, draw.BROWN)  # the ground
        return frame

    def ground_truth(self) -> dict[str, Any]:
        return {"weather": self.weather, "umbrella": self.umbrella, "steps_since_cue": self.steps, "delay": self.delay}

    def optimal_action(self) -> int:
        return TAKE if self.weather == RAIN else LEAVE

    def keyboard_controls(self) -> dict[str, tuple[int, str]]:
        return {"u": (TAKE, "take the umbrella"), "n": (LEAVE, "leave it"), "space": (LEAVE, "wait")}
