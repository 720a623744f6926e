"""The RUDDER agent: a return predictor moves each episode's return onto its decisive steps; a Q-learner learns from
the moved reward (Arjona-Medina et al., "RUDDER: Return Decomposition for Delayed Rewards", NeurIPS 2019).

```python
agent = make_agent("rudder", "repgym/Umbrella-v0", env_kwargs={"delay": 20}, seed=0)
agent.learn(30_000, progress_bar=True)
action, state = agent.predict(obs, state, episode_start)   # recurrent: pass the state back each step
agent.save("runs/rudder"); agent = load_agent("runs/rudder")  # resumes training where it stopped
```

Training, per env step: act epsilon-greedily on the Q-network (which reads the observation and, with
``memory_input``, the return predictor's LSTM state: the history so far), then step the predictor's LSTM on the
observation-action pair. Per finished episode: store it whole, and take ``predictor_updates`` gradient steps of the
return predictor on episodes replayed with priority to those it predicts worst. Every ``refresh_interval`` steps
(at an episode's end, and when ``learn`` starts): recompute every stored episode's redistributed rewards and
memories with the current predictor (:mod:`.redistribution`). Every ``train_freq`` steps: DQN updates on
transitions sampled from that table, with the distributional agent's heads, target and masked argmax.

An episode's last step bootstraps nothing, truncated or not: its whole return has been paid by then. The running
episode when ``learn`` returns is dropped (each ``learn`` starts new episodes), so ``save``/``load`` then ``learn``
continues exactly as ``learn`` on the original would.
"""

from __future__ import annotations

import copy
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from repgym.agents.averaging import average_into, averaged_copy
from repgym.agents.base import Agent, EnvLike
from repgym.agents.callbacks import as_callback
from repgym.agents.credit.config import RudderConfig
from repgym.agents.credit.episodes import Episode, EpisodeRecorder, EpisodeStore
from repgym.agents.credit.networks import MemoryQNetwork, ReturnPredictor
from repgym.agents.credit.redistribution import (
    Transitions,
    pad_episodes,
    predict_returns,
    predictor_errors,
    redistribute,
    redistributed_transitions,
)
from repgym.agents.distributional.agent import _crossed, at_actions, masked_argmax
from repgym.agents.distributional.heads import make_head
from repgym.agents.distributional.optim import FlatAdam, flatten_parameters
from repgym.agents.distributional.rollout import has_action_masks
from repgym.agents.logger import RunLogger
from repgym.agents.schedules import linear_schedule
from repgym.runs import Checkpoint

