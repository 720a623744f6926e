"""Gymnasium environments, one subpackage per family; :func:`register_envs` registers them all."""

from __future__ import annotations

import gymnasium as gym

from repgym.envs.registry import EnvEntry, all_envs


def register_envs() -> None:
    """Register every repgym environment with Gymnasium (idempotent)."""
    for entry in all_envs():
        if entry.id in gym.registry:
            continue
        gym.register(
            id=entry.id,
            entry_point=entry.entry_point,
            vector_entry_point=entry.vector_entry_point,
            max_episode_steps=entry.max_episode_steps,
            kwargs=dict(entry.kwargs),
        )


__all__ = ["EnvEntry", "all_envs", "register_envs"]
