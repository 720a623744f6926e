"""The ``expert`` baseline: the strongest fixed reference repgym has for an env, the top end of the leaderboard's
expert-normalised score ``(mean - random) / (expert - random)``.

- Bubble Breaker / SameGame, every variant: :class:`BubbleSearchExpert` — Nested Monte-Carlo Search of level 1 with
  tabu-colour playouts (:func:`repgym.agents.lookahead.nmcs.nmcs`), run from the env's current board at every move
  with a budget of :data:`EXPERT_NODES` playouts per move, seeded from the baseline's seed. A node budget, not a
  time budget: the same seed plays the same games on any machine under any load. Per game on one core: about 0.7 s
  on BubbleBreaker-v0 (14x10), 1.2 s on Shifter, 2 s on SameGame-v0 (15x15), 3.5-5 s on MegaShift and Continuous
  (their games run to ~190 moves). Over the 30 evaluation games: 1307 on BubbleBreaker-v0 (random 337, greedy 360),
  2607 on SameGame-v0 (random 107, greedy 140).
- Delayed games: the game's oracle (``optimal``, :meth:`repgym.envs.delayed.base.DelayedGameEnv.optimal_action`).
- Physics bodies: :func:`repgym.envs.physics.experts.make_expert` (imported when first asked for).
- Any other env: no expert (:func:`has_expert` is False), as ``greedy`` exists only where it applies.

```python
env = gym.make("repgym/SameGame-v0")
play(BaselineAgent("expert", env, seed=0), env, EvalProtocol(30)).mean
```
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import gymnasium as gym
import numpy as np

EXPERT_NODES = 1000
"""Playouts the Bubble Breaker / SameGame expert's search may run per move."""

EXPERT_DESCRIPTION = (
    "expert reference — Bubble Breaker / SameGame: NMCS level 1 with tabu-colour playouts from the current board, "
    f"{EXPERT_NODES} playouts per move (seeded, machine-independent); delayed games: the oracle (= optimal); "
    "physics bodies: their controller (repgym.envs.physics.experts); none elsewhere"
)


def is_bubble(env: gym.Env) -> bool:
    """A (possibly wrapped) Bubble Breaker / SameGame env: rules in ``config``, the game in ``game``."""
    from repgym.envs.bubble.rules import BubbleConfig

    base = env.unwrapped
    return isinstance(getattr(base, "config", None), BubbleConfig) and hasattr(base, "game")


def is_delayed(env: gym.Env) -> bool:
    from repgym.envs.delayed.base import DelayedGameEnv

    return isinstance(env.unwrapped, DelayedGameEnv)


def is_physics(env: gym.Env) -> bool:
    """A (possibly wrapped) MuJoCo body of :mod:`repgym.envs.physics`."""
    base = sys.modules.get("repgym.envs.physics.base")  # a physics env has imported it; no need to import MuJoCo
    return base is not None and isinstance(env.unwrapped, base.PhysicsEnv)


def has_expert(env: gym.Env) -> bool:
    """Whether ``env`` has an ``expert`` baseline (a physics body: when its expert accepts it)."""
    if is_bubble(env) or is_delayed(env):
        return True
    if not is_physics(env):
        return False
    from repgym.envs.physics.experts import make_expert as make_physics_expert

    try:
        make_physics_expert(env)
    except ValueError:
        return False
    return True


def make_expert(env: gym.Env, seed: int | None = 0) -> Any:
    """The expert of ``env`` (anything with ``predict``); ``seed`` seeds a search's playouts. ValueError for an env
    without one."""
    if is_bubble(env):
        return BubbleSearchExpert(env, seed=seed)
    if is_delayed(env):
        return DelayedOracle(env)
    name = env.spec.id if env.spec else type(env.unwrapped).__name__
    if is_physics(env):
        from repgym.envs.physics.experts import make_expert as make_physics_expert

        return make_physics_expert(env)
    raise ValueError(f"{name} has no expert baseline; experts exist for Bubble Breaker / SameGame, the delayed games "
                     "and the physics bodies")  # fmt: skip


