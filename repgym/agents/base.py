"""The one interface every repgym agent speaks (Stable-Baselines3's), and the safe checkpoint format they share.

A checkpoint is a folder::

    <path>/agent.json   what produced it: agent name, env id and kwargs, hyperparameters, seed, steps, version
    <path>/weights.pt   tensors only (state dicts), read back with ``torch.load(weights_only=True)``

Nothing is pickled, so loading a checkpoint from someone else cannot run their code.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from repgym.runs.checkpoint import META_FILE, WEIGHTS_FILE, Checkpoint, write_checkpoint  # noqa: F401

EnvLike = gym.Env | gym.vector.VectorEnv | str


def env_identity(env: gym.Env | gym.vector.VectorEnv) -> tuple[str | None, dict[str, Any]]:
    """The registered id and JSON-serialisable constructor kwargs of ``env`` (None, {} when it has no spec)."""
    spec = getattr(env, "spec", None)
    if spec is None:
        return None, {}
    kwargs = {}
    for key, value in (spec.kwargs or {}).items():
        try:
            json.dumps(value)
        except TypeError:
            continue
        kwargs[key] = value
    return spec.id, kwargs


def resolve_env(env: EnvLike, env_kwargs: dict[str, Any] | None = None) -> gym.Env | gym.vector.VectorEnv:
    """An env instance from an instance or a registered id (made with ``env_kwargs``)."""
    if isinstance(env, str):
        import repgym.envs  # noqa: F401  (registers the ids)

        return gym.make(env, **(env_kwargs or {}))
    if env_kwargs:
        raise ValueError("env_kwargs are only used when env is given as an id string")
    return env


class Agent(ABC):
    """Base class: ``learn``, ``predict``, ``save``/``load`` and ``latent_modules`` as in DESIGN.md.

    Subclasses set ``name`` (the registry name) and implement the abstract methods; ``save`` writes a checkpoint
    folder through :func:`write_checkpoint` and ``load`` reads it back through :func:`read_checkpoint`.
    """

    name: ClassVar[str] = "agent"

    num_timesteps: int = 0
    seed: int | None = None

    @abstractmethod
    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> Agent:
        """Train for ``total_timesteps`` env steps (more, across calls: training continues)."""

    @abstractmethod
    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Action(s) for one observation or a batch, and the recurrent state (None for feed-forward agents)."""

    @abstractmethod
    def save(self, path: str | os.PathLike) -> Path:
        """Write a checkpoint folder; returns its path."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | os.PathLike, env: EnvLike | None = None) -> Agent:
        """Rebuild an agent from a checkpoint folder (``env``: where to act; default: make the recorded env)."""

    def latent_modules(self) -> dict[str, torch.nn.Module]:
        """Named modules whose activations the analyzers may read (forward hooks)."""
        return {}

    def represent(self, observation: np.ndarray) -> torch.Tensor:
        """Run the networks behind :meth:`latent_modules` once on a batch of observations ``(n, *obs_shape)`` and
        return their output (one row per observation), without acting.

        The analyzers read latents through hooks while ``predict`` runs, which works when ``predict`` evaluates the
        latent modules on the observations themselves. Agents whose ``predict`` evaluates them on other inputs
        (afterstates, search nodes) override this so that each hooked module runs exactly once per observation;
        the default says that this agent has no such path.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not define represent(): its latent modules are read while predict() runs"
        )


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict]:
    """``(meta, tensors)`` of a checkpoint folder (through :class:`repgym.runs.Checkpoint`)."""
    checkpoint = Checkpoint.read(path)
    return checkpoint.meta, {**checkpoint.tensors(), **checkpoint.resume_tensors()}
