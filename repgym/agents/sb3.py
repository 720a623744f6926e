"""Stable-Baselines3 / sb3-contrib algorithms as repgym agents (baselines), saved in repgym's safe format.

SB3's own ``.zip`` files cloudpickle parts of the model, so loading one can run code; here a checkpoint holds
the policy's state dict and a JSON config, and loading rebuilds the model from the config. Optimiser state and
replay buffers are not saved: a loaded baseline acts and can keep learning, but does not resume bit-exactly.

SB3 seeds and draws from the global torch, numpy and ``random`` generators; the agent runs construction and
``learn`` on its own states of them, so making or training an agent never moves the caller's generators.
"""

from __future__ import annotations

import importlib
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from repgym.agents.base import Agent, EnvLike
from repgym.runs import Checkpoint

ALGORITHMS: dict[str, tuple[str, str]] = {
    "ppo": ("stable_baselines3", "PPO"),
    "a2c": ("stable_baselines3", "A2C"),
    "dqn": ("stable_baselines3", "DQN"),
    "sac": ("stable_baselines3", "SAC"),
    "td3": ("stable_baselines3", "TD3"),
    "qrdqn": ("sb3_contrib", "QRDQN"),
    "maskable-ppo": ("sb3_contrib", "MaskablePPO"),
    "recurrent-ppo": ("sb3_contrib", "RecurrentPPO"),
}
# The action spaces each algorithm acts in (SB3 asserts this deep inside the constructor; we say it first).
_DISCRETE_ONLY = (spaces.Discrete,)
ACTION_SPACES: dict[str, tuple[type[spaces.Space], ...]] = {
    "ppo": (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
    "a2c": (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
    "dqn": _DISCRETE_ONLY,
    "sac": (spaces.Box,),
    "td3": (spaces.Box,),
    "qrdqn": _DISCRETE_ONLY,
    "maskable-ppo": (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
    "recurrent-ppo": (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
}
# Algorithms whose policies carry an LSTM: their policy names say so (``MlpLstmPolicy``...), and their ``predict``
# takes and returns the recurrent state, which :func:`repgym.runs.play` threads through each episode.
RECURRENT = ("recurrent-ppo",)
_LATENT_TYPES = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ReLU, torch.nn.Tanh, torch.nn.LSTM)


def default_policy(observation_space: spaces.Space, recurrent: bool = False) -> str:
    """``MultiInputPolicy`` for dict observations, ``CnnPolicy`` for images big enough for SB3's NatureCNN
    (36x36 or more), else ``MlpPolicy`` (small boards are flattened: NatureCNN's 8x8 stride-4 kernel needs room);
    ``recurrent``: their LSTM versions (``MlpLstmPolicy``...) for sb3-contrib's RecurrentPPO."""
    if recurrent:
        return default_policy(observation_space).replace("Policy", "LstmPolicy")
    if isinstance(observation_space, spaces.Dict):
        return "MultiInputPolicy"
    shape = getattr(observation_space, "shape", None) or ()
    if len(shape) == 3 and observation_space.dtype == np.uint8:
        h, w = (shape[1], shape[2]) if shape[0] in (1, 3, 4) else (shape[0], shape[1])
        if min(h, w) >= 36 and (shape[0] in (1, 3, 4) or shape[-1] in (1, 3, 4)):
            return "CnnPolicy"
    return "MlpPolicy"


class SB3Agent(Agent):
    """A Stable-Baselines3 algorithm behind repgym's agent interface.

    Args:
        env: an env instance or a registered id.
        algorithm: one of :data:`ALGORITHMS` (``make_agent("sb3-ppo", ...)`` sets it).
        seed: seeds the model (and its env).
        policy: SB3 policy name; default from the observation space (:func:`default_policy`).
        env_kwargs: constructor arguments when ``env`` is an id.
        initial_action_bias: one number per entry of a ``Box`` action: the bias the layer that outputs the policy's
            mean action starts with, so that early exploration centres there instead of on 0 (e.g. ``[0, 0, -2.5]``
            keeps an entry mostly negative). In the policy's own action space: before the tanh squash for SAC and
            TD3 (so -2.5 means a mean of tanh(-2.5) = -0.99; SAC with ``use_sde`` clips that mean to +-2), the
            normalised action for PPO, A2C and RecurrentPPO.
            Saved with the checkpoint; a loaded or resumed agent keeps its trained weights.
        **hyperparameters: passed to the SB3 constructor (JSON-serialisable ones are saved with the checkpoint).
    """

    def __init__(
        self,
        env: EnvLike,
        algorithm: str = "ppo",
        seed: int | None = None,
        policy: str | None = None,
        env_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        initial_action_bias: list[float] | None = None,
        **hyperparameters: Any,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown SB3 algorithm {algorithm!r}; expected one of {sorted(ALGORITHMS)}")
        self._use_env(env, env_kwargs)
        self.algorithm = algorithm
        self.seed = seed
        self.policy = policy or default_policy(self.env.observation_space, recurrent=algorithm in RECURRENT)
        self.hyperparameters = hyperparameters
        module, cls_name = ALGORITHMS[algorithm]
        cls = getattr(importlib.import_module(module), cls_name)
        supported = ACTION_SPACES[algorithm]
        if not isinstance(self.env.action_space, supported):
            kinds = ", ".join(space.__name__ for space in supported)
            raise ValueError(f"sb3-{algorithm} acts in {kinds} action spaces; {self.env_id or 'this env'} has "
                             f"{self.env.action_space} (for physics envs, discrete agents need --bins)")  # fmt: skip
        self._global_rng_states: tuple[Any, Any] | None = None  # this agent's (numpy, random) global states
        bias = None if initial_action_bias is None else _action_bias(initial_action_bias, self.env.action_space)
        with self._own_rngs():
            self.model = cls(self.policy, self.env, seed=seed, verbose=verbose, **_sb3_kwargs(hyperparameters))
        if bias is not None:
            _set_mean_bias(self.model, bias)
            self.hyperparameters = {**hyperparameters, "initial_action_bias": bias.tolist()}

    @property
    def name(self) -> str:  # type: ignore[override]
        """The registry name: ``sb3-<algorithm>``."""
        return f"sb3-{self.algorithm}"

    @property
    def num_timesteps(self) -> int:  # type: ignore[override]
        return int(self.model.num_timesteps)

    @num_timesteps.setter
    def num_timesteps(self, value: int) -> None:
        self.model.num_timesteps = int(value)

    @contextmanager
    def _own_rngs(self) -> Iterator[None]:
        """Run a block on this agent's states of the global torch, numpy and ``random`` generators (which SB3 seeds
        and draws from), then put the caller's states back."""
        caller = np.random.get_state(), random.getstate()
        if self._global_rng_states is not None:
            np.random.set_state(self._global_rng_states[0])
            random.setstate(self._global_rng_states[1])
        try:
            with self._torch_rng():
                yield
        finally:
            self._global_rng_states = np.random.get_state(), random.getstate()
            np.random.set_state(caller[0])
            random.setstate(caller[1])

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> SB3Agent:
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        with self._own_rngs():
            self.model.learn(total_timesteps, callback=self._sb3_callback(callback), progress_bar=progress_bar,
                             reset_num_timesteps=False)  # fmt: skip
        return self

    def _sb3_callback(self, callback: Any) -> Any:
        """``callback`` as SB3 takes it: SB3 callbacks pass through; repgym callbacks (a ``Callback``, a list of them
        or ``fn(agent)``) are wrapped so that SB3 calls their hooks with this agent and stops when one says so."""
        from stable_baselines3.common.callbacks import BaseCallback

        from repgym.agents.callbacks import as_callback

        if callback is None or isinstance(callback, BaseCallback):
            return callback
        if isinstance(callback, list) and all(isinstance(c, BaseCallback) for c in callback):
            return callback
        hooks, agent = as_callback(callback), self

        class RepgymCallback(BaseCallback):
            def _on_training_start(self) -> None:
                hooks.on_training_start(agent, int(self.locals.get("total_timesteps", 0)))

            def _on_step(self) -> bool:
                return hooks.on_step(agent)

            def _on_training_end(self) -> None:
                hooks.on_training_end(agent)

        return RepgymCallback()

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        if self.algorithm == "maskable-ppo":
            return self.model.predict(observation, state, episode_start, deterministic, action_masks=action_masks)
        return self.model.predict(observation, state, episode_start, deterministic)

    # -- checkpoint hooks (see repgym.agents.base) ------------------------------------------------------------------
    def _save_hyperparameters(self) -> dict[str, Any]:
        bad = [key for key, value in self.hyperparameters.items() if not _json_ok(value)]
        if bad:
            raise ValueError(f"hyperparameters {bad} cannot be stored as JSON; pass plain values to save")
        return self.hyperparameters

    def _save_meta(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "policy": self.policy}

    def _save_tensors(self) -> dict[str, Any]:
        return {"policy": self.model.policy.state_dict()}

    @classmethod
    def _rebuild_kwargs(cls, checkpoint: Checkpoint) -> dict[str, Any]:
        return {"policy": checkpoint.meta["policy"]}

    def _restore(self, checkpoint: Checkpoint) -> None:
        self.model.policy.load_state_dict(checkpoint.tensors()["policy"])

    def latent_modules(self) -> dict[str, torch.nn.Module]:
        """Every linear/conv/activation/LSTM layer of the SB3 policy, by its dotted name in the policy."""
        return {name: m for name, m in self.model.policy.named_modules() if isinstance(m, _LATENT_TYPES) and name}


def _sb3_kwargs(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """``hyperparameters`` as SB3 takes them: dicts copied (SB3 writes into ``policy_kwargs``, which would change
    the caller's, e.g. a tuned entry's, and what the checkpoint records), and as JSON and TOML have no tuples, a
    ``train_freq`` written as a list (``[1, "episode"]``) becomes the tuple SB3 expects."""
    kwargs = {name: dict(value) if isinstance(value, dict) else value for name, value in hyperparameters.items()}
    if isinstance(kwargs.get("train_freq"), list):
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    return kwargs


def _action_bias(value: Any, action_space: spaces.Space) -> np.ndarray:
    """``initial_action_bias`` checked: one finite number per entry of a ``Box`` action space."""
    if not isinstance(action_space, spaces.Box):
        raise ValueError(f"initial_action_bias needs a Box action space; this env has {action_space}")
    size = int(np.prod(action_space.shape))
    try:
        bias = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        bias = np.empty(0)
    if bias.ndim != 1 or bias.size != size or not np.isfinite(bias).all():
        raise ValueError(f"initial_action_bias must be a list of {size} finite numbers (one per action entry), "
                         f"got {value!r}")  # fmt: skip
    return bias


def _set_mean_bias(model: Any, bias: np.ndarray) -> None:
    """Set the bias of the layer that outputs ``model``'s mean action (SAC/TD3: the actor's, before the tanh; PPO,
    A2C, RecurrentPPO: the action net's); TD3's target actor gets the same start."""
    policy = model.policy
    actor = getattr(policy, "actor", None)
    if actor is not None and hasattr(actor, "mu"):
        layers = [m for m in actor.mu.modules() if isinstance(m, torch.nn.Linear)]
    else:
        layers = [policy.action_net] if isinstance(getattr(policy, "action_net", None), torch.nn.Linear) else []
    if not layers or layers[-1].bias is None or layers[-1].bias.shape != (bias.size,):
        raise ValueError(f"initial_action_bias: {type(policy).__name__} has no mean-action layer with {bias.size} "
                         "outputs")  # fmt: skip
    with torch.no_grad():
        layers[-1].bias.copy_(torch.as_tensor(bias, dtype=layers[-1].bias.dtype))
    target = getattr(policy, "actor_target", None)
    if actor is not None and target is not None:
        target.load_state_dict(actor.state_dict())


def _json_ok(value: Any) -> bool:
    try:
        json.dumps(value)
    except TypeError:
        return False
    return True
