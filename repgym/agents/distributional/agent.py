"""The distributional DQN agent: one learner, four heads (C51, QR, expectile, mean), action masks everywhere.

```python
agent = make_agent("qr-dqn", "CartPole-v1", seed=0, learning_rate=2.3e-3, batch_size=64)
agent.learn(50_000, progress_bar=True)
action, _ = agent.predict(obs, deterministic=True, action_masks=info.get("action_mask"))
agent.save("runs/qr"); agent = load_agent("runs/qr")       # resumes training exactly where it stopped
```

The replay buffer is saved apart (``replay.pt``) and a loaded agent reads it only when training resumes (the first
use of :attr:`DistributionalDQN.buffer`), so acting and analysis never load it.

Masks (``info["action_mask"]`` / ``action_masks()``) are used when acting (epsilon-greedy samples legal actions only),
stored with each transition's next state, and applied to the Q-values computed from the distribution in the target's
argmax; the distribution itself is never masked, so no ``-inf`` reaches a loss.
"""

from __future__ import annotations

import copy
import os
import time
from collections import deque
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from repgym.agents.base import Agent, EnvLike
from repgym.agents.callbacks import as_callback
from repgym.agents.distributional.augment import make_augmentation
from repgym.agents.distributional.config import DQNConfig
from repgym.agents.distributional.distributions import ReturnDistribution
from repgym.agents.distributional.heads import make_head
from repgym.agents.distributional.networks import QNetwork
from repgym.agents.distributional.optim import FlatAdam, flatten_parameters
from repgym.agents.distributional.replay import NStepWindow, ReplayBuffer
from repgym.agents.distributional.rollout import EpisodeStats, Rollout, has_action_masks
from repgym.agents.logger import RunLogger
from repgym.agents.schedules import linear_schedule
from repgym.runs import Checkpoint

AGENT_NAMES = {"c51": "c51-dqn", "qr": "qr-dqn", "expectile": "expectile-dqn", "mean": "dqn"}
TARGET_PASS_ROWS = 512  # rows per target-net pass in a training round (larger passes fall out of cache)


class Batch(NamedTuple):
    """A sampled batch as tensors: ``obs``/``next_obs`` ``(B, *obs_shape)``, ``action`` ``(B,)`` int64,
    ``reward``/``discount`` ``(B,)`` float32, ``next_mask`` ``(B, A)`` bool or None."""

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    discount: torch.Tensor
    next_obs: torch.Tensor
    next_mask: torch.Tensor | None

    def rows(self, rows: slice) -> Batch:
        """The transitions in ``rows`` (views)."""
        return Batch(*(None if x is None else x[rows] for x in self))


def _take_rows(target: Any, rows: slice) -> Any:
    """Rows of a head's target: a tensor or a tuple of tensors with the batch first."""
    return tuple(t[rows] for t in target) if isinstance(target, tuple) else target[rows]


