"""Search engines: all afterstates of many boards, and complete playouts of many boards, behind one interface.

Two implementations play the same rules (both are tested move for move against :mod:`rules`): identical
expansions, identical greedy playouts, and playouts of the random policies from different random streams:

- :class:`NumbaEngine` runs compiled whole playouts (:mod:`repgym.envs.bubble.kernels`); the default.
- :class:`NumpyEngine` runs the batched numpy rules in lockstep (finished boards leave the batch) with the
  baseline policies of :mod:`repgym.envs.bubble.policies`; no compilation, about 30 times slower. Useful where
  numba is missing or a first compile (about 20 s, then cached on disk) costs more than the work.

Both take a batch of settled boards ``(n, rows, cols) int8`` of a deterministic variant (standard or Shifter):
search needs to know a move's successor, which the random new columns of the Continuous variants hide.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Literal, NamedTuple

import numpy as np

from repgym.envs.bubble import policies, rules
from repgym.envs.bubble.rules import BubbleConfig

EngineKind = Literal["auto", "numba", "numpy"]
PLAYOUT_POLICIES = ("uniform", "size-weighted", "tabu-colour", "greedy")
"""Playout policies the engines run; ``"random"`` is accepted as another name for ``"uniform"`` (over groups)."""

_NUMPY_POLICIES = {
    "uniform": policies.random_group,
    "size-weighted": policies.size_weighted,
    "tabu-colour": policies.tabu_colour,
    "greedy": policies.greedy,
}


def playout_policy_name(name: str) -> str:
    """The canonical playout-policy name (``"random"`` -> ``"uniform"``); ``ValueError`` naming the choices."""
    name = "uniform" if name == "random" else name
    if name not in PLAYOUT_POLICIES:
        raise ValueError(f"unknown playout policy {name!r}; expected one of {', '.join(PLAYOUT_POLICIES)}")
    return name


class Expansion(NamedTuple):
    """Every legal move of a batch of boards; one row per (board, group), boards in order."""

    parent: np.ndarray  # (k,) int64, index of the board the move is played on
    move: np.ndarray  # (k,) int64, the group's representative cell (smallest flat index)
    board: np.ndarray  # (k, rows, cols) int8, the successor
    reward: np.ndarray  # (k,) float64, the move's reward (end bonus / penalty included when it ends the game)
    terminal: np.ndarray  # (k,) bool, the successor has no move left


class Playouts(NamedTuple):
    """Complete games from a batch of positions."""

    score: np.ndarray  # (n,) float64, sum of rewards after the given position
    length: np.ndarray  # (n,) int64, moves played
    moves: np.ndarray  # (n, max_moves) int32, cells clicked, -1 after the last

    def sequence(self, i: int) -> np.ndarray:
        """The moves of playout ``i``, ``(length,) int64``."""
        return self.moves[i, : self.length[i]].astype(np.int64)


class Engine(ABC):
    """Afterstates and playouts for one set of rules (``config``, deterministic variants only)."""

    kind: str = "engine"

    def __init__(self, config: BubbleConfig) -> None:
        if config.continuous:
            raise ValueError(
                "search engines play deterministic games only, got a Continuous variant: its new columns are random"
            )
        self.config = config
        self.playouts_run = 0  # complete playouts so far (a node budget counts them)

    def check_boards(self, boards: np.ndarray) -> np.ndarray:
        """``boards`` as a C-contiguous ``(n, rows, cols) int8`` batch; ``ValueError`` for a wrong shape."""
        boards = np.ascontiguousarray(rules.as_batch(boards), dtype=np.int8)
        if boards.shape[1:] != (self.config.rows, self.config.cols):
            raise ValueError(
                f"boards of shape {boards.shape[1:]} do not match the rules' rows x cols = "
                f"({self.config.rows}, {self.config.cols})"
            )
        return boards

    @abstractmethod
    def expand(self, boards: np.ndarray) -> Expansion:
        """All legal moves of every board and their successors."""

    @abstractmethod
    def playouts(self, boards: np.ndarray, policy: str, rng: np.random.Generator) -> Playouts:
        """Play every board to the end with a playout policy (:data:`PLAYOUT_POLICIES`)."""


class NumbaEngine(Engine):
    """Compiled engine: whole playouts and expansions run in numba (see :mod:`repgym.envs.bubble.kernels`)."""

    kind = "numba"

    def __init__(self, config: BubbleConfig) -> None:
        super().__init__(config)
        from repgym.envs.bubble import kernels

        self._kernels = kernels
        self._params = kernels.rule_params(config)

    def expand(self, boards: np.ndarray) -> Expansion:
        parent, move, children, reward, terminal = self._kernels.expand(self.check_boards(boards), self._params)
        return Expansion(parent, move, children, reward, terminal)

    def playouts(self, boards: np.ndarray, policy: str, rng: np.random.Generator) -> Playouts:
        code = self._kernels.KERNEL_POLICIES[playout_policy_name(policy)]
        seed = np.uint64(rng.integers(0, 2**63))
        boards = self.check_boards(boards)
        score, length, moves = self._kernels.playouts(boards, self._params, code, seed)
        self.playouts_run += boards.shape[0]
        return Playouts(score, length, moves)


class NumpyEngine(Engine):
    """Pure numpy engine over :mod:`rules` and the baseline policies (no compilation)."""

    kind = "numpy"

    def expand(self, boards: np.ndarray) -> Expansion:
        boards = self.check_boards(boards)
        n, rows, cols = boards.shape
        labels = rules.label_groups(boards, self.config).reshape(n, -1)
        parent, move = np.nonzero(labels == np.arange(rows * cols, dtype=labels.dtype))
        state = _states(boards[parent])
        result = rules.step(state, move, self.config)
        return Expansion(parent.astype(np.int64), move.astype(np.int64), result.state.board, result.reward,
                         result.terminal)  # fmt: skip

    def playouts(self, boards: np.ndarray, policy: str, rng: np.random.Generator) -> Playouts:
        choose = _NUMPY_POLICIES[playout_policy_name(policy)]
        boards = self.check_boards(boards)
        n = boards.shape[0]
        state = _states(boards)
        moves = np.full((n, self.config.n_cells // 2), -1, np.int32)
        length = np.zeros(n, np.int64)
        active = np.flatnonzero(rules.has_moves(boards, self.config))
        while active.size:
            sub = state.index(active)
            actions = choose(sub.board, self.config, rng)
            result = rules.step(sub, actions, self.config)
            moves[active, length[active]] = actions
            length[active] += 1
            state.board[active] = result.state.board
            state.score[active] = result.state.score
            active = active[~result.terminal]
        self.playouts_run += n
        return Playouts(state.score, length, moves)


def _states(boards: np.ndarray) -> rules.BubbleState:
    n = boards.shape[0]
    return rules.BubbleState(boards.copy(), np.zeros(n, np.uint64), np.zeros(n, np.int64), np.zeros(n, np.float64))


def make_engine(config: BubbleConfig, kind: EngineKind = "auto") -> Engine:
    """An engine for ``config``: ``"numba"``, ``"numpy"`` or ``"auto"`` (numba when it imports)."""
    if kind == "numpy":
        return NumpyEngine(config)
    if kind == "numba":
        return NumbaEngine(config)
    if kind != "auto":
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {kind!r}")
    try:
        return NumbaEngine(config)
    except ImportError:
        return NumpyEngine(config)


def warm_up(engine: Engine) -> float:
    """Compile (or load from the disk cache) the engine's kernels on a tiny batch, so that a search's time budget
    is not spent compiling; returns the seconds it took."""
    start = time.perf_counter()
    board = rules.random_boards(np.arange(1), engine.config)
    engine.playouts(engine.expand(board).board[:1], "tabu-colour", np.random.default_rng(0))
    return time.perf_counter() - start
