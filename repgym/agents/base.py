"""The one interface every repgym agent speaks (Stable-Baselines3's), with save/load written once.

A checkpoint is a folder (see :mod:`repgym.runs.checkpoint`)::

    <path>/agent.json   agent name, env id and kwargs, spaces, hyperparameters, seed, steps, versions + the agent's own
    <path>/weights.pt   tensors acting needs (state dicts), read back with ``torch.load(weights_only=True)``
    <path>/replay.pt    tensors only resuming training needs (a replay buffer), read only when training resumes

:meth:`Agent.save` and :meth:`Agent.load` are template methods: they write and read what every agent shares and
call small hooks for the rest (as Stable-Baselines3's ``_get_torch_save_params``)::

    save: _save_hyperparameters, _save_meta, _save_tensors, _save_resume_tensors
    load: _check_env (before any network is built), _rebuild_kwargs, then _restore on the new agent
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from repgym.runs import Checkpoint, EnvSpec, write_checkpoint
from repgym.runs.checkpoint import META_FILE  # noqa: F401  (where the benchmark and world CLI find it)

EnvLike = gym.Env | gym.vector.VectorEnv | EnvSpec | str
SPACES = ("observation", "action")


def make_env(env: EnvLike, env_kwargs: dict[str, Any] | None = None) -> gym.Env | gym.vector.VectorEnv:
    """An env instance from an instance, an :class:`EnvSpec` or a registered id (made with ``env_kwargs``)."""
    if isinstance(env, str):
        return EnvSpec(env, env_kwargs or {}).make()
    if env_kwargs:
        raise ValueError(f"env_kwargs {env_kwargs} are only used when env is given as an id string, got {env!r}")
    return env.make() if isinstance(env, EnvSpec) else env


def single_spaces(env: gym.Env | gym.vector.VectorEnv) -> dict[str, gym.Space]:
    """``{"observation": ..., "action": ...}`` of one env (a vector env's single-env spaces)."""
    if isinstance(env, gym.vector.VectorEnv):
        return {"observation": env.single_observation_space, "action": env.single_action_space}
    return {"observation": env.observation_space, "action": env.action_space}


def describe_space(space: gym.Space) -> dict[str, Any]:
    """A JSON description of ``space``: its text (``Box(0, 1, (4, 6, 6), uint8)``) and what networks built for it
    depend on (type, shape, dtype, sizes; bounds are left out: they do not change a network)."""
    return {"text": str(space), **_space_structure(space)}


def _space_structure(space: gym.Space) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(space).__name__}
    if isinstance(space, spaces.Dict):
        out["spaces"] = {key: _space_structure(sub) for key, sub in space.spaces.items()}
    elif isinstance(space, spaces.Tuple):
        out["spaces"] = [_space_structure(sub) for sub in space.spaces]
    else:
        out["shape"] = None if space.shape is None else list(space.shape)
        out["dtype"] = None if space.dtype is None else str(space.dtype)
    if isinstance(space, spaces.Discrete):
        out.update(n=int(space.n), start=int(space.start))
    elif isinstance(space, spaces.MultiDiscrete):
        out["nvec"] = space.nvec.tolist()
    return out


