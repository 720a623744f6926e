"""``LookaheadAgent``: the value network, its self-play training, and search, behind repgym's agent interface.

```python
agent = make_agent("lookahead", "repgym/BubbleBreaker-v0", seed=0)          # one-step look-ahead on r + V
agent.learn(200_000, progress_bar=True)
action, _ = agent.predict(obs, deterministic=True)                          # planes or board observations
agent.save("runs/lookahead"); agent = load_agent("runs/lookahead")
searcher = make_agent("lookahead", "repgym/SameGame-v0", search="nmcs",
                      search_kwargs={"level": 2, "playout": "tabu-colour"}, search_time=30.0)
```

``search`` picks how ``predict`` chooses a move: ``"lookahead"`` (argmax ``r + V``), or ``"nmcs"``, ``"beam"``,
``"mcts"`` (see :mod:`.solve`), which search the whole game from the observed position (``search_time`` seconds,
or one pass of the method's own size, e.g. a beam of ``width``, when it is None) and then play the found sequence
move by move while the game follows it (searching again if it does not). Search needs a deterministic variant;
the Continuous variants play the one-step look-ahead with unknown columns (:mod:`.afterstates`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import torch

from repgym.agents.base import Agent, EnvLike
from repgym.agents.callbacks import learning_session
from repgym.agents.logger import RunLogger
from repgym.agents.lookahead.afterstates import best_per_board, candidates
from repgym.agents.lookahead.engine import make_engine
from repgym.agents.lookahead.training import LookaheadConfig, SelfPlay, calibrate_scale
from repgym.agents.lookahead.value import ValueFunction, ValueNet, encode, input_planes
from repgym.agents.schedules import linear_schedule
from repgym.envs.bubble.rules import BubbleConfig
from repgym.runs import Checkpoint

SEARCHES = ("lookahead", "nmcs", "beam", "mcts")


def env_rules(env) -> BubbleConfig:
    """The rules of a (possibly wrapped) Bubble Breaker / SameGame env or vector env; ``ValueError`` otherwise."""
    config = getattr(env.unwrapped, "config", None)
    if not isinstance(config, BubbleConfig):
        name = env.spec.id if getattr(env, "spec", None) is not None else type(env.unwrapped).__name__
        raise ValueError(f"the lookahead agent plays Bubble Breaker / SameGame envs, got {name}")
    return config


class LookaheadAgent(Agent):
    """One-step look-ahead on a learned value, plus search (see the module docstring).

    Args:
        env: a Bubble Breaker / SameGame env (instance, vector env or registered id).
        seed: seeds the network's initialisation, self-play and exploration.
        search: how ``predict`` chooses moves (:data:`SEARCHES`).
        search_time: seconds per searched game for ``"nmcs"``, ``"beam"``, ``"mcts"``; None (the default): the
            method's own single pass (a node budget, e.g. one beam of ``width``: the same moves on any machine).
        search_kwargs: keyword arguments of the search function (level, playout, width, leaf, ...).
        engine: ``"auto"``, ``"numba"`` or ``"numpy"`` (:mod:`.engine`).
        env_kwargs: constructor arguments when ``env`` is an id.
        log_dir: folder for training logs (TensorBoard and ``metrics.csv``).
        **hyperparameters: fields of :class:`LookaheadConfig`.
    """

    name = "lookahead"
    # The value net is built for the rules (checked on load), not for one observation mode: planes or board.
    checked_spaces = ("action",)
    # The analyzers read the value net, which a search only queries more often: they act by the one-step look-ahead
    # (a beam of width 16 would search again at every ablated unit and every probed state).
    analysis_overrides = {"search": "lookahead"}

    def __init__(
        self,
        env: EnvLike,
        seed: int | None = None,
        search: str = "lookahead",
        search_time: float | None = None,
        search_kwargs: dict[str, Any] | None = None,
        engine: str = "auto",
        env_kwargs: dict[str, Any] | None = None,
        log_dir: str | None = None,
        **hyperparameters: Any,
    ) -> None:
        if search not in SEARCHES:
            raise ValueError(f"search must be one of {SEARCHES}, got {search!r}")
        fields = {f.name for f in dataclasses.fields(LookaheadConfig)}
        unknown = sorted(set(hyperparameters) - fields)
        if unknown:
            raise ValueError(f"unknown lookahead hyperparameter(s) {unknown}; expected some of {sorted(fields)}")
        self._use_env(env, env_kwargs)
        self.config = env_rules(self.env)
        self.hp = LookaheadConfig(**hyperparameters)
        self.seed = seed
        self.search = search
        self.search_time = None if search_time is None else float(search_time)
        self.search_kwargs = dict(search_kwargs or {})
        self.engine_kind = engine
        self.log_dir = log_dir
        self.engine = None if self.config.continuous else make_engine(self.config, engine)  # type: ignore[arg-type]
        self.rng = np.random.default_rng(seed)
        with self._torch_rng():
            net = ValueNet(input_planes(self.config), self.hp.channels, self.hp.blocks, self.hp.hidden)
        self.value = ValueFunction(net, self.config, scale=0.0, canonical=self.hp.canonical)
        spec = getattr(self.env, "spec", None)
        self._trainer = SelfPlay(self.value, self.hp, self.engine, self.rng, getattr(spec, "max_episode_steps", None))
        self.num_timesteps = 0
        self.exploration_rate = self.hp.epsilon_start
        self.logger: RunLogger | None = None
        self._plan: list[tuple[bytes, int]] = []  # searched line: (board bytes before the move, move)

    # -- training ---------------------------------------------------------------------------------------------------

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> LookaheadAgent:
        """Self-play for ``total_timesteps`` more moves (:mod:`.training`); each lockstep move of the ``games``
        games counts as that many env steps, as a vector env's step does.

        ``callback``: a :class:`repgym.agents.callbacks.Callback`, a list of them or ``fn(agent) -> bool``, called
        after every lockstep move (False stops); ``progress_bar``: a rich progress bar. With ``log_dir`` the mean
        score of the last 100 games, epsilon and the loss go to TensorBoard and ``metrics.csv`` there."""
        if int(total_timesteps) < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        if self.value.scale == 0.0:
            self.value.scale = calibrate_scale(self.config, self.hp.calibration_games, self.rng)
        hp, trainer = self.hp, self._trainer
        end = self.num_timesteps + int(total_timesteps)
        with learning_session(self, total_timesteps, callback, progress_bar, self.log_dir) as callbacks:
            while self.num_timesteps < end:
                self.exploration_rate = linear_schedule(hp.epsilon_start, hp.epsilon_end, self.num_timesteps,
                                                        hp.exploration_steps)  # fmt: skip
                games_before = trainer.games_finished
                self.num_timesteps += trainer.step(self.exploration_rate)
                if self.logger is not None and trainer.games_finished // 10 > games_before // 10:
                    self._log()
                if not callbacks.on_step(self):
                    break
        return self

    def _log(self) -> None:
        trainer, step = self._trainer, self.num_timesteps
        self.logger.record("rollout/episodes", trainer.games_finished, step)
        self.logger.record("rollout/episode_return", float(np.mean(trainer.scores)), step)
        self.logger.record("rollout/epsilon", self.exploration_rate, step)
        if trainer.updates:
            self.logger.record("train/loss", trainer.last_loss, step)
            self.logger.record("train/updates", trainer.updates, step)

    # -- acting -----------------------------------------------------------------------------------------------------

    def boards_from_observation(self, observation: np.ndarray) -> tuple[np.ndarray, bool]:
        """``(boards (n, rows, cols) int8, single)`` from the env's observations (:func:`observed_boards`)."""
        return observed_boards(observation, self.config, getattr(self.env.unwrapped, "obs_mode", "planes"))

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Moves for one observation (returns a 0-d array) or a batch. ``deterministic=False`` plays an exploratory
        uniformly random move with probability ``epsilon_end``. Boards without a move get cell 0. ``action_masks``
        is not needed: moves are legal by construction."""
        if self.value.scale == 0.0:
            self.value.scale = calibrate_scale(self.config, self.hp.calibration_games, self.rng)
        boards, single = self.boards_from_observation(observation)
        if self.search != "lookahead" and not self.config.continuous:
            actions = np.array([self._searched_move(b) for b in boards], np.int64)
        else:
            actions = self._lookahead_moves(boards, deterministic)
        return (actions[0] if single else actions), state

    def _lookahead_moves(self, boards: np.ndarray, deterministic: bool) -> np.ndarray:
        n = boards.shape[0]
        cands = candidates(boards, self.config, self.engine)
        v = np.zeros(cands.move.size)
        live = ~cands.terminal
        if live.any():
            v[live] = self.value(cands.board[live], None if cands.unknown is None else cands.unknown[live])
        best = best_per_board(cands.parent, cands.reward + v, n)
        if not deterministic:
            explore = np.flatnonzero((self.rng.random(n) < self.hp.epsilon_end) & (best >= 0))
            for i in explore:
                own = np.flatnonzero(cands.parent == i)
                best[i] = self.rng.choice(own)
        return np.where(best >= 0, cands.move[np.maximum(best, 0)], 0).astype(np.int64)

    def _searched_move(self, board: np.ndarray) -> int:
        """The next move of the searched line, searching again when the game left it."""
        key = board.tobytes()
        if not (self._plan and self._plan[0][0] == key):
            self._plan = self._search_line(board)
        if not self._plan:
            return 0
        return self._plan.pop(0)[1]

    def _search_line(self, board: np.ndarray) -> list[tuple[bytes, int]]:
        from repgym.agents.lookahead.solve import run_search, sequence_boards

        result = run_search(board, self.config, self.search, self.search_time, self.value, self.engine, self.rng,
                            **self.search_kwargs)  # fmt: skip
        positions = sequence_boards(board, result.moves, self.config)
        return [(p.tobytes(), int(m)) for p, m in zip(positions, result.moves, strict=True)]

    # -- checkpoint hooks (see repgym.agents.base): network, optimiser, value scale, random state, settings. The
    # replay buffer and the games in progress are not saved: resumed training starts new games with an empty buffer
    # (it refills within ``learning_starts`` moves).

    def _save_hyperparameters(self) -> dict[str, Any]:
        return self.hp.to_dict()

    def _save_meta(self) -> dict[str, Any]:
        return {
            "rules": self.config.to_dict(),
            "value_scale": self.value.scale,
            "search": self.search,
            "search_time": self.search_time,
            "search_kwargs": self.search_kwargs,
            "engine": self.engine_kind,
            "rng_state": self.rng.bit_generator.state,
        }

    def _save_tensors(self) -> dict[str, Any]:
        return {"value_net": self.value.net.state_dict(), "optimizer": self._trainer.optimizer.state_dict()}

    @classmethod
    def _rebuild_kwargs(cls, checkpoint: Checkpoint) -> dict[str, Any]:
        meta = checkpoint.meta
        return {"search": meta.get("search", "lookahead"), "search_time": meta.get("search_time", 10.0),
                "search_kwargs": meta.get("search_kwargs"), "engine": meta.get("engine", "auto")}  # fmt: skip

    def _restore(self, checkpoint: Checkpoint) -> None:
        meta, tensors = checkpoint.meta, checkpoint.tensors()
        self.value.check_rules(BubbleConfig(**meta["rules"]))
        self.value.net.load_state_dict(tensors["value_net"])
        if "optimizer" in tensors:
            self._trainer.optimizer.load_state_dict(tensors["optimizer"])
        self.value.scale = float(meta["value_scale"])
        if meta.get("rng_state"):
            self.rng.bit_generator.state = meta["rng_state"]

    def latent_modules(self) -> dict[str, torch.nn.Module]:
        """The value network's layers: ``value.conv0`` .. ``value.conv{blocks}``, ``value.fc``, ``value.out``."""
        return {f"value.{name}": m for name, m in self.value.net.layers().items()}

    def represent(self, observation: np.ndarray) -> torch.Tensor:
        """``(n,)`` the value network's output ``V(board) / scale`` on the observed boards themselves (``predict``
        only evaluates afterstates), so that every latent module runs once per observation; encoded as for play
        (canonical colours; no unknown columns in an observed board)."""
        boards, _ = self.boards_from_observation(observation)
        net, was_training = self.value.net, self.value.net.training
        net.eval()
        try:
            with torch.no_grad():
                return net(encode(boards, self.config, canonical=self.hp.canonical))
        finally:
            net.train(was_training)