class DelayedOracle:
    """The delayed game's oracle behind ``predict`` (the ``optimal`` baseline's policy)."""

    def __init__(self, env: gym.Env) -> None:
        self.env = env

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True,
                action_masks: np.ndarray | None = None) -> tuple[int, None]:  # fmt: skip
        return int(self.env.unwrapped.optimal_action()), None


class BubbleSearchExpert:
    """NMCS level 1, tabu-colour playouts, ``nodes`` playouts per move, from the env's current board at every move.

    The search plays by the env's rules. Standard and Shifter variants: exactly (``env.unwrapped.config``).
    Continuous variants (Continuous, MegaShift): the columns still to arrive are random, so the search plays the
    board it sees under the same rules without new columns; grey bubbles stay inert, and on a board that holds
    them the numpy engine searches (the compiled one has no grey). The move played is the first of the best line
    found, which is a group of the current board and therefore legal.

    Between moves the best line is kept: when the game followed it (the board is the one the line expected), the
    new search's line replaces it only if it scores more, so a good line found early is never lost.
    """

    def __init__(self, env: gym.Env, seed: int | None = 0, nodes: int = EXPERT_NODES) -> None:
        from repgym.agents.lookahead.engine import NumpyEngine, make_engine

        if not is_bubble(env):
            raise ValueError(f"the search expert plays Bubble Breaker / SameGame envs, got {env}")
        self.env, self.nodes = env, int(nodes)
        config = env.unwrapped.config
        self.config = dataclasses.replace(config, continuous=False) if config.continuous else config
        self.grey = config.grey if config.continuous else None  # only the Continuous variants bring grey bubbles
        self.engine = make_engine(self.config)
        self.grey_engine = NumpyEngine(self.config) if config.continuous else None
        self.rng = np.random.default_rng(seed)
        self._line: tuple[bytes, np.ndarray, float] | None = None  # (board it expects, its moves, their score)

    def _engine(self, board: np.ndarray) -> Any:
        """The compiled engine, or the numpy one for a board with grey bubbles."""
        return self.grey_engine if self.grey is not None and (board >= self.grey).any() else self.engine

    def search(self, board: np.ndarray) -> tuple[np.ndarray, float]:
        """``(moves, score)``: the best line found from ``board`` ``(rows, cols) int8`` with this move's budget."""
        from repgym.agents.lookahead.budget import Budget
        from repgym.agents.lookahead.nmcs import nmcs

        result = nmcs(board, self.config, level=1, playout="tabu-colour", budget=Budget(nodes=self.nodes),
                      engine=self._engine(board), rng=self.rng)  # fmt: skip
        return result.moves, result.score

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True,
                action_masks: np.ndarray | None = None) -> tuple[int, None]:  # fmt: skip
        """The next move for the env's current board (``observation`` is not read: the board is the env's)."""
        game = self.env.unwrapped.game
        if game is None:
            raise RuntimeError("call env.reset() before asking the expert for a move")
        board = np.ascontiguousarray(game.board[0], dtype=np.int8)
        moves, score = self.search(board)
        if self._line is not None and self._line[0] == board.tobytes() and self._line[2] > score:
            moves, score = self._line[1], self._line[2]
        if moves.size == 0:  # no group left: the env has ended the game; any click is a no-op
            self._line = None
            return 0, None
        self._line = self._after(board, moves, score)
        return int(moves[0]), None

    def _after(self, board: np.ndarray, moves: np.ndarray, score: float) -> tuple[bytes, np.ndarray, float] | None:
        """The rest of the line after its first move: the board it leads to, its moves and their score."""
        if moves.size < 2:
            return None
        exp = self._engine(board).expand(board)
        child = int(np.flatnonzero(exp.move == moves[0])[0])
        return exp.board[child].tobytes(), moves[1:], score - float(exp.reward[child])


__all__ = ["EXPERT_DESCRIPTION", "EXPERT_NODES", "BubbleSearchExpert", "DelayedOracle", "has_expert", "make_expert"]
