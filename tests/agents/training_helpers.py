"""An env for interrupting ``repgym train`` at a known step: CartPole that, when ``$REPGYM_TEST_PAUSE_AT`` is N,
prints ``paused at step N`` after the N-th step of the process and waits for a line on stdin (once per process).

A test reads the trainer's output line by line, signals it while it waits, then lets it go on: the signal lands at a
step that does not depend on timing. ``gym.make("training_helpers:PausingCartPole-v0")`` imports this module.
"""

from __future__ import annotations

import os
import sys

import gymnasium as gym
from gymnasium.envs.classic_control import CartPoleEnv

from repgym.agents.callbacks import StopTraining

PAUSE_VAR = "REPGYM_TEST_PAUSE_AT"


class PausingCartPole(CartPoleEnv):
    """CartPole-v1 that pauses once, after the step given by ``$REPGYM_TEST_PAUSE_AT`` (counted per process)."""

    steps_taken = 0

    def step(self, action):
        result = super().step(action)
        PausingCartPole.steps_taken += 1
        if os.environ.get(PAUSE_VAR) and PausingCartPole.steps_taken == int(os.environ[PAUSE_VAR]):
            print(f"paused at step {PausingCartPole.steps_taken}", flush=True)
            sys.stdin.readline()
        return result


if "PausingCartPole-v0" not in gym.registry:
    gym.register("PausingCartPole-v0", entry_point=PausingCartPole, max_episode_steps=500)


class StopAfter(StopTraining):
    """Sets itself on the ``calls``-th step, as a signal arriving during that step would."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def on_step(self, agent) -> bool:
        self.calls -= 1
        if self.calls == 0:
            self.set("test")
        return super().on_step(agent)
