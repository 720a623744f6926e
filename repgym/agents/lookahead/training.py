"""Self-play training of the value network (the look-ahead agent's ``learn``).

``games`` games advance in lockstep through the pure rules. At every move, all legal moves of all games are scored
``r + V(afterstate)`` in one forward pass and each game plays its best move, or with probability epsilon a move of
``explore_policy``. When a game ends, every afterstate it passed through gets a target and goes into a replay
buffer; each lockstep move is followed by ``gradient_steps`` updates on random replayed afterstates::

    targets:  G_t = e_t + r_{t+1} + G_{t+1}                                             ("mc": return after a_t)
              G_t = e_t + r_{t+1} + (1 - lambda) V(a_{t+1}) + lambda G_{t+1}             ("td": TD(lambda))
    loss:     Huber(net(a_t), G_t / scale)

``a_t`` is the afterstate of move ``t``, ``r_t`` the reward the agent saw when choosing it and ``e_t`` what the
move brought beyond that (0 in the deterministic variants; random-column effects in the Continuous ones, see
:mod:`.afterstates`). The last afterstate of a finished game is worth ``e_T`` exactly; a game cut off by the step
limit bootstraps from ``V`` there. TD(lambda) targets use the network as it is when the game ends.

Normalisation: ``scale`` is fixed once, before the first update, to the mean absolute return-to-go over the
positions of ``calibration_games`` uniformly random games (at least 1 point). The network learns ``G / scale``,
targets of order 1 whatever the scoring and board size, and the scale never moves afterwards, so old and new
targets stay comparable.

Colour symmetry: with ``canonical=True`` (default) the network sees canonical colours, which are the same for all
``colours!`` renamings of a board, so augmenting by renaming would change nothing; with ``canonical=False``
every replayed board is renamed by a fresh random permutation (``augment=True``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from repgym.agents.lookahead.afterstates import best_per_board, candidates
from repgym.agents.lookahead.engine import Engine
from repgym.agents.lookahead.value import ValueFunction, encode
from repgym.envs.bubble import policies, rules
from repgym.envs.bubble.rules import BubbleConfig, BubbleState
from repgym.envs.bubble.symmetry import augment as augment_colours

TARGETS = ("td", "mc")


@dataclass
class LookaheadConfig:
    """Hyperparameters of the look-ahead agent: value network, self-play, targets, exploration."""

    channels: int = 32  # conv channels of the value network
    blocks: int = 3  # 3x3 conv layers after the stem
    hidden: int = 64  # hidden units of the value head
    learning_rate: float = 1e-3  # Adam step size
    batch_size: int = 256  # replayed afterstates per gradient step
    games: int = 32  # self-play games advanced in lockstep (one forward pass per move for all of them)
    buffer_size: int = 50_000  # afterstates kept for replay; the oldest are replaced first
    learning_starts: int = 1_000  # afterstates in the buffer before the first update
    gradient_steps: int = 1  # updates after each lockstep move
    target: str = "td"  # "td": TD(lambda) return; "mc": Monte-Carlo return-to-go
    td_lambda: float = 0.8  # lambda of the TD(lambda) target (1.0 gives the Monte-Carlo return)
    epsilon_start: float = 0.3  # probability of an exploratory move when training starts
    epsilon_end: float = 0.02  # ... after exploration_steps moves, and in predict(deterministic=False)
    exploration_steps: int = 100_000  # moves (over the agent's whole training) over which epsilon decays linearly
    explore_policy: str = "uniform"  # baseline policy of exploratory moves (uniform, size-weighted, tabu-colour)
    canonical: bool = True  # the network sees canonical colours (symmetry.canonical_colours)
    augment: bool = True  # rename replayed boards' colours at random (only matters with canonical=False)
    calibration_games: int = 64  # uniformly random games whose mean |return-to-go| fixes the value scale
    max_grad_norm: float = 10.0  # gradient clipping

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if not 0.0 <= self.td_lambda <= 1.0:
            raise ValueError(f"td_lambda must be in [0, 1], got {self.td_lambda}")
        for name in ("epsilon_start", "epsilon_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("channels", "hidden", "batch_size", "games", "buffer_size", "calibration_games"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.exploration_steps < 1:
            raise ValueError(f"exploration_steps must be >= 1, got {self.exploration_steps}")
        explore = "random" if self.explore_policy == "uniform" else self.explore_policy
        if explore not in policies.POLICIES:
            raise ValueError(f"explore_policy must be one of uniform, {', '.join(policies.POLICIES)}, got "
                             f"{self.explore_policy!r}")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lambda_returns(
    obs_rewards: np.ndarray, extra: np.ndarray, values: np.ndarray, lam: float, terminated: bool
) -> np.ndarray:
    """TD(lambda) targets ``(T,)`` for the afterstates ``a_0..a_{T-1}`` of one game (module docstring).

    ``obs_rewards[t]``: reward seen when choosing move t; ``extra[t]``: what move t brought beyond it;
    ``values[t]``: ``V(a_t)``. ``lam=1`` gives the Monte-Carlo return after each afterstate. When the game was
    ``terminated`` the last afterstate is worth ``extra[T-1]``; otherwise (cut off) ``values[T-1]``.
    """
    t_len = obs_rewards.shape[0]
    out = np.empty(t_len, np.float64)
    if t_len == 0:
        return out
    out[-1] = extra[-1] if terminated else values[-1]
    next_value = out[-1]
    for t in range(t_len - 2, -1, -1):
        out[t] = extra[t] + obs_rewards[t + 1] + (1.0 - lam) * next_value + lam * out[t + 1]
        next_value = values[t]
    return out


def calibrate_scale(config: BubbleConfig, games: int, rng: np.random.Generator) -> float:
    """Mean absolute return-to-go over the positions of ``games`` uniformly random games (>= 1 point)."""
    state = rules.initial_state(rng.integers(0, 2**63, size=games, dtype=np.uint64), config)
    rewards: list[np.ndarray] = []
    alive: list[np.ndarray] = []
    active = np.ones(games, bool)
    for _ in range(config.n_cells * 4):  # Continuous games end too, once the grey columns arrive
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        sub = state.index(idx)
        result = rules.step(sub, policies.random_group(sub.board, config, rng), config)
        r = np.zeros(games)
        r[idx] = result.reward
        rewards.append(r)
        alive.append(active.copy())
        state.board[idx] = result.state.board
        state.new_columns[idx] = result.state.new_columns
        active[idx[result.terminal]] = False
    if not rewards:
        return 1.0
    r = np.stack(rewards)  # (moves, games)
    to_go = np.cumsum(r[::-1], axis=0)[::-1] - r  # return after each move's afterstate
    return max(1.0, float(np.abs(to_go[np.stack(alive)]).mean()))


class ReplayBuffer:
    """Afterstates with their targets (points), in a ring of ``capacity``."""

    def __init__(self, capacity: int, config: BubbleConfig) -> None:
        self.capacity = capacity
        self.boards = np.zeros((capacity, config.rows, config.cols), np.int8)
        self.unknown = np.zeros((capacity, config.cols), bool) if config.continuous else None
        self.targets = np.zeros(capacity, np.float32)
        self.size = 0
        self._next = 0

    def add(self, boards: np.ndarray, unknown: np.ndarray | None, targets: np.ndarray) -> None:
        for start in range(0, boards.shape[0], self.capacity):
            b, t = boards[start : start + self.capacity], targets[start : start + self.capacity]
            idx = (self._next + np.arange(b.shape[0])) % self.capacity
            self.boards[idx] = b
            self.targets[idx] = t
            if self.unknown is not None and unknown is not None:
                self.unknown[idx] = unknown[start : start + self.capacity]
            self._next = int((idx[-1] + 1) % self.capacity)
            self.size = min(self.capacity, self.size + b.shape[0])

    def sample(self, n: int, rng: np.random.Generator):
        idx = rng.integers(0, self.size, n)
        unknown = None if self.unknown is None else self.unknown[idx]
        return self.boards[idx], unknown, self.targets[idx]


@dataclass
class _Trajectory:
    boards: list[np.ndarray]
    unknown: list[np.ndarray | None]
    obs_rewards: list[float]
    extra: list[float]
    known_terminal: list[bool]


class SelfPlay:
    """The self-play games, replay buffer and optimiser of :mod:`this module <repgym.agents.lookahead.training>`;
    :meth:`step` advances them (the agent's ``learn`` loops over it)."""

    def __init__(
        self,
        value: ValueFunction,
        hp: LookaheadConfig,
        engine: Engine | None,
        rng: np.random.Generator,
        max_steps: int | None = None,
    ) -> None:
        self.value = value
        self.config = value.config
        self.hp = hp
        self.engine = engine
        self.rng = rng
        self.max_steps = max_steps
        self.optimizer = torch.optim.Adam(value.net.parameters(), lr=hp.learning_rate)
        self.buffer = ReplayBuffer(hp.buffer_size, self.config)
        self.state: BubbleState | None = None
        self.trajectories: list[_Trajectory] = []
        self.lengths = np.zeros(0, np.int64)
        self.scores: deque[float] = deque(maxlen=100)
        self.games_finished = 0
        self.updates = 0
        self.last_loss = float("nan")

    # -- games ------------------------------------------------------------------------------------------------------

    def _new_games(self, n: int) -> BubbleState:
        return rules.initial_state(self.rng.integers(0, 2**63, size=n, dtype=np.uint64), self.config)

    def _start(self) -> None:
        self.state = self._new_games(self.hp.games)
        self.trajectories = [_Trajectory([], [], [], [], []) for _ in range(self.hp.games)]
        self.lengths = np.zeros(self.hp.games, np.int64)

    def _explore_moves(self, boards: np.ndarray) -> np.ndarray:
        """Cells the exploration policy clicks, mapped to their group's representative (the candidates' moves)."""
        name = "random" if self.hp.explore_policy == "uniform" else self.hp.explore_policy
        cells = policies.POLICIES[name](boards, self.config, self.rng)
        labels = rules.label_groups(boards, self.config).reshape(boards.shape[0], -1)
        return labels[np.arange(boards.shape[0]), cells]

    def step(self, epsilon: float) -> int:
        """One lockstep move of every game, then ``gradient_steps`` updates once the buffer holds
        ``learning_starts`` afterstates; returns the moves made (env steps)."""
        moves = self.play_move(epsilon)
        if self.buffer.size >= max(self.hp.learning_starts, self.hp.batch_size):
            for _ in range(self.hp.gradient_steps):
                self.update()
        return moves

    def play_move(self, epsilon: float) -> int:
        """Advance every game by one move; returns the moves made."""
        if self.state is None:
            self._start()
        state, config = self.state, self.config
        n = state.batch_size
        cands = candidates(state.board, config, self.engine)
        v = np.zeros(cands.move.size)
        live = ~cands.terminal
        if live.any() and epsilon < 1.0:  # with epsilon 1 every move explores: no need to score them
            unknown = None if cands.unknown is None else cands.unknown[live]
            v[live] = self.value(cands.board[live], unknown)
        choice = best_per_board(cands.parent, cands.reward + v, n)
        explore = np.flatnonzero((self.rng.random(n) < epsilon) & (choice >= 0))
        if explore.size:
            rep = self._explore_moves(state.board[explore])
            keys = cands.parent * config.n_cells + cands.move
            choice[explore] = np.searchsorted(keys, explore * config.n_cells + rep)
        playing = np.flatnonzero(choice >= 0)  # a game with no move is restarted below (it cannot happen mid-game)
        pick = choice[playing]
        result = rules.step(state.index(playing), cands.move[pick], config)
        for j, g in enumerate(playing):
            tr = self.trajectories[g]
            c = pick[j]
            tr.boards.append(cands.board[c])
            tr.unknown.append(None if cands.unknown is None else cands.unknown[c])
            tr.obs_rewards.append(float(cands.reward[c]))
            tr.extra.append(float(result.reward[j] - cands.reward[c]))
            tr.known_terminal.append(bool(cands.terminal[c]))
        state.board[playing] = result.state.board
        state.new_columns[playing] = result.state.new_columns
        state.score[playing] = result.state.score
        self.lengths[playing] += 1
        ended = np.zeros(n, bool)
        ended[playing[result.terminal]] = True
        ended[np.setdiff1d(np.arange(n), playing)] = True
        cut = np.zeros(n, bool)
        if self.max_steps is not None:
            cut = ~ended & (self.lengths >= self.max_steps)
        for g in np.flatnonzero(ended | cut):
            self._finish(int(g), terminated=bool(ended[g]))
        return int(playing.size)

    def _finish(self, g: int, terminated: bool) -> None:
        """Targets for game ``g``'s afterstates into the buffer; a new game in its slot."""
        tr = self.trajectories[g]
        if tr.boards:
            boards = np.stack(tr.boards)
            unknown = np.stack(tr.unknown) if self.config.continuous else None
            obs_rewards, extra = np.array(tr.obs_rewards), np.array(tr.extra)
            lam = 1.0 if self.hp.target == "mc" else self.hp.td_lambda
            values = self.value(boards, unknown) if lam < 1.0 or not terminated else np.zeros(len(tr.boards))
            values[np.array(tr.known_terminal)] = 0.0
            targets = lambda_returns(obs_rewards, extra, values, lam, terminated)
            keep = ~np.array(tr.known_terminal)  # known-terminal afterstates are never evaluated
            if not terminated:
                keep[-1] = False  # its target would be its own estimate
            self.buffer.add(boards[keep], None if unknown is None else unknown[keep], targets[keep].astype(np.float32))
            self.scores.append(float(self.state.score[g]))
            self.games_finished += 1
        fresh = self._new_games(1)
        self.state.board[g] = fresh.board[0]
        self.state.key[g] = fresh.key[0]
        self.state.new_columns[g] = 0
        self.state.score[g] = 0.0
        self.lengths[g] = 0
        self.trajectories[g] = _Trajectory([], [], [], [], [])

    # -- learning ---------------------------------------------------------------------------------------------------

    def update(self) -> float:
        """One gradient step on a replayed batch; returns the loss (in units of the scale)."""
        hp = self.hp
        boards, unknown, targets = self.buffer.sample(hp.batch_size, self.rng)
        if not hp.canonical and hp.augment:
            boards, _ = augment_colours(boards, self.rng, self.config)
        x = encode(boards, self.config, unknown, hp.canonical)
        net = self.value.net
        net.train()
        pred = net(x)
        loss = torch.nn.functional.smooth_l1_loss(pred, torch.from_numpy(targets / self.value.scale))
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), hp.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        self.last_loss = float(loss.item())
        return self.last_loss
