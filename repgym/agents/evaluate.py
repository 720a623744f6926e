"""Evaluating any repgym agent: play seeded episodes in a single env and report returns (legal moves only when the
env has action masks)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from repgym.agents.base import META_FILE, Agent


@dataclass(frozen=True)
class EvalResult:
    """Per-episode ``returns`` and ``lengths`` ``(episodes,)``; ``illegal_actions`` counts ``info["illegal_action"]``;
    ``scores`` holds ``info["score"]`` at each episode's end when the env reports one (else None)."""

    returns: np.ndarray
    lengths: np.ndarray
    illegal_actions: int
    scores: np.ndarray | None = None

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))


def evaluate_agent(
    agent: Agent,
    env: gym.Env,
    n_episodes: int = 10,
    seed: int = 0,
    deterministic: bool = True,
    epsilon: float = 0.0,
    rng_seed: int = 0,
) -> EvalResult:
    """Play ``n_episodes`` episodes (episode ``i`` from ``reset(seed=seed + i)``), acting with
    ``agent.predict(obs, state, episode_start, deterministic=..., action_masks=info["action_mask"])`` (masks where
    the env gives them; the recurrent state returned by one call goes into the next, reset at each episode start).

    ``epsilon > 0``: epsilon-greedy evaluation; with that probability a uniformly random legal action (drawn from
    ``default_rng(rng_seed)``) replaces the agent's, which still acts every step so that its memory stays current."""
    if isinstance(env, gym.vector.VectorEnv):
        raise ValueError("evaluate_agent plays a single env; pass gym.make(...), not a vector env")
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be at least 1, got {n_episodes}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    rng = np.random.default_rng(rng_seed)
    returns, lengths, scores = [], [], []
    illegal = 0
    for episode in range(n_episodes):
        obs, info = env.reset(seed=seed + episode)
        total, steps, done = 0.0, 0, False
        state, start = None, np.ones(1, dtype=bool)  # recurrent agents carry their memory through the episode
        while not done:
            mask = action_mask(env, info)
            action, state = agent.predict(obs, state=state, episode_start=start, deterministic=deterministic,
                                          action_masks=mask)  # fmt: skip
            start = np.zeros(1, dtype=bool)
            if epsilon > 0 and rng.random() < epsilon:
                action = random_legal_action(env.action_space, mask, rng)
            obs, reward, terminated, truncated, info = env.step(env_action(action, env.action_space))
            total += float(reward)
            steps += 1
            illegal += bool(info.get("illegal_action", False))
            done = terminated or truncated
        returns.append(total)
        lengths.append(steps)
        if "score" in info:
            scores.append(float(info["score"]))
    return EvalResult(np.array(returns), np.array(lengths), illegal,
                      np.array(scores) if len(scores) == n_episodes else None)  # fmt: skip


def random_legal_action(space: gym.Space, mask: np.ndarray | None, rng: np.random.Generator) -> Any:
    """A uniformly random action of ``space``, among the legal ones (``mask``) of a discrete space."""
    if mask is not None and isinstance(space, spaces.Discrete):
        legal = np.flatnonzero(mask)
        if legal.size:
            return int(space.start + rng.choice(legal))
    return space.sample()


def env_action(action: Any, space: gym.Space) -> Any:
    """An action from ``agent.predict`` in the form ``env.step`` takes for ``space``.

    ``Discrete``: a Python int (predict returns a 0-d or 1-element array). ``Box``, ``MultiDiscrete`` and
    ``MultiBinary``: an array of the space's shape and dtype, so continuous actions stay floats (float32 for a
    float32 ``Box``). Other spaces: unchanged.
    """
    if isinstance(space, spaces.Discrete):
        return int(np.asarray(action).reshape(()))
    if isinstance(space, spaces.Box | spaces.MultiDiscrete | spaces.MultiBinary):
        array = np.asarray(action, dtype=space.dtype)
        if array.size != math.prod(space.shape):
            raise ValueError(f"the agent's action has {array.size} entries; the env's action space is {space}")
        return array.reshape(space.shape)
    return action


def action_mask(env: gym.Env, info: dict) -> np.ndarray | None:
    """The legal actions of ``env`` now (``info["action_mask"]`` or the env's ``action_masks()``), else None."""
    if "action_mask" in info:
        return np.asarray(info["action_mask"], dtype=bool)
    try:
        return np.asarray(env.get_wrapper_attr("action_masks")(), dtype=bool)
    except AttributeError:
        return None


def read_meta(path: str | os.PathLike) -> dict:
    """A checkpoint's ``agent.json`` (without loading its weights)."""
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"{path} is not a repgym checkpoint: {META_FILE} not found")
    return json.loads(meta_path.read_text())


def evaluation_env(meta: dict, env_kwargs: dict | None = None) -> gym.Env:
    """The single env a checkpoint was trained on (``gym.make``, also for agents trained on a vector env), with
    ``env_kwargs`` overriding the recorded constructor arguments."""
    import repgym.envs  # noqa: F401  (registers the ids)

    if not meta.get("env_id"):
        raise ValueError("the checkpoint records no env id, so it cannot be evaluated from the command line")
    kwargs = {k: v for k, v in (meta.get("env_kwargs") or {}).items() if k not in ("num_envs", "vectorization_mode")}
    return gym.make(meta["env_id"], **{**kwargs, **(env_kwargs or {})})


def evaluate_checkpoint(
    path: str | os.PathLike,
    n_episodes: int = 10,
    seed: int = 0,
    deterministic: bool = True,
    env_kwargs: dict | None = None,
) -> tuple[Agent, gym.Env, EvalResult]:
    """Load any agent's checkpoint and evaluate it on its recorded env; returns ``(agent, env, result)``."""
    from repgym.agents import load_agent

    env = evaluation_env(read_meta(path), env_kwargs)
    agent = load_agent(path, env=env)
    return agent, env, evaluate_agent(agent, env, n_episodes, seed=seed, deterministic=deterministic)