def observed_boards(observation: np.ndarray, config: BubbleConfig, obs_mode: str) -> tuple[np.ndarray, bool]:
    """``(boards (n, rows, cols) int8, single)`` from a Bubble Breaker env's ``"planes"`` or ``"board"``
    observations, one or a batch (``single``: one observation was given); a one-line ``ValueError`` otherwise."""
    obs = np.asarray(observation)
    c = config
    planes = c.colours + 1 + (1 if c.continuous else 0)
    if obs_mode == "planes" and obs.ndim in (3, 4) and obs.shape[-3:] == (planes, c.rows, c.cols):
        return obs.argmax(axis=-3).astype(np.int8).reshape(-1, c.rows, c.cols), obs.ndim == 3  # plane == value
    if obs_mode == "board" and obs.ndim in (2, 3) and obs.shape[-2:] == (c.rows, c.cols):
        return obs.astype(np.int8).reshape(-1, c.rows, c.cols), obs.ndim == 2
    expected = f"(..., {planes}, {c.rows}, {c.cols})" if obs_mode == "planes" else f"(..., {c.rows}, {c.cols})"
    raise ValueError(f"expected {obs_mode!r} observations of shape {expected}, got shape {obs.shape}")


def load_value(path: str | os.PathLike | Checkpoint) -> ValueFunction:
    """The value function of a saved lookahead agent (for ``repgym solve --value``), without making its env."""
    checkpoint = Checkpoint.read(path)
    if checkpoint.agent != LookaheadAgent.name:
        raise ValueError(f"{checkpoint.path} holds agent {checkpoint.agent!r}; --value needs a 'lookahead' checkpoint")
    config = BubbleConfig(**checkpoint.meta["rules"])
    hp = LookaheadConfig(**checkpoint.hyperparameters)
    with torch.random.fork_rng(devices=[]):  # the initial weights are replaced: leave the global generator alone
        net = ValueNet(input_planes(config), hp.channels, hp.blocks, hp.hidden)
    net.load_state_dict(checkpoint.tensors()["value_net"])
    net.eval()
    return ValueFunction(net, config, scale=float(checkpoint.meta["value_scale"]), canonical=hp.canonical)
