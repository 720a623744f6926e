"""Whole episodes, kept for the return predictor (which learns from complete episodes) and for the Q-learner's replay.

An :class:`Episode` of ``T`` steps holds ``T + 1`` observations (the last one is where the episode ended), ``T``
actions and rewards, and, where the env has action masks, ``T + 1`` masks (legal actions at each observation).
:class:`EpisodeStore` keeps the newest episodes up to a number of transitions and replays them to the predictor with
priority to those it predicts worst (RUDDER's "lessons buffer", Arjona-Medina et al. 2019, sec. 4).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

PRIORITY_FLOOR = 0.01  # added to every episode's error, so a well-predicted episode is still replayed sometimes


@dataclass
class Episode:
    """One finished episode: ``obs`` ``(T + 1, *obs_shape)``, ``actions`` ``(T,)`` int64, ``rewards`` ``(T,)``
    float32, ``masks`` ``(T + 1, A)`` bool or None; ``error`` is the predictor's last squared error on it."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    masks: np.ndarray | None
    error: float = 0.0

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum(dtype=np.float64))


class EpisodeRecorder:
    """Collects the steps of the running episode and hands them over as an :class:`Episode` when it ends."""

    def __init__(self) -> None:
        self.obs: list[np.ndarray] = []
        self.actions: list[int] = []
        self.rewards: list[float] = []
        self.masks: list[np.ndarray | None] = []

    def start(self, obs: np.ndarray, mask: np.ndarray | None) -> None:
        """Begin an episode at its first observation (dropping any unfinished one)."""
        self.obs, self.actions, self.rewards, self.masks = [np.array(obs)], [], [], [mask]

    def step(self, action: int, reward: float, next_obs: np.ndarray, next_mask: np.ndarray | None) -> None:
        self.actions.append(int(action))
        self.rewards.append(float(reward))
        self.obs.append(np.array(next_obs))
        self.masks.append(next_mask)

    def finish(self) -> Episode:
        masks = None if self.masks[0] is None else np.stack(self.masks).astype(bool)
        return Episode(np.stack(self.obs), np.asarray(self.actions, np.int64), np.asarray(self.rewards, np.float32),
                       masks)  # fmt: skip


class EpisodeStore:
    """The newest whole episodes, at most ``capacity`` transitions in all (the oldest episodes are dropped first;
    a single longer episode is kept alone)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self.episodes: deque[Episode] = deque()
        self.transitions = 0

    def __len__(self) -> int:
        return len(self.episodes)

    def add(self, episode: Episode) -> None:
        """Append ``episode`` with the highest error seen so far (so it is shown to the predictor soon)."""
        if len(episode) == 0:
            return
        episode.error = max((e.error for e in self.episodes), default=1.0)
        self.episodes.append(episode)
        self.transitions += len(episode)
        while self.transitions > self.capacity and len(self.episodes) > 1:
            self.transitions -= len(self.episodes.popleft())

    def sample(self, rng: np.random.Generator, n: int, exponent: float) -> list[int]:
        """Indices of ``n`` episodes drawn with replacement, with probability ``~ (error + 0.01) ** exponent``."""
        if not self.episodes:
            raise ValueError("the episode store is empty: no episode has finished yet")
        weights = (np.array([e.error for e in self.episodes]) + PRIORITY_FLOOR) ** exponent
        return rng.choice(len(self.episodes), size=n, p=weights / weights.sum()).tolist()

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """Every episode, concatenated into tensors with their lengths (for ``replay.pt``)."""
        if not self.episodes:
            return {"count": 0}
        episodes = list(self.episodes)
        state: dict[str, torch.Tensor | int] = {
            "count": len(episodes),
            "lengths": torch.as_tensor([len(e) for e in episodes], dtype=torch.int64),
            "errors": torch.as_tensor([e.error for e in episodes], dtype=torch.float64),
            "obs": torch.from_numpy(np.concatenate([e.obs for e in episodes])),
            "actions": torch.from_numpy(np.concatenate([e.actions for e in episodes])),
            "rewards": torch.from_numpy(np.concatenate([e.rewards for e in episodes])),
        }
        if episodes[0].masks is not None:
            state["masks"] = torch.from_numpy(np.concatenate([e.masks for e in episodes]))
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.episodes.clear()
        self.transitions = 0
        if int(state["count"]) == 0:
            return
        obs, actions, rewards = (state[k].numpy() for k in ("obs", "actions", "rewards"))
        masks = state["masks"].numpy() if "masks" in state else None
        first_obs = first_step = 0
        for length, error in zip(state["lengths"].tolist(), state["errors"].tolist(), strict=True):
            steps = slice(first_step, first_step + length)
            frames = slice(first_obs, first_obs + length + 1)
            self.episodes.append(Episode(obs[frames].copy(), actions[steps].copy(), rewards[steps].copy(),
                                         None if masks is None else masks[frames].copy(), float(error)))  # fmt: skip
            self.transitions += length
            first_obs, first_step = first_obs + length + 1, first_step + length
