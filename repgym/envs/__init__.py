"""Gymnasium environments, one subpackage per family; :func:`register_envs` registers them all."""

from __future__ import annotations

import gymnasium as gym

from repgym.envs.registry import ENVS, EnvEntry


def register_envs() -> None:
    """Register every repgym environment with Gymnasium (idempotent)."""
    for entry in ENVS:
        if entry.id in gym.registry:
            continue
        gym.register(
            id=entry.id,
            entry_point=entry.entry_point,
            vector_entry_point=entry.vector_entry_point,
            max_episode_steps=entry.max_episode_steps,
            kwargs=dict(entry.kwargs),
        )


__all__ = ["ENVS", "EnvEntry", "register_envs"]
