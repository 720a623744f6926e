"""``repgym eval``: read a checkpoint, rebuild its env, play the evaluation protocol (through :mod:`repgym.runs`)."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym

from repgym.agents.base import Agent
from repgym.runs import Checkpoint, EvalProtocol, EvalResult, play


def evaluate_checkpoint(
    path: str | os.PathLike | Checkpoint,
    protocol: EvalProtocol | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> tuple[Agent, gym.Env, EvalResult]:
    """Load any agent's checkpoint and play ``protocol`` on its recorded env (``env_kwargs`` override recorded
    arguments); returns ``(agent, env, result)``."""
    from repgym.agents import load_agent

    checkpoint = Checkpoint.read(path)
    env = checkpoint.make_env(**(env_kwargs or {}))
    agent = load_agent(checkpoint, env=env)
    return agent, env, play(agent, env, protocol or EvalProtocol())
