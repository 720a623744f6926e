"""Nested Monte-Carlo Search (Cazenave 2009) with the best-sequence memory.

A level-``L`` search plays a game move by move; at each position it scores every legal move by a level-``L-1``
search of the position after it (level 0: one playout, all candidate moves' playouts in one batch), remembers the
best complete sequence found so far, and plays the next move *of that sequence*, so that a good line found early
is never lost::

    nested(position, level):
        best = -inf, best_sequence = []
        while position is not over:
            for each move m: score(m), sequence(m) = r(m) + nested(position after m, level - 1)   # level 1: playouts
            if played + max score(m) > best: best, best_sequence = played + that sequence
            play the next move of best_sequence
        return best, best_sequence

A search therefore never returns a sequence worse than the best playout it ran. Level 0 is a single playout.
Value-guided pruning (``prune=K``) lets a learned value choose which moves deserve the expensive nested searches:
at levels 2 and up only the K moves with the highest ``r + V(afterstate)`` are searched, so a level-2 search gets
through a whole game in the time the plain one spends on its first moves.

With a time or node budget the search is anytime: when the budget runs out every level stops scoring moves and
follows its best sequence to the end; when a pass ends with budget left, the search restarts (new random playouts)
and keeps the best pass.
"""

from __future__ import annotations

import numpy as np

from repgym.agents.lookahead.budget import Budget, Meter, SearchResult, start_search
from repgym.agents.lookahead.engine import Engine, make_engine
from repgym.agents.lookahead.playouts import PlayoutFn, make_playout
from repgym.agents.lookahead.value import ValueFunction, require_value
from repgym.envs.bubble import rules
from repgym.envs.bubble.rules import BubbleConfig


class _Nested:
    def __init__(self, engine: Engine, playout: PlayoutFn, meter: Meter, rng: np.random.Generator,
                 value: ValueFunction | None = None, prune: int | None = None) -> None:  # fmt: skip
        self.engine = engine
        self.playout = playout
        self.meter = meter
        self.rng = rng
        self.value = value
        self.prune = prune

    def search(self, board: np.ndarray, level: int) -> tuple[float, list[int]]:
        """``(score, moves)`` of the best complete sequence found from ``board`` (score counts from ``board``)."""
        if level == 0:
            res = self.playout(board[None], self.rng)
            return float(res.score[0]), res.sequence(0).tolist()
        best_score, best_seq = -np.inf, []
        played: list[int] = []
        played_score = 0.0
        while True:
            exp = self.engine.expand(board[None])
            if exp.move.size == 0:
                break
            out = self.meter.exhausted()
            if out and best_seq:
                return best_score, best_seq  # follow the memory to the end: best_seq is complete
            if level <= 1 or out:
                res = self.playout(exp.board, self.rng)
                totals = exp.reward + res.score
                i = int(np.argmax(totals))
                seq_i = [int(exp.move[i]), *res.sequence(i).tolist()]
            else:
                i, seq_i, totals = self._children(exp, level)
            if played_score + totals[i] > best_score:
                best_score, best_seq = played_score + float(totals[i]), played + seq_i
            nxt = best_seq[len(played)]
            child = int(np.flatnonzero(exp.move == nxt)[0])
            played.append(nxt)
            played_score += float(exp.reward[child])
            board = exp.board[child]
        if not best_seq:  # the position was over before any move
            return 0.0, []
        return best_score, best_seq

    def _children(self, exp, level: int) -> tuple[int, list[int], np.ndarray]:
        """Score the children by level-``level - 1`` searches (until the budget runs out, after the first); with
        ``prune``, only the ``prune`` children with the highest ``r + V``, best first."""
        totals = np.full(exp.move.size, -np.inf)
        sequences: list[list[int]] = [[] for _ in range(exp.move.size)]
        order = np.arange(exp.move.size)
        if self.prune is not None:
            v = np.zeros(exp.move.size)
            live = ~exp.terminal
            if live.any():
                v[live] = self.value(exp.board[live])
            order = np.argsort(-(exp.reward + v), kind="stable")[: self.prune]
        for n, i in enumerate(order):
            if n > 0 and self.meter.exhausted():
                break
            if exp.terminal[i]:
                totals[i], sequences[i] = exp.reward[i], [int(exp.move[i])]
                continue
            score, seq = self.search(exp.board[i], level - 1)
            totals[i], sequences[i] = exp.reward[i] + score, [int(exp.move[i]), *seq]
        i = int(np.argmax(totals))
        return i, sequences[i], totals


def nmcs(
    board: np.ndarray,
    config: BubbleConfig,
    level: int = 1,
    playout: str = "tabu-colour",
    budget: Budget | None = None,
    engine: Engine | None = None,
    value: ValueFunction | None = None,
    rng: np.random.Generator | None = None,
    temperature: float = 0.1,
    prune: int | None = None,
) -> SearchResult:
    """Nested Monte-Carlo Search of level ``level`` from ``board`` ``(rows, cols)``; level 0 is one playout (with a
    budget: the best of repeated playouts), so ``level=0, playout="greedy"`` plays the greedy policy.

    ``playout``: a playout policy of :mod:`.playouts` (``"value"`` needs ``value``; ``temperature`` is its
    softmax temperature). ``prune``: value-guided pruning — at levels 2 and up only the ``prune`` moves with the
    highest ``r + V(afterstate)`` get a nested search (needs ``value``); level 1 still tries every move. Without a
    budget the search makes one pass; with one it restarts until the budget is spent and returns the best pass
    (``info["passes"]``: passes started).
    """
    if level < 0:
        raise ValueError(f"NMCS level must be >= 0, got {level}")
    if prune is not None:
        if prune < 1:
            raise ValueError(f"prune must be >= 1 (moves searched per position), got {prune}")
        require_value(value, config, "value-guided pruning")
    engine = engine or make_engine(config)
    board, meter, rng = start_search(board, engine, budget, value, rng)
    nested = _Nested(engine, make_playout(playout, engine, value, temperature), meter, rng, value, prune)
    best_score, best_seq, passes = -np.inf, [], 0
    while True:
        passes += 1
        score, seq = nested.search(board, level)
        if score > best_score:
            best_score, best_seq = score, seq
        if meter.budget.unlimited or meter.exhausted() or not rules.has_moves(board, config)[0]:
            break
    return meter.result(best_seq, best_score, passes=passes, level=level, playout=playout, prune=prune)