class Agent(ABC):
    """Base class: ``learn``, ``predict``, ``save``/``load`` and ``latent_modules`` as in DESIGN.md.

    Subclasses set ``name`` (the registry name), ``self.env``/``self.env_spec`` (through :meth:`_use_env`), ``seed``
    and ``num_timesteps``, implement ``learn``/``predict`` and the checkpoint hooks they need (an agent without
    learned state, an expert, needs none), and build their networks and train inside :meth:`_torch_rng` so that the
    global torch generator is never touched.
    """

    name: ClassVar[str] = "agent"
    # The spaces this agent's networks are built for: load refuses an env whose spaces differ from the recorded ones.
    checked_spaces: ClassVar[tuple[str, ...]] = SPACES
    # Constructor arguments the analyzers load this agent with: how it acts while they collect states and measure
    # ablated returns, never what its networks compute (e.g. a search agent acts by its cheapest rule there).
    analysis_overrides: ClassVar[dict[str, Any]] = {}

    env: gym.Env | gym.vector.VectorEnv
    env_spec: EnvSpec | None = None
    num_timesteps: int = 0
    seed: int | None = None
    _torch_rng_state: torch.Tensor | None = None

    def _use_env(self, env: EnvLike, env_kwargs: dict[str, Any] | None = None) -> None:
        """Act in ``env`` (see :func:`make_env`) and remember how it was made (None: not by ``gym.make``)."""
        self.env = make_env(env, env_kwargs)
        self.env_spec = EnvSpec.from_env(self.env)

    @property
    def env_id(self) -> str | None:
        """The registered id of the env the agent acts in (None when it was not made by ``gym.make``)."""
        return None if self.env_spec is None else self.env_spec.id

    @contextmanager
    def _torch_rng(self) -> Iterator[None]:
        """Run a block on this agent's own torch CPU generator, leaving the global one as it was.

        The first block starts from ``torch.manual_seed(seed)`` (from a copy of the global state when ``seed`` is
        None); each later block continues where the previous one stopped, so results do not depend on what else
        draws from torch between calls."""
        with torch.random.fork_rng(devices=[]):
            if self._torch_rng_state is not None:
                torch.random.set_rng_state(self._torch_rng_state)
            elif self.seed is not None:
                torch.manual_seed(self.seed)
            try:
                yield
            finally:
                self._torch_rng_state = torch.random.get_rng_state()

    # -- the interface -------------------------------------------------------------------------------------------
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

    # -- saving ----------------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, include_resume_state: bool = True) -> Path:
        """Write a checkpoint folder (``agent.json``, ``weights.pt``, and ``replay.pt`` when the agent has state
        that only resuming training needs, unless ``include_resume_state=False``); returns its path."""
        spec, vector, acts_in = self.env_spec, isinstance(self.env, gym.vector.VectorEnv), single_spaces(self.env)
        meta = {
            "agent": self.name,
            "env_id": None if spec is None else spec.id,  # env_id/env_kwargs: the keys every reader knows
            "env_kwargs": {} if spec is None else dict(spec.kwargs),
            "num_envs": self.env.num_envs if vector else None,
            "vectorization_mode": _vectorization_mode(self.env) if vector else None,
            "observation_space": describe_space(acts_in["observation"]),
            "action_space": describe_space(acts_in["action"]),
            "seed": self.seed,
            "num_timesteps": int(self.num_timesteps),
            "hyperparameters": self._save_hyperparameters(),
            **self._save_meta(),
        }
        resume = self._save_resume_tensors() if include_resume_state else None
        return write_checkpoint(path, meta, self._save_tensors(), resume)

    def _save_hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments (JSON values) that, with the env and seed, rebuild this agent; none here."""
        return {}

    def _save_meta(self) -> dict[str, Any]:
        """The agent's own JSON metadata (counters, generator states, settings outside the hyperparameters)."""
        return {}

    def _save_tensors(self) -> dict[str, Any]:
        """The tensors acting needs (state dicts), written to ``weights.pt``; none here."""
        return {}

    def _save_resume_tensors(self) -> dict[str, Any]:
        """Tensors only resuming training needs (a replay buffer), written to ``replay.pt``; none by default."""
        return {}

    # -- loading ---------------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike | Checkpoint, env: EnvLike | None = None, **overrides: Any) -> Agent:
        """Rebuild an agent from a checkpoint folder (or a :class:`Checkpoint` already read: its tensors are reused);
        ``Agent.load`` loads any registered agent, ``SomeAgent.load`` only its own kind.

        ``env``: where to act (default: the recorded env, a vector env of the recorded size if training used one); a
        given env's spaces are checked against the recorded ones before any network is built. ``overrides``:
        constructor arguments that replace the recorded ones (``log_dir``, a search setting...)."""
        checkpoint = Checkpoint.read(path)
        agent = cls.untrained_like(checkpoint, env, **overrides)
        agent.num_timesteps = checkpoint.num_timesteps
        agent._restore(checkpoint)
        return agent

    @classmethod
    def untrained_like(
        cls, path: str | os.PathLike | Checkpoint, env: EnvLike | None = None, **overrides: Any
    ) -> Agent:
        """The agent a checkpoint's settings build (its class, hyperparameters and seed) with freshly initialised
        weights: what :meth:`load` builds before it restores the saved state. The control for an analysis that asks
        what training changed. ``env`` and ``overrides`` as for :meth:`load`."""
        from repgym.agents import registered_agent

        checkpoint = Checkpoint.read(path)
        entry = registered_agent(checkpoint)
        agent_cls = entry.load_class()
        if not issubclass(agent_cls, cls):
            raise ValueError(f"checkpoint {checkpoint.path} holds agent {checkpoint.agent!r}, not a {cls.__name__}")
        if env is None:
            env = checkpoint.make_training_env()
        else:
            env = make_env(env)
            agent_cls._check_env(checkpoint, env)
        kwargs = {"seed": checkpoint.seed, **dict(entry.kwargs), **checkpoint.hyperparameters,
                  **agent_cls._rebuild_kwargs(checkpoint), **overrides}  # fmt: skip
        return agent_cls(env, **kwargs)

    @classmethod
    def _check_env(cls, checkpoint: Checkpoint, env: gym.Env | gym.vector.VectorEnv) -> None:
        """A one-line ``ValueError`` when ``env``'s :attr:`checked_spaces` differ from those the checkpoint was
        trained with (old checkpoints that do not record them: from the recorded env)."""
        recorded = recorded_spaces(checkpoint)
        if recorded is None:
            return
        here = single_spaces(env)
        for kind in cls.checked_spaces:
            theirs, mine = recorded[kind], describe_space(here[kind])
            if _space_structure_of(theirs) != _space_structure_of(mine):
                built_for = f" for {checkpoint.env}" if checkpoint.env is not None else ""
                raise ValueError(f"checkpoint {checkpoint.path} does not fit this env: its {checkpoint.agent} network "
                                 f"was built{built_for} with {kind} space {theirs['text']}; this env has "
                                 f"{mine['text']}")  # fmt: skip

    @classmethod
    def _rebuild_kwargs(cls, checkpoint: Checkpoint) -> dict[str, Any]:
        """Constructor arguments recorded outside ``hyperparameters`` (a policy name, search settings); none here."""
        return {}

    def _restore(self, checkpoint: Checkpoint) -> None:
        """Load the checkpoint's tensors and counters into this freshly built agent (``checkpoint.tensors()`` is
        read once and cached; ``checkpoint.resume_tensors()`` only where training resumes); nothing here."""
        return None


def recorded_spaces(checkpoint: Checkpoint) -> dict[str, dict[str, Any]] | None:
    """``{"observation": description, "action": description}`` the checkpoint was trained with: as recorded, or for
    an older checkpoint from its recorded env (made once to read them); None when it records neither."""
    meta = checkpoint.meta
    if all(f"{kind}_space" in meta for kind in SPACES):
        return {kind: meta[f"{kind}_space"] for kind in SPACES}
    if checkpoint.env is None:
        return None
    env = checkpoint.make_env()
    try:
        return {kind: describe_space(space) for kind, space in single_spaces(env).items()}
    finally:
        env.close()


def _space_structure_of(description: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in description.items() if key != "text"}


def _vectorization_mode(env: gym.vector.VectorEnv) -> str | None:
    spec = getattr(env, "spec", None)
    return None if spec is None else (spec.kwargs or {}).get("vectorization_mode")
