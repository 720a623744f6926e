"""DreamEnv: a Gymnasium env that runs the learned world model (V + M) instead of the real env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from repgym.worlds.mdn_rnn import MDNRNN, action_encoder
from repgym.worlds.vae import VAE
from repgym.worlds.vqvae import VQVAE


class DreamEnv(gym.Env):
    """The world model's dream: the memory model M steps a latent state, so any agent can train inside it.

    ## Description
    Each episode starts from a latent of a real frame (encoded by V), drawn at random from ``starts``, with M's
    LSTM state at zero. A step feeds ``(z_t, a_t)`` to M, samples ``z_{t+1}`` from its mixture (or its codes, for a
    VQ-VAE) at temperature ``tau``, and pays M's predicted reward. Higher ``tau`` makes the dream more random
    (and harder to exploit: World Models, Table 2).

    ## Action Space
    The real env's ``action_space`` (given).

    ## Observation Space
    ``Box(-inf, inf, (latent_dim + hidden,), float32)``: ``[z_t, h_t]``, the latent and M's LSTM output — what
    the World Models controller reads. With ``observe_hidden=False``, ``z_t`` alone.

    ## Rewards
    M's reward prediction for ``(z_t, a_t, h_t)``.

    ## Starting State
    A uniformly drawn row of ``starts``; h = c = 0.

    ## Episode End
    Terminated when M's done probability exceeds ``done_threshold``; truncated after ``max_episode_steps``.

    ## Arguments
    ``DreamEnv(memory, starts, action_space, vision=None, tau=1.0, max_episode_steps=1000, done_threshold=0.5,
    observe_hidden=True, render_mode=None)``; ``starts`` is ``(N, latent_dim)`` floats, or ``(N, positions)`` code
    indices for a VQ-VAE memory (``vision`` is then required to embed codes). ``render_mode="rgb_array"`` decodes
    ``z_t`` with ``vision``.

    ## Version History
    - v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        memory: MDNRNN,
        starts: torch.Tensor | np.ndarray,
        action_space: spaces.Space,
        vision: VAE | VQVAE | None = None,
        tau: float = 1.0,
        max_episode_steps: int = 1000,
        done_threshold: float = 0.5,
        observe_hidden: bool = True,
        render_mode: str | None = None,
    ) -> None:
        if tau < 0:
            raise ValueError(f"tau must be >= 0, got {tau}")
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        if memory.categorical and vision is None:
            raise ValueError("a categorical (VQ-VAE) memory needs vision= to turn sampled codes into latents")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if render_mode is not None and vision is None:
            raise ValueError("render_mode='rgb_array' needs vision= to decode latents")
        self.memory, self.vision = memory.eval(), None if vision is None else vision.eval()
        self.starts = torch.as_tensor(np.asarray(starts))
        if len(self.starts) == 0:
            raise ValueError("starts is empty: give at least one encoded real frame")
        self.tau, self.max_episode_steps, self.done_threshold = float(tau), int(max_episode_steps), done_threshold
        self.observe_hidden, self.render_mode = observe_hidden, render_mode
        self.action_space = action_space
        self._encode_action = action_encoder(action_space)
        size = memory.latent_dim + (memory.hidden if observe_hidden else 0)
        self.observation_space = spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self._z = torch.zeros(1, memory.latent_dim)
        self._codes: torch.Tensor | None = None
        self._state = memory.initial_state()
        self._h = torch.zeros(1, memory.hidden)
        self._steps = 0
        self._generator = torch.Generator()

    def _latent(self, start: torch.Tensor) -> torch.Tensor:
        if self.memory.categorical:
            self._codes = start.long().view(1, -1)
            return self.vision.embed(self._codes)
        return start.float().view(1, -1)

    def _obs(self) -> np.ndarray:
        parts = [self._z, self._h] if self.observe_hidden else [self._z]
        return torch.cat(parts, dim=1)[0].numpy().astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._generator.manual_seed(int(self.np_random.integers(2**62)))
        with torch.no_grad():
            self._z = self._latent(self.starts[int(self.np_random.integers(len(self.starts)))])
        self._state = self.memory.initial_state()
        self._h = torch.zeros(1, self.memory.hidden)
        self._steps = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self.action_space.contains(np.asarray(action, dtype=self.action_space.dtype)):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        with torch.no_grad():
            a = self._encode_action(np.asarray([action])).view(1, 1, -1)
            codes = None if self._codes is None else self._codes.view(1, 1, -1)
            out = self.memory(self._z.view(1, 1, -1), a, self._state, codes)
            nxt = self.memory.sample(out, self.tau, self._generator)
            if self.memory.categorical:
                self._codes, self._z = nxt, self.vision.embed(nxt)
            else:
                self._z = nxt
            self._state = out.state
            self._h = out.features[:, -1]
            reward = float(out.reward[0, -1])
            done_p = float(torch.sigmoid(out.done_logit[0, -1]))
        self._steps += 1
        terminated = done_p > self.done_threshold
        truncated = not terminated and self._steps >= self.max_episode_steps
        return self._obs(), reward, terminated, truncated, {"done_probability": done_p}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        with torch.no_grad():
            image = self.vision.decode(self._z)[0].permute(1, 2, 0).numpy()
        return (image * 255).round().astype(np.uint8)