def masked_argmax(q_values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``(B,)`` best action per row of ``q_values`` ``(B, A)`` among ``mask`` ``(B, A)`` (a row with no legal
    action — a terminal state — falls back to all actions; its value is discounted to 0 anyway)."""
    if mask is None:
        return q_values.argmax(dim=1)
    mask = mask | ~mask.any(dim=1, keepdim=True)
    return q_values.masked_fill(~mask, float("-inf")).argmax(dim=1)


def at_actions(outputs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """``(B, K)``: the outputs ``(B, A, K)`` of each row's action ``(B,)``."""
    return outputs.gather(1, actions.view(-1, 1, 1).expand(-1, 1, outputs.shape[2])).squeeze(1)


class DistributionalDQN(Agent):
    """DQN whose head is a choice: ``"c51"``, ``"qr"``, ``"expectile"`` or ``"mean"`` (see :class:`DQNConfig`).

    Args:
        env: a discrete-action env: an instance, a Gymnasium vector env (e.g. ``gym.make_vec(...)``, including
            Bubble Breaker's native one) or a registered id.
        head: the head (``make_agent("c51-dqn" | "qr-dqn" | "expectile-dqn" | "dqn", ...)`` sets it).
        seed: seeds the network, exploration, replay sampling and the env's episodes.
        env_kwargs: constructor arguments when ``env`` is an id.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
        log_dir: where TensorBoard and CSV logs go (None: no logs).
        **hyperparameters: fields of :class:`DQNConfig`.

    Each ``learn`` call starts new episodes (seeded from the agent's generator) and ends them as truncations when
    it returns, so ``save``/``load`` then ``learn`` continues exactly as ``learn`` on the original would: a checkpoint
    holds the networks, optimiser, generator state and counters, and the replay buffer in ``replay.pt`` (left out
    with ``save(path, include_resume_state=False)``). Saved from inside ``learn`` (a ``CheckpointCallback``), it
    misses the running episodes' last ``n_steps - 1`` transitions, and the resumed run starts new episodes.
    """

    def __init__(
        self,
        env: EnvLike,
        head: str = "qr",
        seed: int | None = None,
        env_kwargs: dict[str, Any] | None = None,
        device: str | torch.device = "auto",
        log_dir: str | os.PathLike | None = None,
        **hyperparameters: Any,
    ) -> None:
        self.config = DQNConfig.from_kwargs(head=head, **hyperparameters)
        self._use_env(env, env_kwargs)
        self.vector = isinstance(self.env, gym.vector.VectorEnv)
        self.num_envs = self.env.num_envs if self.vector else 1
        obs_space = self.env.single_observation_space if self.vector else self.env.observation_space
        act_space = self.env.single_action_space if self.vector else self.env.action_space
        if not isinstance(act_space, spaces.Discrete) or act_space.start != 0:
            raise ValueError(f"the DQN agent needs a Discrete(n) action space starting at 0, got {act_space}")
        if not isinstance(obs_space, spaces.Box):
            raise ValueError(f"the DQN agent needs a Box observation space, got {obs_space}")
        self.observation_space, self.n_actions = obs_space, int(act_space.n)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.seed = seed
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.rng = np.random.default_rng(seed)  # exploration, replay sampling, augmentation, episode seeds

        self.head = make_head(self.config, self.device)
        with self._torch_rng():  # seed the initial weights without touching the global generator
            self.q_net = QNetwork(obs_space, self.n_actions, self.head.n_outputs, self.config).to(self.device)
        self.target_net = copy.deepcopy(self.q_net)
        # Parameters and gradients live in flat buffers: Adam, clipping and target updates are a few tensor ops.
        params, grads = flatten_parameters(self.q_net)
        self.target_params, _ = flatten_parameters(self.target_net.requires_grad_(False), with_grads=False)
        self.optimizer = FlatAdam(params, grads, self.config.learning_rate, self.config.optimizer_eps)
        self.augment = make_augmentation(self.config.augmentation, self.env)
        masks = has_action_masks(self.env)
        self._buffer = ReplayBuffer(self.config.buffer_size, obs_space.shape, obs_space.dtype, self.n_actions, masks)
        self._replay_source: Checkpoint | None = None  # a loaded checkpoint whose buffer is not read yet

        self.num_timesteps = 0  # env steps taken (all envs together)
        self.n_updates = 0  # gradient steps taken
        self.n_episodes = 0  # episodes finished
        self.illegal_actions = 0  # info["illegal_action"] seen while learning (0 when masks are respected)
        self.episode_returns: deque[float] = deque(maxlen=100)
        self.episode_lengths: deque[int] = deque(maxlen=100)
        self.logger: RunLogger | None = None
        self._loss_sum = torch.zeros((), device=self.device)
        self._loss_count = 0

    def __deepcopy__(self, memo: dict[int, Any]) -> DistributionalDQN:
        """A deep copy whose parameters are views into its own flat buffers again: a plain deep copy clones each
        parameter on its own, and the copy's optimiser would then step a buffer that no layer reads."""
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            setattr(clone, key, copy.deepcopy(value, memo))
        frozen = [p for p in clone.q_net.parameters() if not p.requires_grad]
        clone.q_net.requires_grad_(True)  # flatten_parameters gives every parameter a gradient view
        params, grads = flatten_parameters(clone.q_net)
        for p in frozen:
            p.requires_grad_(False)
        clone.optimizer.params, clone.optimizer.grads = params, grads
        clone.target_params, _ = flatten_parameters(clone.target_net, with_grads=False)
        return clone

    @property
    def name(self) -> str:  # type: ignore[override]
        """The registry name: ``c51-dqn``, ``qr-dqn``, ``expectile-dqn`` or ``dqn``."""
        return AGENT_NAMES[self.config.head]

    @property
    def buffer(self) -> ReplayBuffer:
        """The replay buffer. A loaded agent reads it from its checkpoint here, on first use: only training and saving
        use it, so acting and analysis never load ``replay.pt``."""
        if self._replay_source is not None:
            replay = self._replay_source.resume_tensors().get("replay")
            if replay is not None:
                self._buffer.load_state_dict(replay)
            self._replay_source = None
        return self._buffer

    @property
    def exploration_rate(self) -> float:
        """Epsilon at the current step: linear from ``exploration_initial_eps`` to ``exploration_final_eps``."""
        cfg = self.config
        return linear_schedule(cfg.exploration_initial_eps, cfg.exploration_final_eps, self.num_timesteps,
                               cfg.exploration_steps)  # fmt: skip

    # -- learning --------------------------------------------------------------------------------------------------

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> DistributionalDQN:
        """Train for ``total_timesteps`` more env steps (a vector env's step counts ``num_envs``).

        ``callback``: a :class:`repgym.agents.callbacks.Callback`, a list of them or ``fn(agent) -> bool``;
        ``progress_bar``: show a rich progress bar."""
        if int(total_timesteps) < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        cfg = self.config
        callbacks = as_callback(callback, progress_bar)
        self.logger = RunLogger(self.log_dir) if self.log_dir is not None else None
        rollout = Rollout(self.env)
        window = NStepWindow(cfg.n_steps, cfg.gamma, self.num_envs, self.observation_space.shape,
                             self.observation_space.dtype)  # fmt: skip
        obs, mask = rollout.reset(seed=int(self.rng.integers(2**31 - 1)))
        episodes = EpisodeStats(self.num_envs, self.episode_returns, self.episode_lengths)
        end = self.num_timesteps + int(total_timesteps)
        start_steps, start_time = self.num_timesteps, time.perf_counter()
        callbacks.on_training_start(self, int(total_timesteps))
        try:
            while self.num_timesteps < end:
                action = self._act(obs, mask, self.exploration_rate)
                step = rollout.step(action)
                before, self.num_timesteps = self.num_timesteps, self.num_timesteps + self.num_envs
                self.buffer.add(window.push(obs, action, step.reward, step.next_obs, step.next_mask,
                                            step.terminated, step.truncated, step.valid))  # fmt: skip
                obs, mask = step.obs, step.mask
                self.n_episodes += episodes.update(step)
                if step.illegal is not None:
                    self.illegal_actions += int((step.illegal & step.valid).sum())
                # Training rounds, target updates and logs at the multiples of their intervals that were crossed.
                rounds = _crossed(before, self.num_timesteps, cfg.train_freq)
                if rounds and self.num_timesteps >= cfg.learning_starts and self.buffer.size >= cfg.batch_size:
                    self._train(rounds * cfg.gradient_steps)
                if _crossed(before, self.num_timesteps, cfg.target_update_interval):
                    self._update_target()
                if self.logger is not None and _crossed(before, self.num_timesteps, cfg.log_interval):
                    self._log(start_steps, start_time)
                if not callbacks.on_step(self):
                    break
        finally:
            self.buffer.add(window.flush(obs, mask))
            callbacks.on_training_end(self)
            if self.logger is not None:
                self._log(start_steps, start_time)  # a last row, so every learn call leaves one
                self.logger.close()
                self.logger = None
        return self

    def _train(self, gradient_steps: int) -> None:
        """A training round of ``gradient_steps`` gradient steps: sample, target, loss, step.

        Neither the buffer nor the target net changes during a round, so batches are sampled a few at a time and the
        target net evaluates their next states in one pass; without double DQN nothing else enters the targets, so
        they are computed in that pass too (on a CPU, small networks cost more in per-call overhead than in
        arithmetic, and passes of about 512 rows are the cheapest per row)."""
        cfg = self.config
        per_pass = max(1, TARGET_PASS_ROWS // cfg.batch_size)
        for first in range(0, gradient_steps, per_pass):
            n = min(per_pass, gradient_steps - first)
            # 1. Sample n batches (augmented, if configured).
            batches = self._sample(n * cfg.batch_size)
            with torch.no_grad():
                next_outputs = self.target_net(batches.next_obs)  # (n * B, A, K)
                targets = None if cfg.double_dqn else self._target(batches, next_outputs)
            for i in range(n):
                rows = slice(i * cfg.batch_size, (i + 1) * cfg.batch_size)
                batch = batches.rows(rows)
                if targets is None:  # double DQN: the online net that picks a* changes every step
                    with torch.no_grad():
                        target = self._target(batch, next_outputs[rows])
                else:
                    target = _take_rows(targets, rows)
                self._gradient_step(batch, target)

    def _target(self, batch: Batch, next_outputs: torch.Tensor) -> Any:
        """2. The bootstrapped target ``r + discount * Z(s', a*)`` (the head's form of it), ``a*`` the next state's
        best *legal* action: chosen on Q-values computed from the distribution (by the online net for double DQN)
        with the mask applied to those Q-values, never to the distribution. ``next_outputs`` ``(B, A, K)``: the
        target net at ``batch.next_obs``."""
        chooser = self.q_net(batch.next_obs) if self.config.double_dqn else next_outputs
        next_action = masked_argmax(self.head.q_values(chooser), batch.next_mask)  # (B,)
        return self.head.target(at_actions(next_outputs, next_action), batch.reward, batch.discount)

    def _gradient_step(self, batch: Batch, target: Any) -> None:
        """3. The head's loss of the predictions at the actions taken, and 4. an Adam step on the clipped gradient."""
        outputs = at_actions(self.q_net(batch.obs), batch.action)  # (B, K)
        loss = self.head.loss(outputs, target).mean()
        self.optimizer.zero_grad()
        loss.backward()
        if self.config.max_grad_norm is not None:
            self.optimizer.clip_grad_norm_(self.config.max_grad_norm)
        self.optimizer.step()
        self.n_updates += 1
        self._loss_sum += loss.detach()
        self._loss_count += 1

    def _sample(self, batch_size: int) -> Batch:
        """``batch_size`` transitions drawn uniformly (with replacement) from the buffer, as tensors (augmented,
        if configured: ``obs`` and ``next_obs`` of a transition changed alike)."""
        t = self.buffer.get(self.rng.integers(0, self.buffer.size, size=batch_size))
        obs, next_obs = t.obs, t.next_obs
        if self.augment is not None:
            obs, next_obs = self.augment(obs, next_obs, self.rng)
        dev = self.device
        return Batch(
            torch.as_tensor(obs, device=dev), torch.as_tensor(t.action, device=dev),
            torch.as_tensor(t.reward, device=dev), torch.as_tensor(t.discount, device=dev),
            torch.as_tensor(next_obs, device=dev),
            None if t.next_mask is None else torch.as_tensor(t.next_mask, device=dev),
        )  # fmt: skip

    def _update_target(self) -> None:
        """Target <- tau * online + (1 - tau) * target (a copy when tau = 1)."""
        with torch.no_grad():
            if self.config.tau == 1.0:
                self.target_params.copy_(self.optimizer.params)
            else:
                self.target_params.lerp_(self.optimizer.params, self.config.tau)

    def _act(self, obs: np.ndarray, mask: np.ndarray | None, epsilon: float) -> np.ndarray:
        """Epsilon-greedy actions ``(E,)`` for observations ``(E, ...)``, legal under ``mask`` ``(E, A)``.

        One draw of uniforms per call, whichever branch is taken, so the generator's stream (and with it a resumed
        run) does not depend on the branch: per env, one decides whether to explore, the rest pick the random
        action (uniform over the legal actions; over all actions when none is legal)."""
        n = obs.shape[0]
        u = self.rng.random((n, 2 if mask is None else 1 + self.n_actions))
        explore = u[:, 0] < epsilon
        if mask is None:
            random_action = np.minimum((u[:, 1] * self.n_actions).astype(np.int64), self.n_actions - 1)
        else:
            scores = u[:, 1:]
            random_action = np.where(mask.any(axis=1, keepdims=True), np.where(mask, scores, -1.0), scores).argmax(1)
        if explore.all():
            return random_action
        return np.where(explore, random_action, self._greedy(obs, mask))

    def _greedy(self, obs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Best legal actions ``(E,)`` under the online net."""
        with torch.no_grad():
            q = self.head.q_values(self.q_net(torch.as_tensor(obs).to(self.device)))
            m = None if mask is None else torch.as_tensor(mask).to(self.device)
            return masked_argmax(q, m).cpu().numpy()

    def _log(self, start_steps: int, start_time: float) -> None:
        step = self.num_timesteps
        rate = (step - start_steps) / max(time.perf_counter() - start_time, 1e-9)
        self.logger.record("time/steps_per_s", rate, step)
        self.logger.record("rollout/epsilon", self.exploration_rate, step)
        self.logger.record("rollout/episodes", self.n_episodes, step)
        self.logger.record("rollout/illegal_actions", self.illegal_actions, step)
        if self.episode_returns:
            self.logger.record("rollout/episode_return", float(np.mean(self.episode_returns)), step)
            self.logger.record("rollout/episode_length", float(np.mean(self.episode_lengths)), step)
        if self._loss_count:
            self.logger.record("train/loss", float(self._loss_sum) / self._loss_count, step)
            self.logger.record("train/updates", self.n_updates, step)
            self._loss_sum.zero_()
            self._loss_count = 0

    # -- acting and looking ----------------------------------------------------------------------------------------

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Greedy (or, with ``deterministic=False``, epsilon-greedy at the current epsilon, drawing from the agent's
        generator) actions for one observation (returns a 0-d array) or a batch ``(n, *obs_shape)`` (returns
        ``(n,)``), legal under ``action_masks`` ``(A,)`` or ``(n, A)`` when given. ``state`` is returned as None."""
        obs, single = self._as_batch(observation)
        mask = None
        if action_masks is not None:
            mask = np.asarray(action_masks, dtype=bool)
            if mask.size != obs.shape[0] * self.n_actions:
                raise ValueError(f"action_masks must hold {self.n_actions} entries per observation, "
                                 f"got shape {mask.shape} for {obs.shape[0]} observation(s)")  # fmt: skip
            mask = mask.reshape(obs.shape[0], self.n_actions)
        action = self._greedy(obs, mask) if deterministic else self._act(obs, mask, self.exploration_rate)
        return (action[0] if single else action), None

    def return_distribution(self, observation: np.ndarray) -> ReturnDistribution:
        """Per-action return distributions at one observation (see :mod:`.plot` to draw them)."""
        obs, single = self._as_batch(observation)
        if not single:
            raise ValueError(f"return_distribution takes one observation of shape {self.observation_space.shape}, "
                             f"got shape {np.shape(observation)}")  # fmt: skip
        with torch.inference_mode():
            outputs = self.q_net(torch.as_tensor(obs, device=self.device))
            values, probs = self.head.distribution(outputs[0])
            q = self.head.q_values(outputs)[0]
        return ReturnDistribution(values.cpu().numpy().astype(np.float64), probs.cpu().numpy().astype(np.float64),
                                  q.cpu().numpy().astype(np.float64), self.config.head)  # fmt: skip

    def latent_modules(self) -> dict[str, torch.nn.Module]:
        """The online net's torso layers (``torso.fc1``, ``torso.relu1``... or ``torso.conv1``...) and ``head``."""
        return self.q_net.latent_modules()

    def _as_batch(self, observation: np.ndarray) -> tuple[np.ndarray, bool]:
        obs = np.asarray(observation)
        shape = self.observation_space.shape
        if obs.shape == shape:
            return obs[None], True
        if obs.shape[1:] == shape:
            return obs, False
        raise ValueError(f"observation must have shape {shape} or (n, *{shape}), got {obs.shape}")

    # -- checkpoints -----------------------------------------------------------------------------------------------

    def _save_hyperparameters(self) -> dict[str, Any]:
        return self.config.to_dict()

    def _save_meta(self) -> dict[str, Any]:
        return {
            "n_updates": self.n_updates,
            "n_episodes": self.n_episodes,
            "illegal_actions": self.illegal_actions,
            "rng_state": self.rng.bit_generator.state,
            "episode_returns": list(self.episode_returns),
            "episode_lengths": list(self.episode_lengths),
        }

    def _save_tensors(self) -> dict[str, Any]:
        return {
            "q_net": self.q_net.state_dict(),
            "target_net": self.target_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def _save_resume_tensors(self) -> dict[str, Any]:
        return {"replay": self.buffer.state_dict()}

    def _restore(self, checkpoint: Checkpoint) -> None:
        meta, tensors = checkpoint.meta, checkpoint.tensors()
        self.q_net.load_state_dict(tensors["q_net"])
        self.target_net.load_state_dict(tensors["target_net"])
        self.optimizer.load_state_dict(tensors["optimizer"])
        self._replay_source = checkpoint  # read on the buffer's first use (see buffer)
        self.rng.bit_generator.state = meta["rng_state"]
        self.n_updates = int(meta["n_updates"])
        self.n_episodes = int(meta["n_episodes"])
        self.illegal_actions = int(meta.get("illegal_actions", 0))
        self.episode_returns.extend(meta.get("episode_returns", []))
        self.episode_lengths.extend(meta.get("episode_lengths", []))


def _crossed(before: int, after: int, interval: int) -> int:
    """How many multiples of ``interval`` lie in ``(before, after]``."""
    return after // interval - before // interval
