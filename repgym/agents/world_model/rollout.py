"""Running a controller on top of V + M: in the real env (frames encoded by V, M's state carried along) or in a
:class:`~repgym.worlds.dream.DreamEnv`, both through :func:`repgym.runs.play`. Also the picklable task that CMA-ES
worker processes evaluate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from repgym.agents.world_model.controller import Controller
from repgym.runs import EnvSpec, EvalProtocol, EvalResult, play
from repgym.worlds import checkpoint
from repgym.worlds.data import observation_frame
from repgym.worlds.dream import DreamEnv
from repgym.worlds.mdn_rnn import MDNRNN, State, action_encoder
from repgym.worlds.vae import VAE, frames_to_tensor
from repgym.worlds.vqvae import VQVAE


class WorldModel:
    """V and M together, stepping one latent state: ``observe(frame)`` gives the controller's features ``[z, h]``,
    ``advance(action)`` moves M's state past the action."""

    def __init__(self, vision: VAE | VQVAE, memory: MDNRNN, action_space: gym.Space, use_hidden: bool = True) -> None:
        self.vision, self.memory, self.use_hidden = vision.eval(), memory.eval(), use_hidden
        self._encode_action = action_encoder(action_space)
        self.reset()

    @property
    def feature_dim(self) -> int:
        return self.memory.latent_dim + (self.memory.hidden if self.use_hidden else 0)

    def reset(self, batch: int = 1) -> None:
        self.state: State = self.memory.initial_state(batch)
        self.h = torch.zeros(batch, self.memory.hidden)
        self.z = torch.zeros(batch, self.memory.latent_dim)
        self.codes: torch.Tensor | None = None

    @torch.no_grad()
    def observe(self, frames: np.ndarray) -> torch.Tensor:
        """Features ``(B, feature_dim)`` for frames ``(B, 64, 64, 3) uint8`` (z from V, h from M's last step)."""
        x = frames_to_tensor(frames)
        if self.vision.discrete:
            self.codes = self.vision.codes(x)
            self.z = self.vision.z(self.vision.embed(self.codes))
        else:
            self.z = self.vision.encode(x)
        return torch.cat([self.z, self.h], dim=1) if self.use_hidden else self.z

    @torch.no_grad()
    def advance(self, actions: Any) -> None:
        a = self._encode_action(np.asarray(actions)).view(len(self.z), 1, -1)
        codes = None if self.codes is None else self.codes[:, None]
        out = self.memory(self.z[:, None], a, self.state, codes)
        self.state, self.h = out.state, out.features[:, -1]

    def act(self, controller: Controller, frames: np.ndarray) -> np.ndarray:
        """One control step: C's actions for frames ``(B, 64, 64, 3) uint8`` (:meth:`observe`), then M's state
        moved past them (:meth:`advance`); the agent and :class:`WorldModelPolicy` both act through it."""
        actions = controller.act(self.observe(frames))
        self.advance(actions)
        return actions


class WorldModelPolicy:
    """C acting on V + M in a real env, as a :class:`repgym.runs.Policy` for one env at a time: M's memory lives in
    ``world`` and restarts when an episode does (``state`` None or ``episode_start``); the state it returns is that
    memory, so that :func:`play` treats the policy as recurrent."""

    def __init__(self, env: gym.Env, world: WorldModel, controller: Controller) -> None:
        self.env, self.world, self.controller = env, world, controller

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, State]:
        if state is None or (episode_start is not None and np.any(episode_start)):
            self.world.reset()
        action = self.world.act(self.controller, observation_frame(observation, self.env)[None])[0]
        return action, self.world.state


