"""Baseline policies for Bubble Breaker / SameGame: pure, batched functions over :mod:`repgym.envs.bubble.rules`.

A policy function takes boards ``(batch, rows, cols) int8``, the game's :class:`~repgym.envs.bubble.rules.BubbleConfig`
and a ``numpy.random.Generator``, and returns one flat cell index ``row * cols + col`` per board, ``(batch,) int64``,
using array operations only, so the same function drives one env, the native vector env or a batch of playouts.
Every cell of a group gives the same move, so a policy chooses among *groups* and clicks the group's
representative cell (its smallest flat index, :func:`rules.label_groups`). A board with no legal move gets cell 0
(any click is then a no-op).

Stochastic policies draw exactly one uniform number per board, in board order, whether or not the board has a
move: a batched call and the same boards passed one by one through the same generator choose the same moves.

```python
from repgym.envs.bubble.policies import POLICIES, policy_action
actions = POLICIES["greedy"].fn(state.board, config, rng)   # (batch,) cell indices
action = policy_action("random", env, rng)                  # one move for a single BubbleBreakerEnv
actions = policy_actions("random", vec_env, rng)            # (num_envs,) moves for a BubbleBreakerVectorEnv
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from repgym.envs.bubble import rules
from repgym.envs.bubble.rules import BubbleConfig

PolicyFn = Callable[[np.ndarray, BubbleConfig, np.random.Generator], np.ndarray]
"""``fn(boards (batch, rows, cols), config, rng) -> (batch,) int64`` flat cell indices."""


class Groups(NamedTuple):
    """The legal groups of a batch of boards, indexed by flat cell; only representative cells describe a group."""

    representative: np.ndarray  # (batch, cells) bool, the cell is its group's representative (smallest index)
    size: np.ndarray  # (batch, cells) int64, the group's size at its representative, 0 elsewhere
    colour: np.ndarray  # (batch, cells) int8, the cell's colour (0 empty, colours + 1 grey)


def groups(boards: np.ndarray, config: BubbleConfig) -> Groups:
    """Representative cell, size and colour of every legal group (>= 2 bubbles) of each board."""
    b = rules.as_batch(boards)
    labels = rules.label_groups(b, config)
    n = b.shape[0]
    flat = labels.reshape(n, -1)
    cells = flat.shape[1]
    representative = flat == np.arange(cells, dtype=flat.dtype)[None, :]
    offset = (np.arange(n, dtype=np.int64) * cells)[:, None]
    in_group = flat >= 0
    # A group's label is its representative's index, so counting labels gives sizes at the representatives.
    counts = np.bincount((flat + offset)[in_group], minlength=n * cells).reshape(n, cells)
    size = np.where(representative, counts, 0).astype(np.int64)
    return Groups(representative, size, b.reshape(n, -1))


def sample_cells(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One cell per board drawn with probability proportional to ``weights`` ``(batch, cells)`` (non-negative
    integers); cell 0 for a board whose weights are all zero. Draws exactly one uniform per board."""
    weights = np.asarray(weights, dtype=np.int64)
    u = rng.random(weights.shape[0])
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1]
    # Integer target in 0..total-1: exact proportions, no float drift in the cumulative sum.
    target = np.minimum(np.floor(u * total).astype(np.int64), np.maximum(total - 1, 0))
    chosen = (cumulative <= target[:, None]).sum(axis=1)
    return np.where(total > 0, chosen, 0).astype(np.int64)


# --------------------------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------------------------


def random_group(boards: np.ndarray, config: BubbleConfig, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random over groups: every legal group equally likely, whatever its size."""
    return sample_cells(groups(boards, config).representative, rng)


def size_weighted(boards: np.ndarray, config: BubbleConfig, rng: np.random.Generator) -> np.ndarray:
    """A random group with probability proportional to its size (a uniformly random legal *cell*)."""
    return sample_cells(groups(boards, config).size, rng)


def greedy(boards: np.ndarray, config: BubbleConfig, rng: np.random.Generator) -> np.ndarray:
    """The largest group; ties go to the lowest representative cell index. Deterministic (``rng`` unused)."""
    size = groups(boards, config).size
    return np.argmax(size, axis=1).astype(np.int64)  # argmax takes the first maximum; all zero -> cell 0


def tabu_colour(boards: np.ndarray, config: BubbleConfig, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random over groups, avoiding the *tabu colour* while a group of another colour exists.

    The tabu colour is the colour with the most bubbles left on the board (ties: the lowest colour number); keeping
    it together lets it grow into one big, high-scoring group (Schadd et al. 2008, "Single-Player Monte-Carlo Tree
    Search", TabuColorRandom). Grey bubbles are not a colour.
    """
    g = groups(boards, config)
    colours = np.arange(1, config.colours + 1, dtype=g.colour.dtype)
    counts = (g.colour[:, :, None] == colours[None, None, :]).sum(axis=1)  # (batch, colours)
    tabu = colours[np.argmax(counts, axis=1)]
    allowed = g.representative & (g.colour != tabu[:, None])
    weights = np.where(allowed.any(axis=1, keepdims=True), allowed, g.representative)
    return sample_cells(weights, rng)


@dataclass(frozen=True)
class Policy:
    """A named baseline policy: ``fn(boards (batch, rows, cols), config, rng) -> (batch,) int64`` cell indices."""

    name: str
    description: str  # one line, for ``repgym list`` and reports
    fn: PolicyFn

    def __call__(self, boards: np.ndarray, config: BubbleConfig, rng: np.random.Generator) -> np.ndarray:
        return self.fn(boards, config, rng)


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy("random", "uniformly random over groups (every group equally likely, not every cell)", random_group),
        Policy("size-weighted", "random, a group's probability proportional to its size", size_weighted),
        Policy("greedy", "always the largest group (ties: the first in cell order)", greedy),
        Policy("tabu-colour", "random, avoiding the colour with most bubbles left while another move exists",
               tabu_colour),
    )
}  # fmt: skip


def get_policy(name: str | Policy) -> Policy:
    """The policy called ``name`` (a :class:`Policy` is returned as is); ``ValueError`` naming the choices."""
    if isinstance(name, Policy):
        return name
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; expected one of {', '.join(POLICIES)}")
    return POLICIES[name]


def policy_actions(name: str | Policy, env, rng: np.random.Generator) -> np.ndarray:
    """Moves of policy ``name`` for every board of a (possibly wrapped) ``BubbleBreakerEnv`` or
    ``BubbleBreakerVectorEnv`` after ``reset()``: ``(batch,) int64`` cell indices (batch 1 for the single env)."""
    policy = get_policy(name)
    base = env.unwrapped
    if not isinstance(getattr(base, "config", None), BubbleConfig) or not hasattr(base, "game"):
        raise ValueError(f"policy_actions needs a Bubble Breaker / SameGame env, got {base!r}")
    if base.game is None:
        raise RuntimeError("call env.reset() before asking a policy for a move")
    return policy(base.game.board, base.config, rng)


def policy_action(name: str | Policy, env, rng: np.random.Generator) -> int:
    """One move of policy ``name`` for a single (possibly wrapped) ``BubbleBreakerEnv`` after ``reset()``."""
    return int(policy_actions(name, env, rng)[0])


__all__ = [
    "POLICIES",
    "Groups",
    "Policy",
    "PolicyFn",
    "get_policy",
    "greedy",
    "groups",
    "policy_action",
    "policy_actions",
    "random_group",
    "sample_cells",
    "size_weighted",
    "tabu_colour",
]
