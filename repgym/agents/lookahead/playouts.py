"""Playout policies for search: ``playout(boards, rng) -> Playouts`` plays every board of a batch to the end.

- ``"uniform"`` (alias ``"random"``), ``"size-weighted"``, ``"tabu-colour"`` (Schadd et al. 2008: avoid the colour
  with most bubbles left while another move exists) and ``"greedy"`` run inside the engine, compiled whole.
- ``"value"``: value-guided, each move drawn from ``softmax((r + V(afterstate)) / (temperature * scale))`` over
  the legal moves, where ``scale`` is the value network's own scale (:mod:`.value`), so one temperature suits
  every scoring. All unfinished playouts advance together: one expansion and one batched forward pass per move.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from repgym.agents.lookahead.afterstates import sample_per_board
from repgym.agents.lookahead.engine import PLAYOUT_POLICIES, Engine, Playouts, playout_policy_name
from repgym.agents.lookahead.value import ValueFunction

PlayoutFn = Callable[[np.ndarray, np.random.Generator], Playouts]
ALL_PLAYOUTS = (*PLAYOUT_POLICIES, "value")


class ValuePlayouts:
    """Value-guided softmax playouts (see the module docstring); ``temperature`` in units of the value scale."""

    def __init__(self, engine: Engine, value: ValueFunction, temperature: float = 0.1) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        value.check_rules(engine.config)
        self.engine = engine
        self.value = value
        self.temperature = temperature

    def __call__(self, boards: np.ndarray, rng: np.random.Generator) -> Playouts:
        boards = self.engine.check_boards(boards).copy()
        n = boards.shape[0]
        score = np.zeros(n, np.float64)
        length = np.zeros(n, np.int64)
        moves = np.full((n, self.engine.config.n_cells // 2), -1, np.int32)
        active = np.arange(n)
        while active.size:
            exp = self.engine.expand(boards[active])
            if exp.parent.size == 0:
                break
            v = np.zeros(exp.parent.size)
            live = ~exp.terminal
            if live.any():
                v[live] = self.value(exp.board[live])
            logits = (exp.reward + v) / (self.temperature * self.value.scale)
            pick = sample_per_board(exp.parent, logits, active.size, rng)
            has = pick >= 0
            games, pick = active[has], pick[has]
            boards[games] = exp.board[pick]
            score[games] += exp.reward[pick]
            moves[games, length[games]] = exp.move[pick]
            length[games] += 1
            active = games[~exp.terminal[pick]]
        self.engine.playouts_run += n
        return Playouts(score, length, moves)


def make_playout(name: str, engine: Engine, value: ValueFunction | None = None, temperature: float = 0.1) -> PlayoutFn:
    """The playout policy called ``name`` (:data:`ALL_PLAYOUTS`); ``"value"`` needs ``value``."""
    if name not in (*ALL_PLAYOUTS, "random"):
        raise ValueError(f"unknown playout policy {name!r}; expected one of {', '.join(ALL_PLAYOUTS)}")
    if name == "value":
        if value is None:
            raise ValueError("the value-guided playout policy needs a value network (--value CHECKPOINT)")
        return ValuePlayouts(engine, value, temperature)
    policy = playout_policy_name(name)
    return lambda boards, rng: engine.playouts(boards, policy, rng)