# h, c (1, n, hidden), the last prediction (1, n, 1) and the running maximum (1, n, W; W = 0 without memory_pool)
RecurrentState = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class RudderAgent(Agent):
    """Return decomposition with an LSTM return predictor, and a DQN on the redistributed reward.

    Args:
        env: a single env (not a vector env) with a ``Discrete(n)`` action space and a ``Box`` observation space:
            every delayed game (symbolic or pixels) and any env wrapped in ``DelayedReward``.
        seed: seeds the networks, exploration, episode replay and the env's episodes.
        env_kwargs: constructor arguments when ``env`` is an id.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
        log_dir: where TensorBoard and CSV logs go (None: no logs).
        **hyperparameters: fields of :class:`RudderConfig`.
    """

    name = "rudder"

    def __init__(
        self,
        env: EnvLike,
        seed: int | None = None,
        env_kwargs: dict[str, Any] | None = None,
        device: str | torch.device = "auto",
        log_dir: str | os.PathLike | None = None,
        **hyperparameters: Any,
    ) -> None:
        self.config = cfg = RudderConfig.from_kwargs(**hyperparameters)
        self._use_env(env, env_kwargs)
        if isinstance(self.env, gym.vector.VectorEnv):
            raise ValueError(f"the rudder agent learns from whole episodes of one env; got a vector env of "
                             f"{self.env.num_envs} (train with num_envs=1)")  # fmt: skip
        obs_space, act_space = self.env.observation_space, self.env.action_space
        if not isinstance(act_space, spaces.Discrete) or act_space.start != 0:
            raise ValueError(f"the rudder agent needs a Discrete(n) action space starting at 0, got {act_space}")
        if not isinstance(obs_space, spaces.Box):
            raise ValueError(f"the rudder agent needs a Box observation space, got {obs_space}")
        self.observation_space, self.n_actions = obs_space, int(act_space.n)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.seed = seed
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.rng = np.random.default_rng(seed)  # exploration, episode replay, Q batches, episode seeds

        dqn_config = cfg.dqn_config()
        self.head = make_head(dqn_config, self.device)
        with self._torch_rng():  # seed the initial weights without touching the global generator
            self.predictor = ReturnPredictor(obs_space, self.n_actions, cfg).to(self.device)
            self.q_net = MemoryQNetwork(obs_space, self.n_actions, self.head.n_outputs, cfg).to(self.device)
        self.target_net = copy.deepcopy(self.q_net).requires_grad_(False)
        # The Q-network that acts greedily (predict, evaluation, analysis): a running average of the trained one's
        # weights (q_averaging); exploration during training acts with the trained one.
        self.averaged_q = averaged_copy(self.q_net)
        # The predictor that redistributes, remembers and acts: a running average of the trained one's weights, so
        # that the credit does not jitter with each gradient step on noisy returns.
        self.averaged_predictor = averaged_copy(self.predictor)
        params, grads = flatten_parameters(self.q_net)
        self.q_optimizer = FlatAdam(params, grads, cfg.learning_rate, dqn_config.optimizer_eps)
        self.predictor_optimizer = torch.optim.Adam(self.predictor.parameters(), lr=cfg.predictor_lr)
        self.has_masks = has_action_masks(self.env)
        self._store = EpisodeStore(cfg.episode_capacity)
        self._store_source: Checkpoint | None = None  # a loaded checkpoint whose episodes are not read yet
        self.transitions: Transitions | None = None  # the redistributed replay table (rebuilt by _refresh)
        self._table: dict[str, torch.Tensor | None] = {}

        self.num_timesteps = 0  # env steps taken
        self.n_updates = 0  # Q gradient steps taken
        self.n_predictor_updates = 0  # return-predictor gradient steps taken
        self.n_episodes = 0  # episodes finished
        self.refreshed_at = 0  # step of the last refresh of the replay table
        self.episode_returns: deque[float] = deque(maxlen=100)
        self.episode_lengths: deque[int] = deque(maxlen=100)
        self.episode_successes: deque[bool] = deque(maxlen=100)
        self.logger: RunLogger | None = None
        self._losses = {"q": [0.0, 0], "predictor": [0.0, 0]}

    @property
    def store(self) -> EpisodeStore:
        """The stored episodes; a loaded agent reads them from its checkpoint here, on first use (only training and
        saving use them, so acting and analysis never load ``replay.pt``)."""
        if self._store_source is not None:
            episodes = self._store_source.resume_tensors().get("episodes")
            if episodes is not None:
                self._store.load_state_dict(episodes)
            self._store_source = None
        return self._store

    @property
    def exploration_rate(self) -> float:
        """Epsilon at the current step: linear from ``exploration_initial_eps`` to ``exploration_final_eps``."""
        cfg = self.config
        return linear_schedule(cfg.exploration_initial_eps, cfg.exploration_final_eps, self.num_timesteps,
                               cfg.exploration_steps)  # fmt: skip

    # -- learning --------------------------------------------------------------------------------------------------

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> RudderAgent:
        """Train for ``total_timesteps`` more env steps.

        ``callback``: a :class:`repgym.agents.callbacks.Callback`, a list of them or ``fn(agent) -> bool``;
        ``progress_bar``: show a rich progress bar."""
        if int(total_timesteps) < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        cfg = self.config
        callbacks = as_callback(callback, progress_bar)
        self.logger = RunLogger(self.log_dir) if self.log_dir is not None else None
        if len(self.store):
            self._refresh()  # the table reflects the predictor as it is now (a loaded agent rebuilds the same)
        recorder = EpisodeRecorder()
        obs, info = self.env.reset(seed=int(self.rng.integers(2**31 - 1)))
        mask = self._mask(info)
        recorder.start(obs, mask)
        state = self._initial_state(1)
        end = self.num_timesteps + int(total_timesteps)
        start_steps, start_time = self.num_timesteps, time.perf_counter()
        callbacks.on_training_start(self, int(total_timesteps))
        try:
            while self.num_timesteps < end:
                obs_batch = np.asarray(obs)[None]
                action = self._act(obs_batch, None if mask is None else mask[None], state, self.exploration_rate)
                state = self._remember(obs_batch, action, state)
                obs, reward, terminated, truncated, info = self.env.step(int(action[0]))
                mask = self._mask(info)
                recorder.step(int(action[0]), float(reward), obs, mask)
                before, self.num_timesteps = self.num_timesteps, self.num_timesteps + 1
                if terminated or truncated:
                    self._episode_done(recorder.finish(), info)
                    obs, info = self.env.reset()
                    mask = self._mask(info)
                    recorder.start(obs, mask)
                    state = self._initial_state(1)
                rounds = _crossed(before, self.num_timesteps, cfg.train_freq)
                if rounds and self.transitions is not None and self.num_timesteps >= cfg.learning_starts:
                    self._train_q(rounds * cfg.gradient_steps)
                if _crossed(before, self.num_timesteps, cfg.target_update_interval):
                    self.target_net.load_state_dict(self.q_net.state_dict())
                if self.logger is not None and _crossed(before, self.num_timesteps, cfg.log_interval):
                    self._log(start_steps, start_time)
                if not callbacks.on_step(self):
                    break
        finally:
            callbacks.on_training_end(self)
            if self.logger is not None:
                self._log(start_steps, start_time)  # a last row, so every learn call leaves one
                self.logger.close()
                self.logger = None
        return self

    def _episode_done(self, episode: Episode, info: dict[str, Any]) -> None:
        """Store a finished episode, train the predictor on stored ones, and refresh the table when it is due."""
        self.store.add(episode)
        self.n_episodes += 1
        self.episode_returns.append(episode.episode_return)
        self.episode_lengths.append(len(episode))
        if "success" in info:
            self.episode_successes.append(bool(info["success"]))
        self._train_predictor(self.config.predictor_updates)
        if self.transitions is None or self.num_timesteps - self.refreshed_at >= self.config.refresh_interval:
            self._refresh()

    def _train_predictor(self, gradient_steps: int) -> None:
        """Return-predictor steps: sample whole episodes (by priority), predict the return after every step, loss
        (:func:`~repgym.agents.credit.redistribution.predictor_errors`), Adam step; the episodes' errors update."""
        cfg, store = self.config, self.store
        for _ in range(gradient_steps):
            chosen = store.sample(self.rng, cfg.predictor_batch, cfg.lesson_priority)
            batch = pad_episodes([store.episodes[i] for i in chosen], self.device)
            predictions, _ = predict_returns(self.predictor, batch)
            errors = predictor_errors(predictions, batch, cfg.final_step_weight, self.predictor.predicts_remaining,
                                      cfg.predictor_lambda)  # fmt: skip
            loss = errors.mean()
            self.predictor_optimizer.zero_grad()
            loss.backward()
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.predictor.parameters(), cfg.max_grad_norm)
            self.predictor_optimizer.step()
            average_into(self.averaged_predictor, self.predictor, cfg.predictor_averaging)
            for i, error in zip(chosen, errors.detach().cpu().tolist(), strict=True):
                store.episodes[i].error = error
            self.n_predictor_updates += 1
            self._losses["predictor"][0] += float(loss.detach())
            self._losses["predictor"][1] += 1

    def _refresh(self) -> None:
        """Recompute every stored episode's redistributed rewards and memories with the current predictor."""
        episodes = list(self.store.episodes)
        cfg = self.config
        table, errors = redistributed_transitions(episodes, self.averaged_predictor, self.device,
                                                  cfg.final_step_weight, lam=cfg.predictor_lambda)  # fmt: skip
        for episode, error in zip(episodes, errors.tolist(), strict=True):
            episode.error = error
        self.transitions = table
        as_tensor = lambda a: None if a is None else torch.as_tensor(a, device=self.device)  # noqa: E731
        self._table = {"obs": as_tensor(table.obs), "memory": as_tensor(table.memory), "mask": as_tensor(table.mask)}
        self.refreshed_at = self.num_timesteps

    def _train_q(self, gradient_steps: int) -> None:
        """Q steps on the redistributed reward: sample, target, loss, step (as the distributional agent's)."""
        cfg, table = self.config, self.transitions
        obs, memory, masks = self._table["obs"], self._table["memory"], self._table["mask"]
        for _ in range(gradient_steps):
            # 1. Sample transitions of the redistributed table.
            rows = self.rng.integers(len(table.index), size=cfg.batch_size)
            here, there = torch.as_tensor(table.index[rows]), torch.as_tensor(table.next_index[rows])
            action = torch.as_tensor(table.action[rows], device=self.device)
            reward = torch.as_tensor(table.reward[rows], device=self.device)
            discount = torch.as_tensor(cfg.gamma * (1.0 - table.terminal[rows]), dtype=torch.float32,
                                       device=self.device)  # fmt: skip
            # 2. The target r~ + discount * Z(s', a*), a* the best legal next action (online net for double DQN).
            with torch.no_grad():
                next_outputs = self.target_net(obs[there], memory[there])
                chooser = self.q_net(obs[there], memory[there]) if cfg.double_dqn else next_outputs
                best = masked_argmax(self.head.q_values(chooser), None if masks is None else masks[there])
                target = self.head.target(at_actions(next_outputs, best), reward, discount)
            # 3. The head's loss at the actions taken, and 4. an Adam step on the clipped gradient.
            loss = self.head.loss(at_actions(self.q_net(obs[here], memory[here]), action), target).mean()
            self.q_optimizer.zero_grad()
            loss.backward()
            if cfg.max_grad_norm is not None:
                self.q_optimizer.clip_grad_norm_(cfg.max_grad_norm)
            self.q_optimizer.step()
            average_into(self.averaged_q, self.q_net, cfg.q_averaging)
            self.n_updates += 1
            self._losses["q"][0] += float(loss.detach())
            self._losses["q"][1] += 1

    def _log(self, start_steps: int, start_time: float) -> None:
        step, log = self.num_timesteps, self.logger
        log.record("time/steps_per_s", (step - start_steps) / max(time.perf_counter() - start_time, 1e-9), step)
        log.record("rollout/epsilon", self.exploration_rate, step)
        log.record("rollout/episodes", self.n_episodes, step)
        if self.episode_returns:
            log.record("rollout/episode_return", float(np.mean(self.episode_returns)), step)
            log.record("rollout/episode_length", float(np.mean(self.episode_lengths)), step)
        if self.episode_successes:
            log.record("rollout/success_rate", float(np.mean(self.episode_successes)), step)
        for name, (total, count) in self._losses.items():
            if count:
                log.record(f"train/{name}_loss", total / count, step)
        log.record("train/updates", self.n_updates, step)
        self._losses = {"q": [0.0, 0], "predictor": [0.0, 0]}

    # -- acting and looking ----------------------------------------------------------------------------------------

    def _initial_state(self, n: int) -> RecurrentState:
        hidden, pool = self.config.lstm_hidden, self.predictor.pool_width
        return (np.zeros((1, n, hidden), np.float32), np.zeros((1, n, hidden), np.float32),
                np.zeros((1, n, 1), np.float32), np.zeros((1, n, pool), np.float32))  # fmt: skip

    def _act(self, obs: np.ndarray, mask: np.ndarray | None, state: RecurrentState, epsilon: float) -> np.ndarray:
        """Epsilon-greedy legal actions ``(n,)`` for observations ``(n, *obs_shape)`` with memories ``state``."""
        n = obs.shape[0]
        u = self.rng.random((n, 2))
        explore = u[:, 0] < epsilon
        if mask is None:
            random_action = np.minimum((u[:, 1] * self.n_actions).astype(np.int64), self.n_actions - 1)
        else:
            scores = self.rng.random((n, self.n_actions))
            random_action = np.where(mask.any(axis=1, keepdims=True), np.where(mask, scores, -1.0), scores).argmax(1)
        if explore.all():
            return random_action
        return np.where(explore, random_action, self._greedy(obs, mask, state, self.q_net))

    def _greedy(
        self, obs: np.ndarray, mask: np.ndarray | None, state: RecurrentState, net: torch.nn.Module | None = None
    ) -> np.ndarray:
        """Greedy legal actions of ``net`` (default: the averaged Q-network, which acts when not exploring)."""
        net = self.averaged_q if net is None else net
        with torch.no_grad():
            memory = torch.as_tensor(state[0][0], device=self.device)
            q = self.head.q_values(net(torch.as_tensor(obs, device=self.device), memory))
            m = None if mask is None else torch.as_tensor(mask, device=self.device)
            return masked_argmax(q, m).cpu().numpy()

    def _remember(self, obs: np.ndarray, action: np.ndarray, state: RecurrentState) -> RecurrentState:
        """Step the predictor's LSTM on ``(obs, action)`` ``(n, ...)``, ``(n,)``: the next state, whose last entry
        is the new return prediction (the credit module sees it against the previous one). With
        ``predict_remaining`` both are of the return still to come (acting sees no rewards), so the credit seen here
        is what the predictor moved, without the rewards paid where they were received."""
        with torch.no_grad():
            h, c, previous, pooled = (torch.as_tensor(s, device=self.device) for s in state)
            obs_t = torch.as_tensor(obs, device=self.device)[:, None]
            actions = torch.as_tensor(action, dtype=torch.int64, device=self.device)[:, None]
            predictor_state = (h.contiguous(), c.contiguous(), pooled)
            predictions, _, (h, c, pooled) = self.averaged_predictor(obs_t, actions, predictor_state)
            self.averaged_predictor.credit(predictions, previous[0, :, 0])
        return h.cpu().numpy(), c.cpu().numpy(), predictions[None].cpu().numpy(), pooled.cpu().numpy()

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Action(s) for one observation (a 0-d array) or a batch ``(n, *obs_shape)`` (``(n,)``), and the next
        recurrent state ``(h, c, g, p)`` (``(1, n, hidden)``, ``(1, n, hidden)``, ``(1, n, 1)``, ``(1, n, W)``: the
        LSTM, the last return prediction and the running maximum, ``W = 0`` without ``memory_pool``) to pass back on
        the next step; ``state=None`` or ``episode_start`` ``(n,) bool`` starts an episode. Greedy, or with
        ``deterministic=False`` epsilon-greedy at the current epsilon; legal under ``action_masks`` ``(A,)`` or
        ``(n, A)`` when given. Runs the memory (LSTM) and the credit module once per observation."""
        obs, single = self._as_batch(observation)
        n = obs.shape[0]
        mask = None
        if action_masks is not None:
            mask = np.asarray(action_masks, dtype=bool)
            if mask.size != n * self.n_actions:
                raise ValueError(f"action_masks must hold {self.n_actions} entries per observation, "
                                 f"got shape {mask.shape} for {n} observation(s)")  # fmt: skip
            mask = mask.reshape(n, self.n_actions)
        state = self._check_state(state, n, episode_start)
        action = self._greedy(obs, mask, state) if deterministic else self._act(obs, mask, state, self.exploration_rate)
        state = self._remember(obs, action, state)
        return (action[0] if single else action), state

    def _check_state(self, state: Any, n: int, episode_start: np.ndarray | None) -> RecurrentState:
        if state is None:
            return self._initial_state(n)
        try:
            h, c, g, p = (np.asarray(s, dtype=np.float32) for s in state)
        except (TypeError, ValueError):
            raise ValueError("state must be the (h, c, g, p) that predict returned, or None") from None
        expected = [s.shape for s in self._initial_state(n)]
        if [h.shape, c.shape, g.shape, p.shape] != expected:
            raise ValueError(f"state must be (h, c, g, p) of shapes {', '.join(map(str, expected))} for {n} "
                             f"observation(s), got {h.shape}, {c.shape}, {g.shape}, {p.shape}")  # fmt: skip
        if episode_start is not None:
            keep = ~np.asarray(episode_start, dtype=bool).reshape(n)
            h, c, g, p = (s * keep[None, :, None] for s in (h, c, g, p))
        return h, c, g, p

    def _as_batch(self, observation: np.ndarray) -> tuple[np.ndarray, bool]:
        obs = np.asarray(observation)
        shape = self.observation_space.shape
        if obs.shape == shape:
            return obs[None], True
        if obs.shape[1:] == shape:
            return obs, False
        raise ValueError(f"observation must have shape {shape} or (n, *{shape}), got {obs.shape}")

    def _mask(self, info: dict[str, Any]) -> np.ndarray | None:
        if not self.has_masks:
            return None
        mask = info.get("action_mask")
        if mask is None:
            mask = self.env.get_wrapper_attr("action_masks")()
        return np.asarray(mask, dtype=bool)

    def redistribution(self, episodes: list[Episode]) -> list[np.ndarray]:
        """The redistributed reward per step ``(T,)`` of each episode under the current predictor (the credit plus,
        at the last step, the return it leaves unexplained)."""
        if not episodes:
            raise ValueError("redistribution needs at least one episode")
        with torch.no_grad():
            batch = pad_episodes(episodes, self.device)
            predictions, _ = predict_returns(self.averaged_predictor, batch)
            rewards = redistribute(predictions, self.averaged_predictor.credit(predictions), batch).cpu().numpy()
        return [rewards[i, : len(e)] for i, e in enumerate(episodes)]

    def predictor_loss(self, episodes: list[Episode]) -> float:
        """The (averaged) return predictor's mean loss on ``episodes`` (what its training lowers)."""
        if not episodes:
            raise ValueError("predictor_loss needs at least one episode")
        with torch.no_grad():
            batch = pad_episodes(episodes, self.device)
            predictions, _ = predict_returns(self.averaged_predictor, batch)
            cfg = self.config
            errors = predictor_errors(predictions, batch, cfg.final_step_weight,
                                      self.averaged_predictor.predicts_remaining, cfg.predictor_lambda)  # fmt: skip
            return float(errors.mean())

    def latent_modules(self) -> dict[str, torch.nn.Module]:
        """The memory (``memory``: the predictor's LSTM; ``memory.h``/``memory.c`` are its state; with
        ``memory_pool`` also ``memory_pool``, the running maximum), the return prediction (``return_prediction``),
        the credit signal (``credit``: the redistributed reward of each step), and the acting (averaged) Q-network's
        encoder (``q.encoder``) and head (``q.head``)."""
        acting = self.averaged_predictor
        modules = {"memory": acting.lstm, "return_prediction": acting.output, "credit": acting.credit,
                   "q.encoder": self.averaged_q.encoder, "q.head": self.averaged_q.head}  # fmt: skip
        if acting.pool is not None:
            modules["memory_pool"] = acting.pool
        return modules

    # -- checkpoints -----------------------------------------------------------------------------------------------

    def _save_hyperparameters(self) -> dict[str, Any]:
        return self.config.to_dict()

    def _save_meta(self) -> dict[str, Any]:
        return {
            "n_updates": self.n_updates,
            "n_predictor_updates": self.n_predictor_updates,
            "n_episodes": self.n_episodes,
            "refreshed_at": self.refreshed_at,
            "rng_state": self.rng.bit_generator.state,
            "episode_returns": list(self.episode_returns),
            "episode_lengths": list(self.episode_lengths),
            "episode_successes": list(self.episode_successes),
        }

    def _save_tensors(self) -> dict[str, Any]:
        return {
            "predictor": self.predictor.state_dict(),
            "averaged_predictor": self.averaged_predictor.state_dict(),
            "q_net": self.q_net.state_dict(),
            "averaged_q": self.averaged_q.state_dict(),
            "target_net": self.target_net.state_dict(),
            "q_optimizer": self.q_optimizer.state_dict(),
            "predictor_optimizer": self.predictor_optimizer.state_dict(),
        }

    def _save_resume_tensors(self) -> dict[str, Any]:
        return {"episodes": self.store.state_dict()}

    def _restore(self, checkpoint: Checkpoint) -> None:
        meta, tensors = checkpoint.meta, checkpoint.tensors()
        self.predictor.load_state_dict(tensors["predictor"])
        self.averaged_predictor.load_state_dict(tensors["averaged_predictor"])
        self.q_net.load_state_dict(tensors["q_net"])
        self.averaged_q.load_state_dict(tensors.get("averaged_q", tensors["q_net"]))  # older checkpoints lack it
        self.target_net.load_state_dict(tensors["target_net"])
        self.q_optimizer.load_state_dict(tensors["q_optimizer"])
        self.predictor_optimizer.load_state_dict(tensors["predictor_optimizer"])
        self._store_source = checkpoint  # read on the store's first use (see store)
        self.rng.bit_generator.state = meta["rng_state"]
        self.n_updates = int(meta["n_updates"])
        self.n_predictor_updates = int(meta["n_predictor_updates"])
        self.n_episodes = int(meta["n_episodes"])
        self.refreshed_at = int(meta["refreshed_at"])
        self.episode_returns.extend(meta["episode_returns"])
        self.episode_lengths.extend(meta["episode_lengths"])
        self.episode_successes.extend(meta["episode_successes"])
