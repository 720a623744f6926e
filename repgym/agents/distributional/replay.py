"""Experience replay: a ring buffer of n-step transitions, and the window that builds them from env steps.

A stored transition is ``(obs, action, reward, discount, next_obs, next_mask)`` where ``reward`` is the discounted
sum of up to ``n`` rewards, ``discount`` is ``gamma**k`` for the ``k`` rewards summed (0 after a termination) and
``next_mask`` marks the legal actions at ``next_obs`` (for the target's argmax). The target is then
``reward + discount * Z(next_obs, a*)`` whatever ``k`` was.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class Transitions(NamedTuple):
    """A batch of ``n`` transitions as numpy arrays with a leading ``(n,)`` axis (``next_mask`` None: no masks)."""

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    discount: np.ndarray
    next_obs: np.ndarray
    next_mask: np.ndarray | None


class ReplayBuffer:
    """The last ``capacity`` transitions, in numpy arrays ``(capacity, ...)``; the oldest are overwritten."""

    def __init__(
        self, capacity: int, obs_shape: tuple[int, ...], obs_dtype: np.dtype, n_actions: int, masks: bool
    ) -> None:
        self.capacity = int(capacity)
        self.obs = np.zeros((self.capacity, *obs_shape), obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.action = np.zeros(self.capacity, np.int64)
        self.reward = np.zeros(self.capacity, np.float32)
        self.discount = np.zeros(self.capacity, np.float32)
        self.next_mask = np.ones((self.capacity, n_actions), bool) if masks else None
        self.pos = 0  # next slot to write
        self.size = 0  # filled slots

    def add(self, batch: Transitions) -> None:
        """Append a batch (wrapping around the end)."""
        n = len(batch.action)
        if n == 0:
            return
        if n > self.capacity:
            batch = Transitions(*(None if a is None else a[-self.capacity :] for a in batch))
            n = self.capacity
        # A slice when the batch fits before the end (the usual case), else wrapped indices.
        idx = (
            slice(self.pos, self.pos + n)
            if self.pos + n <= self.capacity
            else (self.pos + np.arange(n)) % self.capacity
        )
        self.obs[idx] = batch.obs
        self.next_obs[idx] = batch.next_obs
        self.action[idx] = batch.action
        self.reward[idx] = batch.reward
        self.discount[idx] = batch.discount
        if self.next_mask is not None:
            self.next_mask[idx] = True if batch.next_mask is None else batch.next_mask
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def get(self, idx: np.ndarray) -> Transitions:
        """The transitions at slots ``idx`` ``(n,)`` (copies)."""
        mask = None if self.next_mask is None else self.next_mask[idx]
        return Transitions(self.obs[idx], self.action[idx], self.reward[idx], self.discount[idx], self.next_obs[idx],
                           mask)  # fmt: skip

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """The filled part as tensors (for ``weights.pt``) plus the write position."""
        state: dict[str, torch.Tensor | int] = {"pos": self.pos, "size": self.size}
        for name in ("obs", "next_obs", "action", "reward", "discount", "next_mask"):
            array = getattr(self, name)
            if array is not None:
                state[name] = torch.from_numpy(np.ascontiguousarray(array[: self.size]))
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        """Restore what :meth:`state_dict` returned; shapes must match this buffer's."""
        size = int(state["size"])
        if size > self.capacity:
            raise ValueError(f"saved replay buffer holds {size} transitions, more than this buffer's {self.capacity}")
        for name in ("obs", "next_obs", "action", "reward", "discount", "next_mask"):
            array = getattr(self, name)
            if array is None:
                continue
            saved = state[name].numpy()
            if saved.shape[1:] != array.shape[1:]:
                raise ValueError(f"saved replay {name} has shape {saved.shape[1:]}, expected {array.shape[1:]}")
            array[:size] = saved
        self.pos, self.size = int(state["pos"]), size


