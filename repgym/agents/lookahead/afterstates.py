"""The moves a look-ahead agent weighs, for a batch of games at once: every legal move's afterstate as the agent
may see it, its reward, and one-step choices (argmax of ``r + V``, per-board softmax sampling).

Deterministic variants: the afterstate is the true successor and the reward the true reward (end bonus and
penalty included), from the compiled or numpy engine.

Continuous variants: the columns that a move empties are refilled at random, so the agent cannot know them. The
afterstate shows the successor *before* the refill, with the emptied columns marked in an ``unknown`` mask that
the value network reads as an extra input plane; the reward is the group's points only. Whatever else the move
brings (a grey column's payment) is left to the value target, which is the true return after the move, so V
learns the expectation over the random fills.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from repgym.agents.lookahead.engine import Engine
from repgym.envs.bubble import rules
from repgym.envs.bubble.rules import BubbleConfig


class Candidates(NamedTuple):
    """Every legal move of a batch of boards, as the agent sees it; one row per (board, group)."""

    parent: np.ndarray  # (k,) int64, index of the board the move is played on
    move: np.ndarray  # (k,) int64, the group's representative cell
    board: np.ndarray  # (k, rows, cols) int8, the afterstate (Continuous: emptied columns left empty)
    unknown: np.ndarray | None  # (k, cols) bool, columns still to arrive (Continuous variants), else None
    reward: np.ndarray  # (k,) float64, the move's reward as far as it is known when choosing
    terminal: np.ndarray  # (k,) bool, the afterstate is known to have no move left


def candidates(boards: np.ndarray, config: BubbleConfig, engine: Engine | None = None) -> Candidates:
    """All legal moves of ``boards`` ``(n, rows, cols)``; ``engine`` computes them in the deterministic variants
    (default: the batched numpy rules)."""
    boards = np.ascontiguousarray(rules.as_batch(boards), dtype=np.int8)
    if not config.continuous:
        if engine is not None:
            exp = engine.expand(boards)
            return Candidates(exp.parent, exp.move, exp.board, None, exp.reward, exp.terminal)
        return _rules_candidates(boards, config, config)
    fixed = dataclasses.replace(config, continuous=False)
    parent, move, after, _, removed = _expand_with(boards, config, fixed)
    unknown = after[:, -1, :] == 0  # after settling, exactly the emptied columns have an empty bottom cell
    reward = rules.group_reward(removed, config)
    terminal = ~unknown.any(axis=1) & ~rules.has_moves(after, config)
    return Candidates(parent, move, after, unknown, reward, terminal)


def _rules_candidates(boards: np.ndarray, config: BubbleConfig, fixed: BubbleConfig) -> Candidates:
    parent, move, after, reward, _ = _expand_with(boards, config, fixed)
    terminal = ~rules.has_moves(after, config)
    return Candidates(parent, move, after, None, reward, terminal)


def _expand_with(boards: np.ndarray, config: BubbleConfig, fixed: BubbleConfig):
    """Moves of ``boards`` under ``config``, successors stepped with the deterministic rules ``fixed``."""
    n, rows, cols = boards.shape
    labels = rules.label_groups(boards, config).reshape(n, -1)
    parent, move = np.nonzero(labels == np.arange(rows * cols, dtype=labels.dtype))
    k = parent.size
    state = rules.BubbleState(boards[parent].copy(), np.zeros(k, np.uint64), np.zeros(k, np.int64), np.zeros(k))
    result = rules.step(state, move.astype(np.int64), fixed)
    return parent.astype(np.int64), move.astype(np.int64), result.state.board, result.reward, result.removed


def best_per_board(parent: np.ndarray, score: np.ndarray, n: int) -> np.ndarray:
    """For each of ``n`` boards, the index of its highest-``score`` candidate (the first on ties), -1 if none."""
    best = np.full(n, -1, np.int64)
    if parent.size == 0:
        return best
    order = np.lexsort((-score, parent))  # by board, then best score first; lexsort is stable
    boards_seen, first = np.unique(parent[order], return_index=True)
    best[boards_seen] = order[first]
    return best


def sample_per_board(parent: np.ndarray, logits: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """For each of ``n`` boards, one candidate index drawn with probability ``softmax(logits)`` over its own
    candidates (Gumbel-max trick), -1 if it has none."""
    gumbel = -np.log(-np.log(rng.random(parent.size) + 1e-300) + 1e-300)
    return best_per_board(parent, logits + gumbel, n)
