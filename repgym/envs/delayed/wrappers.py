"""``DelayedReward``: withhold an env's rewards and pay their sum later, without changing the episode's return."""

from __future__ import annotations

from typing import Any

import gymnasium as gym


class DelayedReward(gym.Wrapper):
    """Withholds rewards and pays their sum every ``every`` steps, or only at the end with ``at_end=True``.

    Works for any env: ``DelayedReward(gym.make("repgym/BubbleBreaker-v0"), at_end=True)`` is Bubble Breaker with
    the score hidden until the game is over. Whatever is still withheld is always paid on the step that ends the
    episode (termination *or* truncation), so an episode's return is unchanged: rewards are summed in the order
    they arrive, so with ``at_end=True`` the single payment is bit-for-bit the left-to-right sum of the env's
    rewards; with ``every`` the paid sums are exact whenever partial sums are (integer rewards, as in every repgym
    game) and otherwise equal up to float rounding.

    ``info["withheld_reward"]`` is the reward earned but not yet paid after this step. The count toward ``every``
    restarts at each ``reset``; steps, not rewards, are counted.
    """

    def __init__(self, env: gym.Env, every: int | None = None, at_end: bool = False) -> None:
        if at_end == (every is not None):
            raise ValueError(f"pass exactly one of every=k or at_end=True, got every={every!r}, at_end={at_end!r}")
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ValueError(f"every must be a positive integer number of steps, got {every!r}")
        super().__init__(env)
        self.every = every
        self.at_end = at_end
        self.withheld = 0.0
        self.steps_since_payment = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self.withheld, self.steps_since_payment = 0.0, 0
        obs, info = self.env.reset(seed=seed, options=options)
        info["withheld_reward"] = 0.0
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.withheld += reward
        self.steps_since_payment += 1
        paid = 0.0
        if terminated or truncated or (self.every is not None and self.steps_since_payment >= self.every):
            paid, self.withheld, self.steps_since_payment = self.withheld, 0.0, 0
        info["withheld_reward"] = self.withheld
        return obs, paid, terminated, truncated, info
