"""Delayed-reward, human-hard games and the DelayedReward wrapper.

Each game has a ``delay`` knob from immediate feedback (0) to feedback hundreds of steps after the decisive
action, ``obs_mode="symbolic"`` (a small vector) or ``"pixels"`` (64x64 RGB), ``render_mode`` ``"human"`` or
``"rgb_array"``, its ground truth in ``info["state"]`` and an oracle ``optimal_action()``.
"""

from repgym.envs.delayed.hidden_sequence import HiddenSequenceEnv
from repgym.envs.delayed.key_to_door import KeyToDoorEnv
from repgym.envs.delayed.lagged_control import LaggedControlEnv
from repgym.envs.delayed.umbrella import UmbrellaEnv
from repgym.envs.delayed.wrappers import DelayedReward

__all__ = ["DelayedReward", "HiddenSequenceEnv", "KeyToDoorEnv", "LaggedControlEnv", "UmbrellaEnv"]
