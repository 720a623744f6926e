"""Registered ids of the physics family."""

from repgym.envs.registry import EnvEntry

PHYSICS_ENVS: list[EnvEntry] = []