class DreamPolicy:
    """C acting on a :class:`DreamEnv`'s observations (its features ``[z, h]``), as a :class:`repgym.runs.Policy`."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, None]:
        return self.controller.act(torch.as_tensor(observation)[None])[0], None


def real_episodes(
    env: gym.Env, world: WorldModel, controller: Controller, episodes: int, seed: int, max_steps: int | None = None
) -> EvalResult:
    """``episodes`` episodes (reset seeds ``seed, seed + 1, ...``) of ``controller`` on V + M in the real ``env``."""
    protocol = EvalProtocol(episodes, first_seed=seed, max_steps=max_steps)
    return play(WorldModelPolicy(env, world, controller), env, protocol)


def dream_episodes(env: DreamEnv, controller: Controller, episodes: int, seed: int) -> EvalResult:
    """``episodes`` episodes (reset seeds ``seed, seed + 1, ...``) of ``controller`` inside a dream."""
    return play(DreamPolicy(controller), env, EvalProtocol(episodes, first_seed=seed))


@dataclass
class RolloutTask:
    """Everything a worker process needs to score controller parameters, in picklable form (configs and state
    dicts): ``mode`` ``"real"`` (play ``env``) or ``"dream"`` (play a DreamEnv at temperature ``tau`` from
    ``starts``). ``episodes`` episodes per candidate; fitness is their mean return."""

    mode: str
    vision: tuple[dict[str, Any], dict[str, Any]]  # (config, state dict)
    memory: tuple[dict[str, Any], dict[str, Any]]
    controller: dict[str, Any]  # Controller.config
    env: EnvSpec | None = None
    episodes: int = 1
    max_steps: int | None = None
    tau: float = 1.0
    starts: np.ndarray | None = None
    use_hidden: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("real", "dream"):
            raise ValueError(f"mode must be 'real' or 'dream', got {self.mode!r}")
        if self.mode == "real" and self.env is None:
            raise ValueError("a real-env rollout task needs env (an EnvSpec)")
        if self.mode == "dream" and self.starts is None:
            raise ValueError("a dream rollout task needs starts (encoded real frames)")


class RolloutEvaluator:
    """Built once per worker from a :class:`RolloutTask`; ``evaluator(params, seed) -> (mean return, env steps)``."""

    def __init__(self, task: RolloutTask) -> None:
        torch.set_num_threads(1)
        vision = checkpoint.build_vision(task.vision[0])
        vision.load_state_dict(task.vision[1])
        memory = checkpoint.build_memory(task.memory[0])
        memory.load_state_dict(task.memory[1])
        self.task = task
        self.controller = Controller.from_config(task.controller)
        space = self.controller.action_space
        if task.mode == "real":
            self.env: gym.Env = task.env.make()
            self.world = WorldModel(vision, memory, space, task.use_hidden)
        else:
            self.env = DreamEnv(memory, task.starts, space, vision, task.tau, task.max_steps or 1000,
                                observe_hidden=task.use_hidden)  # fmt: skip

    def __call__(self, params: np.ndarray, seed: int) -> tuple[float, int]:
        self.controller.set_flat(params)
        n = self.task.episodes
        if self.task.mode == "real":
            result = real_episodes(self.env, self.world, self.controller, n, seed, self.task.max_steps)
        else:
            result = dream_episodes(self.env, self.controller, n, seed)
        return result.mean, int(result.lengths.sum())


def play_returns(
    env: gym.Env, world: WorldModel | None, controller: Controller | None, episodes: int, seed: int = 0,
    max_steps: int | None = None,
) -> np.ndarray:  # fmt: skip
    """Returns of ``episodes`` real episodes (seeds ``seed, seed + 1, ...``) of the controller on V + M, or of
    uniform random legal actions when ``controller`` is None (drawn with ``seed``)."""
    if controller is not None:
        return real_episodes(env, world, controller, episodes, seed, max_steps).returns
    return play(None, env, EvalProtocol(episodes, first_seed=seed, rng_seed=seed, max_steps=max_steps)).returns


def dream_returns(env: DreamEnv, controller: Controller, episodes: int, seed: int = 0) -> np.ndarray:
    """Returns of ``episodes`` dream episodes of the controller."""
    return dream_episodes(env, controller, episodes, seed).returns
