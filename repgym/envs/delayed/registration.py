"""Registered ids of the delayed family."""

from repgym.envs.registry import EnvEntry

DELAYED_ENVS: list[EnvEntry] = []
