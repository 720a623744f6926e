"""``DistilledPolicyAgent``: a policy network that acts without search, distilled from a look-ahead teacher."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from repgym.agents.base import Agent, EnvLike
from repgym.agents.callbacks import learning_session
from repgym.agents.distill.config import DistillConfig
from repgym.agents.distill.learning import Dagger, Teacher, best_moves, sample_moves
from repgym.agents.distill.network import PolicyNet, policy_planes
from repgym.agents.logger import RunLogger
from repgym.agents.lookahead.agent import env_rules, load_value, observed_boards
from repgym.agents.lookahead.engine import make_engine
from repgym.agents.schedules import linear_schedule
from repgym.envs.bubble import rules
from repgym.envs.bubble.rules import BubbleConfig
from repgym.runs import Checkpoint


class DistilledPolicyAgent(Agent):
    """One forward pass per move: no rules simulated and no search when acting (see :mod:`repgym.agents.distill`).

    Args:
        env: a deterministic Bubble Breaker / SameGame env (instance, vector env or registered id).
        seed: seeds the network's initialisation, the games and the sampling.
        engine: ``"auto"``, ``"numba"`` or ``"numpy"``: how the *teacher* expands moves while training.
        env_kwargs: constructor arguments when ``env`` is an id.
        log_dir: folder for training logs (TensorBoard and ``metrics.csv``).
        **hyperparameters: fields of :class:`DistillConfig`; ``teacher`` (a lookahead checkpoint folder or
            ``zoo:NAME`` for the same rules) is needed to learn, not to act.
    """

    name = "distill"
    # The network is built for the rules (checked on load), not for one observation mode: planes or board.
    checked_spaces = ("action",)

    def __init__(
        self,
        env: EnvLike,
        seed: int | None = None,
        engine: str = "auto",
        env_kwargs: dict[str, Any] | None = None,
        log_dir: str | None = None,
        **hyperparameters: Any,
    ) -> None:
        fields = {f.name for f in dataclasses.fields(DistillConfig)}
        unknown = sorted(set(hyperparameters) - fields)
        if unknown:
            raise ValueError(f"unknown distill hyperparameter(s) {unknown}; expected some of {sorted(fields)}")
        self._use_env(env, env_kwargs)
        self.config = env_rules(self.env)
        self.hp = DistillConfig(**hyperparameters)
        self.seed = seed
        self.engine_kind = engine
        self.log_dir = log_dir
        self.rng = np.random.default_rng(seed)
        with self._torch_rng():
            self.net = PolicyNet.for_rules(self.config, self.hp.channels, self.hp.blocks)
        spec = getattr(self.env, "spec", None)
        self._dagger = Dagger(self.net, self.config, self.hp, self.rng, getattr(spec, "max_episode_steps", None))
        self.num_timesteps = 0
        self.teacher_mix = self.hp.teacher_mix_start
        self.logger: RunLogger | None = None

    # -- training ---------------------------------------------------------------------------------------------------

    def _teacher(self) -> Teacher:
        if not self.hp.teacher:
            raise ValueError("the distill agent learns from a teacher: pass teacher=CHECKPOINT (a lookahead "
                             "checkpoint for these rules, e.g. --set teacher=zoo:lookahead-bb)")  # fmt: skip
        value = load_value(self.hp.teacher)
        value.check_rules(self.config)
        return Teacher(value, make_engine(self.config, self.engine_kind), self.hp.temperature)  # type: ignore[arg-type]

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> DistilledPolicyAgent:
        """Collect and fit for ``total_timesteps`` more moves (:mod:`.learning`); each lockstep move of the
        ``games`` games counts as that many env steps. ``callback`` and ``progress_bar`` as for every agent."""
        if int(total_timesteps) < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        if self._dagger.teacher is None:
            self._dagger.teacher = self._teacher()
        hp, dagger = self.hp, self._dagger
        end = self.num_timesteps + int(total_timesteps)
        with learning_session(self, total_timesteps, callback, progress_bar, self.log_dir) as callbacks:
            while self.num_timesteps < end:
                self.teacher_mix = linear_schedule(hp.teacher_mix_start, hp.teacher_mix_end, self.num_timesteps,
                                                   hp.mix_steps)  # fmt: skip
                games_before = dagger.games_finished
                self.num_timesteps += dagger.step(self.teacher_mix)
                if self.logger is not None and dagger.games_finished // 20 > games_before // 20:
                    self._log()
                if not callbacks.on_step(self):
                    break
        return self

    def _log(self) -> None:
        dagger, step = self._dagger, self.num_timesteps
        self.logger.record("rollout/episodes", dagger.games_finished, step)
        self.logger.record("rollout/episode_return", float(np.mean(dagger.scores)), step)
        self.logger.record("rollout/teacher_mix", self.teacher_mix, step)
        if dagger.updates:
            self.logger.record("train/loss", dagger.last_loss, step)
            self.logger.record("train/updates", dagger.updates, step)

    # -- acting -----------------------------------------------------------------------------------------------------

    def boards_from_observation(self, observation: np.ndarray) -> tuple[np.ndarray, bool]:
        """``(boards (n, rows, cols) int8, single)`` from the env's observations."""
        return observed_boards(observation, self.config, getattr(self.env.unwrapped, "obs_mode", "planes"))

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        """The most probable move of each board (``deterministic=False``: a move drawn from the network's
        probabilities); one observation gives a 0-d array. Boards without a move get cell 0; ``action_masks``
        is not needed (moves are legal by construction)."""
        boards, single = self.boards_from_observation(observation)
        labels = rules.label_groups(boards, self.config)
        net = self.acting_net
        was_training = net.training
        net.eval()
        try:
            with torch.inference_mode():
                logits = net(policy_planes(boards, self.config, labels))
        finally:
            net.train(was_training)
        actions = best_moves(logits, labels) if deterministic else sample_moves(logits, labels, self.rng)
        return (actions[0] if single else actions), state

    @property
    def acting_net(self) -> PolicyNet:
        """The network that acts: the trained one, or the running average of its weights (``policy_averaging``)."""
        return self._dagger.acting_net

    def latent_modules(self) -> dict[str, torch.nn.Module]:
        """The acting policy network's layers: ``policy.conv0`` .. ``policy.conv{blocks}``, ``policy.logits``."""
        return {f"policy.{name}": m for name, m in self.acting_net.layers().items()}

    # -- checkpoint hooks (see repgym.agents.base): network, optimiser, random state, counters. The labelled
    # positions and the games in progress are not saved: resumed training starts new games with an empty store.

    def _save_hyperparameters(self) -> dict[str, Any]:
        return self.hp.to_dict()

    def _save_meta(self) -> dict[str, Any]:
        return {"rules": self.config.to_dict(), "engine": self.engine_kind, "rng_state": self.rng.bit_generator.state,
                "updates": self._dagger.updates}  # fmt: skip

    def _save_tensors(self) -> dict[str, Any]:
        tensors = {"policy_net": self.net.state_dict(), "optimizer": self._dagger.optimizer.state_dict()}
        if self.acting_net is not self.net:
            tensors["averaged_policy_net"] = self.acting_net.state_dict()
        return tensors

    @classmethod
    def _rebuild_kwargs(cls, checkpoint: Checkpoint) -> dict[str, Any]:
        return {"engine": checkpoint.meta.get("engine", "auto")}

    def _restore(self, checkpoint: Checkpoint) -> None:
        meta, tensors = checkpoint.meta, checkpoint.tensors()
        recorded = BubbleConfig(**meta["rules"])
        if recorded != self.config:
            raise ValueError(f"checkpoint {checkpoint.path} was trained on other rules than this env's")
        self.net.load_state_dict(tensors["policy_net"])
        if self.acting_net is not self.net:  # a checkpoint from before averaging starts it at the trained weights
            self.acting_net.load_state_dict(tensors.get("averaged_policy_net", tensors["policy_net"]))
        if "optimizer" in tensors:
            self._dagger.optimizer.load_state_dict(tensors["optimizer"])
        if meta.get("rng_state"):
            self.rng.bit_generator.state = meta["rng_state"]
        self._dagger.updates = int(meta.get("updates", 0))
