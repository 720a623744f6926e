"""Stepping one env or a Gymnasium vector env as a batch of ``E`` envs, with the true next observations and masks.

A transition needs the observation its action led to; vector envs hide it at an episode end (next-step autoreset
returns it first and resets on the following step, whose transition is not real; same-step autoreset puts it in
``info["final_obs"]``). :class:`Rollout` hides these conventions from the learner.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode


class StepResult(NamedTuple):
    """One step of ``E`` envs. ``next_obs``/``next_mask``: where each action led (the final observation at an
    episode end); ``obs``/``mask``: what to act on next (after any reset); ``valid`` False marks a next-step
    autoreset, which is not a transition; ``illegal`` is ``info["illegal_action"]`` when the env reports it."""

    next_obs: np.ndarray
    next_mask: np.ndarray | None
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray
    obs: np.ndarray
    mask: np.ndarray | None
    illegal: np.ndarray | None


class Rollout:
    """Steps ``env`` (a ``gym.Env`` or a ``gym.vector.VectorEnv``) as a batch; masks come from
    ``info["action_mask"]`` or ``action_masks()`` when :func:`has_action_masks` (None otherwise)."""

    def __init__(self, env: gym.Env | gym.vector.VectorEnv) -> None:
        self.env = env
        self.vector = isinstance(env, gym.vector.VectorEnv)
        self.num_envs = env.num_envs if self.vector else 1
        self.autoreset = AutoresetMode(env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)) if self.vector \
            else None  # fmt: skip
        if self.autoreset == AutoresetMode.DISABLED:
            raise ValueError("vector envs with autoreset_mode DISABLED are not supported; use NEXT_STEP or SAME_STEP")
        self.has_masks = has_action_masks(env)
        self._ended = np.zeros(self.num_envs, bool)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Start new episodes in every env; returns observations ``(E, ...)`` and masks ``(E, A)`` or None."""
        obs, info = self.env.reset(seed=seed)
        self._ended[:] = False
        if not self.vector:
            return np.asarray(obs)[None], self._mask(info)
        return np.asarray(obs), self._mask(info)

    def step(self, actions: np.ndarray) -> StepResult:
        """Apply ``actions`` ``(E,)``."""
        if not self.vector:
            return self._step_single(int(actions[0]))
        obs, reward, terminated, truncated, info = self.env.step(actions)
        obs = np.asarray(obs)
        mask = self._mask(info)
        illegal = _illegal(info)
        ended = terminated | truncated
        if self.autoreset == AutoresetMode.NEXT_STEP:
            valid = ~self._ended
            self._ended = ended
            return StepResult(obs, mask, reward, terminated, truncated, valid, obs, mask, illegal)
        next_obs, next_mask = obs, mask
        if ended.any():  # SAME_STEP: the final observations and infos sit in info
            done = np.flatnonzero(ended)
            next_obs = obs.copy()
            next_obs[done] = np.stack([info["final_obs"][i] for i in done])
            if mask is not None:
                next_mask = mask.copy()
                final_masks = info["final_info"].get("action_mask")
                if final_masks is not None:
                    next_mask[done] = np.asarray(final_masks)[done]
        valid = np.ones(self.num_envs, bool)
        return StepResult(next_obs, next_mask, reward, terminated, truncated, valid, obs, mask, illegal)

    def _step_single(self, action: int) -> StepResult:
        next_obs, reward, terminated, truncated, info = self.env.step(action)
        next_obs = np.asarray(next_obs)[None]
        next_mask = self._mask(info)
        illegal = _illegal(info)
        obs, mask = next_obs, next_mask
        if terminated or truncated:
            first, reset_info = self.env.reset()
            obs, mask = np.asarray(first)[None], self._mask(reset_info)
        return StepResult(next_obs, next_mask, np.array([reward], np.float64), np.array([terminated]),
                          np.array([truncated]), np.ones(1, bool), obs, mask,
                          None if illegal is None else np.atleast_1d(illegal))  # fmt: skip

    def _mask(self, info: dict[str, Any]) -> np.ndarray | None:
        if not self.has_masks:
            return None
        mask = info.get("action_mask")
        if mask is None:
            if not self.vector:
                mask = self.env.get_wrapper_attr("action_masks")()
            elif callable(getattr(self.env, "action_masks", None)):
                mask = self.env.action_masks()
            else:  # SyncVectorEnv / AsyncVectorEnv of masked envs
                mask = np.stack(self.env.call("action_masks"))
        return np.asarray(mask, dtype=bool).reshape(self.num_envs, -1)


def has_action_masks(env: gym.Env | gym.vector.VectorEnv) -> bool:
    """Whether ``env`` (or, for a vector env of single envs, its first env) has ``action_masks()``; probed
    without resetting the env."""
    if isinstance(env, gym.vector.VectorEnv):
        if callable(getattr(env, "action_masks", None)):
            return True
        envs = getattr(env, "envs", None)
        return bool(envs) and has_action_masks(envs[0])
    try:
        return callable(env.get_wrapper_attr("action_masks"))
    except AttributeError:
        return False


def _illegal(info: dict[str, Any]) -> np.ndarray | None:
    value = info.get("illegal_action")
    return None if value is None else np.asarray(value, dtype=bool)


class EpisodeStats:
    """Return and length of the episode running in each of ``E`` envs; a finished episode's are appended to
    ``returns`` and ``lengths`` (e.g. bounded deques)."""

    def __init__(self, num_envs: int, returns: deque[float], lengths: deque[int]) -> None:
        self.episode_return = np.zeros(num_envs)
        self.episode_length = np.zeros(num_envs, np.int64)
        self.returns, self.lengths = returns, lengths

    def update(self, step: StepResult) -> int:
        """Count one step; returns how many episodes it finished."""
        self.episode_return += step.reward * step.valid
        self.episode_length += step.valid
        finished = np.flatnonzero((step.terminated | step.truncated) & step.valid)
        for i in finished:
            self.returns.append(float(self.episode_return[i]))
            self.lengths.append(int(self.episode_length[i]))
        self.episode_return[finished] = 0.0
        self.episode_length[finished] = 0
        return len(finished)
