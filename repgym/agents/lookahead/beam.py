"""Beam search over afterstates.

Each level expands every position in the beam (all legal moves of all positions, one engine call), scores each
afterstate by ``score so far + r + h(afterstate)`` and keeps the ``width`` best distinct afterstates. The
heuristic ``h`` is either the value network (``evaluator="value"``: one batched forward pass per level) or the
return of one playout from the afterstate (``evaluator="<playout policy>"``, e.g. ``"tabu-colour"``: one batch
of compiled playouts per level, whose complete sequences also count as solutions). The answer is the best
complete sequence met: a finished game in the beam, or (playout evaluator) a playout.

With a time budget the search is anytime: it runs passes of growing width (first ``width``, then as wide as the
time left allows, judged from the last pass's time per unit of width) and returns the best sequence of all
passes; a pass that the budget cuts short still contributes its finished games and playouts.
"""

from __future__ import annotations

import numpy as np

from repgym.agents.lookahead.budget import Budget, SearchResult, start_search
from repgym.agents.lookahead.engine import Engine, make_engine
from repgym.agents.lookahead.playouts import make_playout
from repgym.agents.lookahead.value import ValueFunction, require_value
from repgym.envs.bubble.rules import BubbleConfig

_CHUNK = 64  # afterstates evaluated between two looks at the budget


class _Best:
    """The best complete sequence so far."""

    def __init__(self) -> None:
        self.score = -np.inf
        self.moves: list[int] = []

    def offer(self, score: float, moves) -> None:
        if score > self.score:
            self.score, self.moves = float(score), [int(m) for m in moves]


def _trace(history: list[tuple[np.ndarray, np.ndarray]], index: int) -> list[int]:
    """Moves from the root to beam entry ``index`` of the last level in ``history`` (parent index, move) pairs."""
    moves = []
    for parents, played in reversed(history):
        moves.append(int(played[index]))
        index = int(parents[index])
    return moves[::-1]


def _distinct_best(boards: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Indices of the distinct boards, each represented by its highest-``key`` copy."""
    flat = np.ascontiguousarray(boards.reshape(boards.shape[0], -1))
    rows = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    order = np.argsort(-key, kind="stable")
    _, first = np.unique(rows[order], return_index=True)
    return order[first]


def _pass(board, width, heuristic, engine, value, playout, meter, rng, best: _Best) -> bool:
    """One beam pass of ``width``; returns False when the budget cut it short. A pass cut short before any
    complete sequence was found finishes at width 1, so that a search always returns a whole game."""
    boards = board[None]
    scores = np.zeros(1)
    history: list[tuple[np.ndarray, np.ndarray]] = []
    cut = False
    while boards.shape[0]:
        if not cut and meter.exhausted():
            if best.moves:
                return False
            cut, width = True, 1
        exp = engine.expand(boards)
        if exp.move.size == 0:
            break
        total = scores[exp.parent] + exp.reward
        for j in np.flatnonzero(exp.terminal):
            if total[j] > best.score:
                best.offer(total[j], [*_trace(history, int(exp.parent[j])), int(exp.move[j])])
        live = np.flatnonzero(~exp.terminal)
        if live.size == 0:
            break
        h = np.empty(live.size)
        for start in range(0, live.size, _CHUNK):  # in chunks, so that a wide level cannot overrun the budget
            if start and best.moves and not cut and meter.exhausted():
                return False
            part = live[start : start + _CHUNK]
            if heuristic == "value":
                h[start : start + part.size] = value(exp.board[part])
                continue
            res = playout(exp.board[part], rng)
            h[start : start + part.size] = res.score
            j = int(np.argmax(total[part] + res.score))
            if total[part[j]] + res.score[j] > best.score:
                c = part[j]
                prefix = [*_trace(history, int(exp.parent[c])), int(exp.move[c])]
                best.offer(total[c] + res.score[j], [*prefix, *res.sequence(j).tolist()])
        key = total[live] + h
        keep = _distinct_best(exp.board[live], key)
        if keep.size > width:
            keep = keep[np.argpartition(-key[keep], width - 1)[:width]]
        chosen = live[keep]
        history.append((exp.parent[chosen], exp.move[chosen]))
        boards = exp.board[chosen]
        scores = total[chosen]
    return not cut


def beam(
    board: np.ndarray,
    config: BubbleConfig,
    width: int = 16,
    evaluator: str = "value",
    budget: Budget | None = None,
    engine: Engine | None = None,
    value: ValueFunction | None = None,
    rng: np.random.Generator | None = None,
) -> SearchResult:
    """Beam search from ``board`` ``(rows, cols)``; ``evaluator`` is ``"value"`` (needs ``value``) or a playout
    policy. Without a time budget: one pass of ``width``; with one: passes of growing width (``info["widths"]``)."""
    if width < 1:
        raise ValueError(f"beam width must be >= 1, got {width}")
    engine = engine or make_engine(config)
    if evaluator == "value":
        require_value(value, config, "beam search with evaluator 'value'")
        playout = None
    else:
        playout = make_playout(evaluator, engine)
    board, meter, rng = start_search(board, engine, budget, value, rng)
    best = _Best()
    widths = []
    w = width
    while True:
        started = meter.budget.elapsed()
        widths.append(w)
        finished = _pass(board, w, evaluator, engine, value, playout, meter, rng, best)
        if meter.budget.time_s is None or not finished:
            break
        spent = max(meter.budget.elapsed() - started, 1e-3)
        left = meter.budget.remaining_s()
        if left < 0.5 * spent:  # even half as wide a pass would not fit
            break
        w = max(w + 1, int(w * 0.8 * left / spent))  # passes cost about width x depth
    if not best.moves and not np.isfinite(best.score):
        best.score = 0.0  # the position was over
    return meter.result(best.moves, best.score, widths=widths, evaluator=evaluator)
