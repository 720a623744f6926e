"""One-step look-ahead as a search method: from a position, play ``argmax r + V(afterstate)`` to the end."""

from __future__ import annotations

import numpy as np

from repgym.agents.lookahead.budget import Budget, Meter, SearchResult
from repgym.agents.lookahead.engine import Engine, make_engine
from repgym.agents.lookahead.value import ValueFunction
from repgym.envs.bubble.rules import BubbleConfig


def lookahead_play(
    board: np.ndarray, config: BubbleConfig, value: ValueFunction, engine: Engine | None = None
) -> SearchResult:
    """The game the one-step look-ahead policy plays from ``board`` ``(rows, cols)``: at each position every legal
    move's afterstate is scored ``r + V`` in one forward pass (``V = 0`` for a finished game) and the best played.
    Ties go to the lowest cell index. Takes no budget: it is as fast as ``moves x one forward pass``."""
    value.check_rules(config)
    engine = engine or make_engine(config)
    board = engine.check_boards(board)[0]
    meter = Meter(Budget(), engine, value)
    moves: list[int] = []
    score = 0.0
    while True:
        exp = engine.expand(board[None])
        if exp.move.size == 0:
            break
        v = np.zeros(exp.move.size)
        live = ~exp.terminal
        if live.any():
            v[live] = value(exp.board[live])
        i = int(np.argmax(exp.reward + v))
        moves.append(int(exp.move[i]))
        score += float(exp.reward[i])
        board = exp.board[i]
    return meter.result(moves, score)
