"""Running a controller on top of V + M: in the real env (frames encoded by V, M's state carried along) or in a
:class:`~repgym.worlds.dream.DreamEnv`. Also the picklable task that CMA-ES worker processes evaluate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from repgym.agents.world_model.controller import Controller
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


def real_episode(
    env: gym.Env, world: WorldModel, controller: Controller, seed: int, max_steps: int | None = None
) -> tuple[float, int]:
    """``(return, steps)`` of one episode of ``controller`` on V + M in the real ``env``."""
    obs, _ = env.reset(seed=int(seed))
    world.reset()
    total, steps = 0.0, 0
    while True:
        action = controller.act(world.observe(observation_frame(obs, env)[None]))[0]
        world.advance(action[None])
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        steps += 1
        if terminated or truncated or (max_steps is not None and steps >= max_steps):
            return total, steps


def dream_episode(env: DreamEnv, controller: Controller, seed: int) -> tuple[float, int]:
    """``(return, steps)`` of one episode of ``controller`` inside a dream."""
    obs, _ = env.reset(seed=int(seed))
    total, steps = 0.0, 0
    while True:
        obs, reward, terminated, truncated, _ = env.step(controller.act(torch.as_tensor(obs)[None])[0])
        total += float(reward)
        steps += 1
        if terminated or truncated:
            return total, steps


@dataclass
class RolloutTask:
    """Everything a worker process needs to score controller parameters, in picklable form (configs and state
    dicts): ``mode`` ``"real"`` (play ``env_id``) or ``"dream"`` (play a DreamEnv at temperature ``tau`` from
    ``starts``). ``episodes`` episodes per candidate; fitness is their mean return."""

    mode: str
    vision: tuple[dict[str, Any], dict[str, Any]]  # (config, state dict)
    memory: tuple[dict[str, Any], dict[str, Any]]
    controller: dict[str, Any]  # Controller.config
    env_id: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    episodes: int = 1
    max_steps: int | None = None
    tau: float = 1.0
    starts: np.ndarray | None = None
    use_hidden: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("real", "dream"):
            raise ValueError(f"mode must be 'real' or 'dream', got {self.mode!r}")
        if self.mode == "real" and not self.env_id:
            raise ValueError("a real-env rollout task needs env_id")
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
            import repgym.envs  # noqa: F401  (registers the ids)

            self.env: gym.Env = gym.make(task.env_id, **task.env_kwargs)
            self.world = WorldModel(vision, memory, space, task.use_hidden)
        else:
            self.env = DreamEnv(memory, task.starts, space, vision, task.tau, task.max_steps or 1000,
                                observe_hidden=task.use_hidden)  # fmt: skip

    def __call__(self, params: np.ndarray, seed: int) -> tuple[float, int]:
        self.controller.set_flat(params)
        returns, steps = [], 0
        for i in range(self.task.episodes):
            if self.task.mode == "real":
                ret, n = real_episode(self.env, self.world, self.controller, seed + i, self.task.max_steps)
            else:
                ret, n = dream_episode(self.env, self.controller, seed + i)
            returns.append(ret)
            steps += n
        return float(np.mean(returns)), steps


def play_returns(
    env: gym.Env, world: WorldModel | None, controller: Controller | None, episodes: int, seed: int = 0,
    max_steps: int | None = None,
) -> np.ndarray:  # fmt: skip
    """Returns of ``episodes`` real episodes (seeds ``seed, seed + 1, ...``) of the controller on V + M, or of
    uniform random actions when ``controller`` is None (the action space seeded with ``seed``)."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if controller is None:
        env.action_space.seed(seed)
    out = []
    for i in range(episodes):
        if controller is not None:
            out.append(real_episode(env, world, controller, seed + i, max_steps)[0])
            continue
        env.reset(seed=seed + i)
        total, steps, done = 0.0, 0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, steps = total + float(reward), steps + 1
            done = terminated or truncated or (max_steps is not None and steps >= max_steps)
        out.append(total)
    return np.asarray(out)


def dream_returns(env: DreamEnv, controller: Controller, episodes: int, seed: int = 0) -> np.ndarray:
    """Returns of ``episodes`` dream episodes of the controller."""
    return np.asarray([dream_episode(env, controller, seed + i)[0] for i in range(episodes)])
