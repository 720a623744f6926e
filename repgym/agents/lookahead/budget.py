"""What a search may spend, and what it returns.

A :class:`Budget` holds a wall-clock limit (seconds), a node limit (playouts plus value-network evaluations), or
both; a search checks it between batches, so it overruns by at most one batch of playouts or forward passes
(milliseconds). A budget with neither limit lets the search run its natural course once (one NMCS pass, one
beam pass at the given width, MCTS with a default number of iterations per move).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Budget:
    """``time_s``: wall-clock seconds from :meth:`start`; ``nodes``: playouts + value evaluations; ``clock``: the
    seconds counter (tests inject a deterministic one)."""

    time_s: float | None = None
    nodes: int | None = None
    clock: Callable[[], float] = field(default=time.perf_counter, repr=False)
    _start: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if self.time_s is not None and self.time_s <= 0:
            raise ValueError(f"time budget must be > 0 seconds, got {self.time_s}")
        if self.nodes is not None and self.nodes < 1:
            raise ValueError(f"node budget must be >= 1, got {self.nodes}")

    @property
    def unlimited(self) -> bool:
        return self.time_s is None and self.nodes is None

    def start(self) -> Budget:
        self._start = self.clock()
        return self

    def elapsed(self) -> float:
        return self.clock() - self._start

    def remaining_s(self) -> float:
        """Seconds left (infinite without a time limit)."""
        return float("inf") if self.time_s is None else self.time_s - self.elapsed()

    def exhausted(self, nodes_used: int = 0) -> bool:
        """The time is up or ``nodes_used`` reached the node limit."""
        if self.time_s is not None and self.elapsed() >= self.time_s:
            return True
        return self.nodes is not None and nodes_used >= self.nodes


@dataclass
class SearchResult:
    """A complete move sequence from the searched position and its score."""

    moves: np.ndarray  # (length,) int64, cells clicked (row * cols + col, row 0 at the top)
    score: float  # sum of the rewards of ``moves`` (end bonus / penalty included)
    elapsed_s: float  # wall-clock seconds spent
    playouts: int = 0  # complete playouts run
    evaluations: int = 0  # value-network evaluations
    info: dict[str, Any] = field(default_factory=dict)  # method-specific counters (iterations, widths, ...)


class Meter:
    """Counts what one search spends against its budget: playouts run by ``engine`` and evaluations by ``value``
    since the meter was made (it starts the budget's clock)."""

    def __init__(self, budget: Budget, engine: Any, value: Any = None) -> None:
        self.budget = budget.start()
        self.engine = engine
        self.value = value
        self._playouts0 = engine.playouts_run
        self._evaluations0 = value.evaluations if value is not None else 0

    @property
    def playouts(self) -> int:
        return self.engine.playouts_run - self._playouts0

    @property
    def evaluations(self) -> int:
        return (self.value.evaluations - self._evaluations0) if self.value is not None else 0

    def exhausted(self) -> bool:
        return self.budget.exhausted(self.playouts + self.evaluations)

    def result(self, moves: Any, score: float, **info: Any) -> SearchResult:
        return SearchResult(np.asarray(moves, np.int64), float(score), self.budget.elapsed(), self.playouts,
                            self.evaluations, info)  # fmt: skip


def start_search(
    board: np.ndarray, engine: Any, budget: Budget | None, value: Any = None, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, Meter, np.random.Generator]:
    """What every budgeted search does first: ``(board, meter, rng)`` — ``board`` as ``engine`` checks it
    (``(rows, cols) int8``), a :class:`Meter` that starts the budget's clock (no budget: one natural pass;
    ``meter.budget`` is the budget) and the search's generator (default: seeded 0)."""
    budget = budget or Budget()
    rng = rng or np.random.default_rng(0)
    board = engine.check_boards(board)[0]
    return board, Meter(budget, engine, value), rng
