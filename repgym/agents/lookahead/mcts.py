"""Single-player Monte-Carlo Tree Search (Schadd et al. 2008) for Bubble Breaker / SameGame.

Each iteration descends the tree by the SP-MCTS selection rule, expands the leaf *with all its moves at once* and
evaluates every new child in one batch — one compiled playout each (``leaf="playout"``) or ``r + V`` from one
forward pass (``leaf="value"``) — then backs the children's returns up the path. Selection picks the child
maximising::

    mean + C * sqrt(ln N_parent / n) + sqrt(variance + D / n)

over the child's sampled returns ``r_child + return after it`` divided by a fixed ``scale`` (the mean absolute
return of the root's first evaluations), so ``C`` and ``D`` need no retuning between scorings. The last term is
Schadd's single-player variance term: in a one-player game a child whose returns vary widely may hide a very good
line, and ``D`` keeps it alive while few samples exist.

Moves are committed one at a time, with the subtree kept: each move gets a slice of the remaining time (twice an
even share over the moves likely left, so early moves, which matter most, get more). With playout leaves the
committed move is the next move of the best complete sequence found (best-sequence memory: every playout is a
complete game); with value leaves it is the most visited child.
"""

from __future__ import annotations

import math

import numpy as np

from repgym.agents.lookahead.budget import Budget, Meter, SearchResult, start_search
from repgym.agents.lookahead.engine import Engine, make_engine
from repgym.agents.lookahead.playouts import PlayoutFn, make_playout
from repgym.agents.lookahead.value import ValueFunction, require_value
from repgym.envs.bubble import rules
from repgym.envs.bubble.rules import BubbleConfig


class Node:
    """A position in the tree; statistics are of returns measured from the *parent's* position through here."""

    __slots__ = ("board", "move", "reward", "terminal", "children", "n", "total", "total_sq")

    def __init__(self, board: np.ndarray, move: int, reward: float, terminal: bool) -> None:
        self.board = board
        self.move = move
        self.reward = reward
        self.terminal = terminal
        self.children: list[Node] | None = None
        self.n = 0
        self.total = 0.0
        self.total_sq = 0.0

    def add(self, samples: np.ndarray) -> None:
        self.n += samples.size
        self.total += float(samples.sum())
        self.total_sq += float((samples * samples).sum())


class _Tree:
    """The search tree's shared state: how leaves are evaluated, the return scale and the best sequence found."""

    def __init__(
        self,
        engine: Engine,
        leaf: str,
        playout: PlayoutFn | None,
        value: ValueFunction | None,
        meter: Meter,
        rng: np.random.Generator,
        c: float,
        d: float,
        config: BubbleConfig,
    ) -> None:
        self.engine, self.leaf, self.playout, self.value = engine, leaf, playout, value
        self.meter, self.rng, self.c, self.d, self.config = meter, rng, c, d, config
        self.scale = 0.0
        self.best_score = -np.inf  # best complete sequence from the original root
        self.best_moves: list[int] = []
        self.iterations = 0

    def select(self, node: Node) -> Node:
        kids = node.children
        n = np.array([k.n for k in kids], np.float64)
        mean = np.array([k.total for k in kids]) / n
        var = np.maximum(np.array([k.total_sq for k in kids]) / n - mean * mean, 0.0)
        s = self.scale
        log_parent = math.log(max(node.n, 1))
        score = mean / s + self.c * np.sqrt(log_parent / n) + np.sqrt(var / (s * s) + self.d / n)
        return kids[int(np.argmax(score))]

    def iterate(self, root: Node, prefix_moves: list[int], prefix_score: float) -> None:
        """One selection-expansion-evaluation-backup step from ``root`` (reached by ``prefix_moves``)."""
        self.iterations += 1
        path = [root]
        node = root
        while node.children:
            node = self.select(node)
            path.append(node)
        if node.terminal or node.children is not None:  # a finished game: its return after it is 0
            returns = np.zeros(1)
        else:
            returns = self.expand(node, path, prefix_moves, prefix_score)
        for n in reversed(path[1:]):
            returns = n.reward + returns
            n.add(returns)
        root.n += returns.size

    def expand(self, node: Node, path: list[Node], prefix_moves: list[int], prefix_score: float) -> np.ndarray:
        """Create all children of ``node``, evaluate them in one batch; returns their returns from ``node``."""
        exp = self.engine.expand(node.board[None])
        if exp.move.size == 0:
            node.children = []
            node.terminal = True
            return np.zeros(1)
        after = np.zeros(exp.move.size)
        live = np.flatnonzero(~exp.terminal)
        res = None
        if live.size:
            if self.leaf == "value":
                after[live] = self.value(exp.board[live])
            else:
                res = self.playout(exp.board[live], self.rng)
                after[live] = res.score
        returns = exp.reward + after
        node.children = []
        for i in range(exp.move.size):
            child = Node(exp.board[i], int(exp.move[i]), float(exp.reward[i]), bool(exp.terminal[i]))
            child.add(returns[i : i + 1])
            node.children.append(child)
        if self.scale == 0.0:
            self.scale = max(1.0, float(np.abs(returns).mean()))
        path_score = prefix_score + sum(n.reward for n in path[1:])
        exact = np.flatnonzero(exp.terminal) if self.leaf == "value" else np.arange(exp.move.size)
        if exact.size:
            i = exact[int(np.argmax(returns[exact]))]
            if path_score + returns[i] > self.best_score:
                tail = []
                if res is not None and not exp.terminal[i]:
                    tail = res.sequence(int(np.searchsorted(live, i))).tolist()
                self.best_score = path_score + float(returns[i])
                self.best_moves = [*prefix_moves, *(n.move for n in path[1:]), int(exp.move[i]), *tail]
        return returns