class NStepWindow:
    """Turns the steps of ``num_envs`` parallel envs into n-step transitions (Sutton & Barto 2018, sec. 7.1).

    Each env keeps its last ``< n`` steps pending; a step that completes ``n`` emits the oldest with ``n`` rewards,
    and an episode end emits all pending steps with the rewards up to the end (bootstrapping from the final
    observation after a truncation, not at all after a termination). Everything is vectorised over envs; the only
    loop runs over the ``n`` offsets.
    """

    def __init__(self, n: int, gamma: float, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: np.dtype) -> None:
        self.n, self.gamma = int(n), float(gamma)
        self.obs = np.zeros((self.n, num_envs, *obs_shape), obs_dtype)  # ring over time, slot t % n
        self.action = np.zeros((self.n, num_envs), np.int64)
        self.reward = np.zeros((self.n, num_envs), np.float64)
        self.pending = np.zeros(num_envs, np.int64)  # steps waiting per env
        self.t = 0

    def push(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        next_obs: np.ndarray,
        next_mask: np.ndarray | None,
        terminated: np.ndarray,
        truncated: np.ndarray,
        valid: np.ndarray,
    ) -> Transitions:
        """Add one step of every env (``valid`` False: a vector env's autoreset step, not a transition) and return
        the transitions it completes."""
        if self.n == 1:  # the common case, without the ring
            if valid.all():
                return Transitions(obs, action, reward, self.gamma * (1.0 - terminated), next_obs, next_mask)
            keep = np.flatnonzero(valid)
            mask = None if next_mask is None else next_mask[keep]
            discount = self.gamma * (1.0 - terminated[keep])
            return Transitions(obs[keep], action[keep], reward[keep], discount, next_obs[keep], mask)
        slot = self.t % self.n
        self.obs[slot], self.action[slot], self.reward[slot] = obs, action, reward
        self.pending += valid
        ended = (terminated | truncated) & valid
        full = (self.pending == self.n) & ~ended
        out = self._emit(ended, full, next_obs, next_mask, terminated)
        self.pending[ended] = 0
        self.pending[full] = self.n - 1
        self.t += 1
        return out

    def flush(self, next_obs: np.ndarray, next_mask: np.ndarray | None) -> Transitions:
        """End every pending episode here as a truncation (bootstrapping from ``next_obs``); used when ``learn``
        returns, so a saved agent holds no half-built transition."""
        if self.n == 1:
            return _empty_like(next_obs, next_mask)
        ended = self.pending > 0
        self.t -= 1  # the last pushed step is the newest pending one
        out = self._emit(ended, np.zeros_like(ended), next_obs, next_mask, np.zeros_like(ended))
        self.t += 1
        self.pending[:] = 0
        return out

    def _emit(self, ended, full, next_obs, next_mask, terminated) -> Transitions:
        parts = []
        returns = np.zeros(len(self.pending))
        for offset in range(self.n):  # the pending step that started `offset` steps ago
            # returns = sum_{k <= offset} gamma^k r_{start + k}, built up from the newest reward backward
            returns = self.reward[(self.t - offset) % self.n] + self.gamma * returns
            chosen = (ended & (self.pending > offset)) | (full & (offset == self.n - 1))
            idx = np.flatnonzero(chosen)
            if idx.size == 0:
                continue
            start = (self.t - offset) % self.n
            discount = self.gamma ** (offset + 1) * (1.0 - terminated[idx])
            mask = None if next_mask is None else next_mask[idx]
            parts.append(Transitions(self.obs[start, idx], self.action[start, idx], returns[idx], discount,
                                     next_obs[idx], mask))  # fmt: skip
        if not parts:
            return _empty_like(next_obs, next_mask)
        mask = None if next_mask is None else np.concatenate([p.next_mask for p in parts])
        return Transitions(*(np.concatenate([getattr(p, f) for p in parts]) for f in Transitions._fields[:-1]), mask)


def _empty_like(next_obs: np.ndarray, next_mask: np.ndarray | None) -> Transitions:
    mask = None if next_mask is None else next_mask[:0]
    return Transitions(next_obs[:0], np.zeros(0, np.int64), np.zeros(0), np.zeros(0), next_obs[:0], mask)
