"""Registered ids of the delayed family."""

from repgym.envs.registry import EnvEntry

_PKG = "repgym.envs.delayed"

# The games truncate themselves where they have a step limit (it depends on ``delay``), so no max_episode_steps here.
DELAYED_ENVS: list[EnvEntry] = [
    EnvEntry("KeyToDoor-v0", f"{_PKG}.key_to_door:KeyToDoorEnv",
             "pick up a key, eat apples for `delay` steps, then the door pays only if the key was taken"),
    EnvEntry("Umbrella-v0", f"{_PKG}.umbrella:UmbrellaEnv",
             "the first choice (umbrella or not) decides the reward `delay` noisy steps later"),
    EnvEntry("LaggedControl-v0", f"{_PKG}.lagged_control:LaggedControlEnv",
             "steer a body to a goal; every command takes effect `delay` steps later"),
    EnvEntry("HiddenSequence-v0", f"{_PKG}.hidden_sequence:HiddenSequenceEnv",
             "a secret sequence of `delay`+1 button presses pays +1; a wrong press silently resets it"),
]  # fmt: skip