def mcts(
    board: np.ndarray,
    config: BubbleConfig,
    leaf: str = "playout",
    playout: str = "tabu-colour",
    budget: Budget | None = None,
    engine: Engine | None = None,
    value: ValueFunction | None = None,
    rng: np.random.Generator | None = None,
    c: float = 0.1,
    d: float = 0.05,
    iterations_per_move: int = 200,
) -> SearchResult:
    """SP-MCTS from ``board`` ``(rows, cols)``.

    ``leaf``: ``"playout"`` (one ``playout``-policy game per new child) or ``"value"`` (``r + V``, needs
    ``value``). ``c``, ``d``: exploration constants in units of the return scale (module docstring). Without a
    time budget each move gets ``iterations_per_move`` iterations (a node budget is split the same way as time).
    """
    if leaf not in ("playout", "value"):
        raise ValueError(f"leaf must be 'playout' or 'value', got {leaf!r}")
    engine = engine or make_engine(config)
    if leaf == "value":
        require_value(value, config, "MCTS with value leaves")
    playout_fn: PlayoutFn | None = make_playout(playout, engine, value) if leaf == "playout" else None
    board, meter, rng = start_search(board, engine, budget, value, rng)
    tree = _Tree(engine, leaf, playout_fn, value, meter, rng, c, d, config)
    root = Node(board, -1, 0.0, False)
    moves: list[int] = []
    score = 0.0
    while True:
        if leaf == "playout" and tree.best_moves and meter.exhausted():
            moves, score = list(tree.best_moves), tree.best_score  # out of budget: follow the best sequence
            break
        if root.children is None:
            tree.iterate(root, moves, score)
        if not root.children:
            break
        if len(root.children) > 1:
            _think(tree, root, moves, score, meter, iterations_per_move)
        if leaf == "playout" and len(tree.best_moves) > len(moves):
            nxt = tree.best_moves[len(moves)]
            root = next(k for k in root.children if k.move == nxt)
        else:
            root = max(root.children, key=lambda k: (k.n, k.total / k.n))
        moves.append(root.move)
        score += root.reward
    return meter.result(moves, score, iterations=tree.iterations, leaf=leaf, playout=playout if leaf == "playout"
                        else None)  # fmt: skip


def _think(tree: _Tree, root: Node, moves: list[int], score: float, meter: Meter, per_move: int):
    """Iterate from ``root`` for this move's slice of the budget."""
    budget = meter.budget
    moves_left = max(1.0, rules.playable(root.board, tree.config).sum() / 4.0)  # about 4 bubbles per move
    share = min(1.0, 2.0 / moves_left)
    if budget.time_s is not None:
        deadline = budget.elapsed() + max(0.0, budget.remaining_s()) * share
        while budget.elapsed() < deadline and not meter.exhausted():
            tree.iterate(root, moves, score)
    elif budget.nodes is not None:
        stop = meter.playouts + meter.evaluations + max(1, budget.nodes - meter.playouts - meter.evaluations) * share
        # An iteration that ends in a finished game spends no playout or evaluation, and the selection may return
        # to a solved line for ever: such an iteration counts as one node, so that a node budget always ends.
        finished = 0
        while meter.playouts + meter.evaluations + finished < stop:
            spent = meter.playouts + meter.evaluations
            tree.iterate(root, moves, score)
            finished += meter.playouts + meter.evaluations == spent
    else:
        for _ in range(per_move):
            tree.iterate(root, moves, score)
