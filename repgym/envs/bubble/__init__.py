"""Bubble Breaker and SameGame: pure rules, single env, native vector env, symmetry, rendering, policies."""

from repgym.envs.bubble.env import BubbleBreakerEnv, make_config
from repgym.envs.bubble.rules import BubbleConfig, BubbleState

__all__ = ["BubbleBreakerEnv", "BubbleConfig", "BubbleState", "make_config"]
