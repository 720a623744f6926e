"""Nested Rollout Policy Adaptation (Rosin 2011) for SameGame and Bubble Breaker, compiled.

NRPA learns a playout policy while it searches: a playout draws each move from ``softmax(weight(code(move)) +
bias(move))`` over the legal moves, and after every iteration of a level the policy is pulled toward the best
sequence found so far at that level::

    nrpa(level, policy):
        if level == 1: repeat N times: line = playout(policy); keep the best; policy = adapt(policy, best)
        else:          repeat N times: line = nrpa(level - 1, copy of policy); keep the best; adapt(policy, best)
        return best

    adapt(policy, line): for every step of line: weight(chosen) += alpha; weight(m) -= alpha * p(m) for every
                         candidate m, p from the policy before the call

Every level keeps the best line it has seen, so a search never returns less than its best playout. Level 1 runs
whole in compiled code (:mod:`.nrpa_kernels`: policy playouts on column bit boards, the adaptation, and an undo
log instead of a policy copy); levels 2 and up loop in Python, one level-1 search (``N`` playouts, tens of
milliseconds on 15x15) between budget checks.

Choices, and why:

- **Move code** = Zobrist hash of the group's colour and cells. A group that the other moves leave alone keeps its
  code wherever it occurs, so the weight learnt for clicking it applies in every position of the search where it
  is on the board; a coarser code (the clicked cell, or colour and size) would merge different groups, a finer
  one (with the whole position) would learn nothing transferable between positions.
- **Tabu-colour prior** (``tabu_bias``): groups of the colour with most bubbles left get ``-tabu_bias`` added to
  their logit while another colour can move; the default ``inf`` leaves them out (Cazenave's *selective policies*
  for SameGame: keep the big colour for one large final group). With an untrained policy a playout is then a
  tabu-colour playout, the best of the cheap playout policies, so NRPA starts where NMCS's playouts are.
- **Restarts**: with a time or node budget, when a level-``L`` search ends with budget left a new one starts
  from the initial policy with fresh random numbers and the best of all is kept; a search that converged on one
  line then spends no more time polishing it (Edelkamp & Cazenave's restarts for diversity).
- **Stabilised NRPA** (Cazenave, Sevestre & Toulemont 2021): ``playouts_per_iteration = P`` plays ``P`` playouts
  at level 1 before each adaptation, so the policy moves toward a better-chosen line; default 1 (Rosin).
- **Parallel searches** (``workers`` processes, the calling one included). From level 3, a *shared top level*:
  every iteration of the top level runs ``workers`` searches of the level below from the same policy, with
  independent random numbers, and the policy moves toward the best line so far (stabilised NRPA's idea, one level
  up, at no cost in time). At levels 1 and 2 a step of the top level is too short (milliseconds) to pay for a
  round trip to other processes, so they run *root parallelism*: ``workers`` independent searches, best kept. At
  480,000 playouts per board (about 60 s on 2 cores), level 3 with 10 top-level iterations, on 12 random positions
  outside the board set (seeds 777000-777011, 2026-12-07), the shared top level scored 43,480 against 43,016 for
  the best of two independent searches (+1.1%; ahead on 7 boards, level on 2, behind on 3): suggestive, not
  conclusive.
- **Prior from a value network** (``value``): the initial policy weights the moves along the one-step
  look-ahead's game (``argmax r + V``) by ``(r + V) / (prior_temperature * scale)``, so the first playouts follow
  the learned value and NRPA improves on it (a hook: any ``(codes, weights)`` prior can be passed).

Defaults: level 2, N = 100 iterations (Rosin), alpha = 1, tabu colour left out, P = 1. A level-2 search is
10,000 playouts (1.3-1.4 s on one core for 15x15: 7,000-7,900 policy playouts/s), so a 60 s budget makes dozens of
restarts; a level-3 pass (a million playouts) takes minutes. Chosen on random 15x15 positions outside the
project's board set, at 6-20 s per board: restarted level 2 beat a level 3 stopped by the budget (10,983 vs
10,235 on 3 boards at 20 s) and beat alpha = 2, a soft tabu bias of 3 and N = 50 (19,467 vs 19,020, 17,662 and
17,258 on 6 boards at 6 s); P = 4 did not help at 8 s. With minutes per board the balance turns: at 300 s with
2 workers level 3 beat level 2 on the 4 boards measured (16,792 vs 16,290), so use ``level=3`` for long budgets.
From about a minute on, a short level 3 is the better use of it: at 480,000 playouts per board (about 60 s on
one core) on 6 random positions outside the board set (seeds 777000-777005), level 3 with ``top_iterations``
5, 10, 15, 25 and 100 (the last stopped by the budget) scored 22,446, 22,610, 22,528, 22,428 and 22,510 against
restarted level 2's 22,164; with other random numbers level 3 with 10 scored 22,534 against level 2's 22,364
(2026-12-07; ``level=3, top_iterations=10`` ahead on 11 of the 12 board runs). Smaller N below a longer top did
not do better at that budget: level 3 with N = 50 and 40 top iterations 22,374, level 4 with N = 30 and 17 top
iterations 22,408. So use ``level=3, top_iterations=10`` for budgets of a minute. These are small samples: the
differences are suggestive.
"""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from repgym.agents.lookahead import nrpa_kernels as K
from repgym.agents.lookahead.budget import Budget, Meter, SearchResult, start_search
from repgym.agents.lookahead.engine import Engine, make_engine
from repgym.agents.lookahead.value import ValueFunction
from repgym.envs.bubble import kernels, rules
from repgym.envs.bubble.rules import BubbleConfig

TABLE_BITS = 16  # initial policy table: 65,536 codes; it doubles when a quarter full


@dataclass
class Policy:
    """NRPA's policy: move code -> weight, in an open-addressing table (see :mod:`.nrpa_kernels`)."""

    keys: np.ndarray  # (size,) int64, 0 = empty
    weights: np.ndarray  # (size,) float64
    stats: np.ndarray  # (2,) int64: codes stored, updates dropped (table full)

    @classmethod
    def empty(cls, bits: int = TABLE_BITS) -> Policy:
        return cls(np.zeros(1 << bits, np.int64), np.zeros(1 << bits, np.float64), np.zeros(2, np.int64))

    @classmethod
    def from_weights(cls, codes: np.ndarray, weights: np.ndarray) -> Policy:
        """A policy holding ``weights[i]`` for ``codes[i]`` (non-zero int64 codes)."""
        bits = max(TABLE_BITS, int(np.ceil(np.log2(max(4 * len(codes), 1)))))
        policy = cls.empty(bits)
        for code, w in zip(np.asarray(codes, np.int64), np.asarray(weights, np.float64), strict=True):
            K.set_weight(policy.keys, policy.weights, policy.stats, code, w)
        return policy

    @property
    def size(self) -> int:
        return self.keys.size

    def copy(self) -> Policy:
        return Policy(self.keys.copy(), self.weights.copy(), self.stats.copy())

    def weight(self, code: int) -> float:
        return float(K.weight_of(self.keys, self.weights, np.int64(code)))

    def grow_if_crowded(self) -> None:
        """Double the table while it is over a quarter full (keeps probe chains short, and room for a level-1
        search's own codes)."""
        while self.stats[0] > self.size // 4:
            keys, weights = np.zeros(2 * self.size, np.int64), np.zeros(2 * self.size, np.float64)
            K.rehash(self.keys, self.weights, keys, weights)
            self.keys, self.weights = keys, weights


@dataclass
class Line:
    """A complete sequence with its candidates (for adaptation): ``arrays`` as :func:`nrpa_kernels.new_line`."""

    score: float
    length: int
    arrays: tuple

    @property
    def moves(self) -> np.ndarray:
        return self.arrays[0][: self.length].astype(np.int64)


def adapt(policy: Policy, line: Line, alpha: float, scratch: np.ndarray | None = None) -> None:
    """Pull ``policy`` toward ``line`` in place (Rosin's adaptation; :func:`nrpa_kernels.adapt`): at each step the
    chosen move's weight gains ``alpha`` and each candidate's loses ``alpha * p``, ``p`` its probability under the
    policy before the call. ``scratch``: ``(S, G) float64`` work array (made when missing)."""
    arrays = line.arrays
    scratch = np.zeros(arrays[3].shape, np.float64) if scratch is None else scratch
    no_undo = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(1, np.int64))
    K.adapt(policy.keys, policy.weights, policy.stats, arrays, line.length, alpha, scratch, no_undo,
            np.zeros(0, np.int64), 0)  # fmt: skip
    policy.grow_if_crowded()


class _Search:
    """One NRPA search (one process, one random stream); see the module docstring."""

    def __init__(self, board: np.ndarray, config: BubbleConfig, meter: Meter, rng: np.random.Generator,
                 iterations: int, alpha: float, tabu_bias: float, per_iteration: int, trace: bool) -> None:  # fmt: skip
        self.board = board
        self.params = kernels.rule_params(config)
        self.zob = K.zobrist_table(config.n_cells, config.colours)
        self.meter = meter
        self.rng = rng
        self.iterations = iterations
        self.alpha = alpha
        self.tabu_bias = tabu_bias
        self.per_iteration = per_iteration
        self.steps = config.n_cells // 2
        self.work = K.bit_work(config.rows, config.cols, config.colours)
        self.scratch = K.new_line(self.steps)
        self.delta = np.zeros((self.steps, self.steps + 1), np.float64)
        self.undo = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(1, np.int64))
        self.stamp = np.zeros(0, np.int64)
        self.gen = 0
        self.trace: list[np.ndarray] | None = [] if trace else None

    def search(self, level: int, policy: Policy, iterations: int | None = None) -> Line:
        """The best line of a level-``level`` search with ``policy`` (adapted in place at levels >= 2);
        ``iterations`` at this level (default: the search's N; the levels below always use N)."""
        n = self.iterations if iterations is None else iterations
        if level == 1:
            return self._level1(policy, n)
        best: Line | None = None
        for _ in range(n):
            if best is not None and self.meter.exhausted():
                break
            line = self.search(level - 1, policy.copy() if level > 2 else policy)
            if best is None or line.score >= best.score:
                best = line
            adapt(policy, best, self.alpha, self.delta)
        assert best is not None
        return best

    def _level1(self, policy: Policy, iterations: int) -> Line:
        if self.stamp.size < policy.size:  # one undo slot per table slot: each is logged once per level-1 search
            n = policy.size
            self.undo = (np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.float64), np.zeros(1, np.int64))
            self.stamp = np.zeros(n, np.int64)
        self.gen += 1
        best = K.new_line(self.steps)
        trace = np.zeros(iterations * self.per_iteration if self.trace is not None else 0, np.float64)
        seed = np.uint64(self.rng.integers(0, 2**63))
        score, length, played = K.level1(self.board, self.params, policy.keys, policy.weights, policy.stats,
                                          self.zob, self.tabu_bias, self.alpha, iterations, self.per_iteration,
                                          seed, best, self.scratch, self.work, self.delta, self.undo, self.stamp,
                                          self.gen, trace)  # fmt: skip
        self.meter.engine.playouts_run += played
        if self.trace is not None:
            self.trace.append(trace[:played])
        return Line(float(score), int(length), best)


def nrpa(
    board: np.ndarray,
    config: BubbleConfig,
    level: int = 2,
    iterations: int = 100,
    top_iterations: int | None = None,
    alpha: float = 1.0,
    tabu_bias: float = np.inf,
    playouts_per_iteration: int = 1,
    workers: int = 1,
    budget: Budget | None = None,
    engine: Engine | None = None,
    value: ValueFunction | None = None,
    rng: np.random.Generator | None = None,
    prior: tuple[np.ndarray, np.ndarray] | None = None,
    prior_temperature: float = 1.0,
    record_rollouts: bool = False,
) -> SearchResult:
    """NRPA of level ``level`` (>= 1) from ``board`` ``(rows, cols)`` (standard rules, SameGame or Bubble Breaker
    scoring); see the module docstring for the method and its defaults.

    ``iterations``: N per level; ``top_iterations``: iterations of the top level alone (default N: a level-3
    search with ``top_iterations=10`` is ten level-2 searches in a row, each starting from the policy pulled toward
    the best line so far); ``alpha``: adaptation step; ``tabu_bias``: logit penalty of the tabu colour's
    groups (``inf``: left out while another colour can move; 0: no prior); ``playouts_per_iteration``: stabilised
    NRPA's P; ``workers``: processes (a shared top level from level 3, else independent searches, best kept).
    ``value``: start the policy from the value network's ``r + V`` along the look-ahead game
    (``prior_temperature`` in units of its scale); ``prior``: ``(codes, weights)`` to start from instead. Without
    a budget: one search; with one: restarts until it is spent (``info["passes"]``). ``record_rollouts``:
    ``info["rollout_scores"]`` holds every playout's score (one process only).
    """
    _check(config, level, iterations, top_iterations, alpha, tabu_bias, playouts_per_iteration, workers,
           prior_temperature)  # fmt: skip
    engine = engine or make_engine(config)
    board, meter, rng = start_search(board, engine, budget, value, rng)
    options = dict(level=level, iterations=iterations, top_iterations=top_iterations, alpha=alpha,
                   tabu_bias=tabu_bias, playouts_per_iteration=playouts_per_iteration)  # fmt: skip
    if value is not None and prior is None:
        prior = value_prior(board, config, value, engine, prior_temperature)
    if workers > 1 and level < 3:
        return _root_parallel(board, config, meter, rng, workers, prior, options)
    initial = Policy.from_weights(*prior) if prior is not None else Policy.empty()
    search = _Search(board, config, meter, rng, iterations, alpha, tabu_bias, playouts_per_iteration,
                     record_rollouts)  # fmt: skip
    if workers > 1:
        return _top_parallel(board, config, meter, rng, workers, initial, search, options)
    best, passes, dropped = _with_restarts(board, config, meter, initial,
                                           lambda policy: search.search(level, policy, top_iterations))  # fmt: skip
    info: dict[str, Any] = dict(options, passes=passes, workers=1, dropped_updates=dropped)
    if search.trace is not None:
        info["rollout_scores"] = np.concatenate(search.trace)
    return meter.result(best.moves, best.score, **info)


def _with_restarts(board: np.ndarray, config: BubbleConfig, meter: Meter, initial: Policy,
                   one_pass: Callable[[Policy], Line]) -> tuple[Line, int, int]:  # fmt: skip
    """Passes of ``one_pass`` (a whole top-level search, given a fresh copy of ``initial``) until the budget is
    spent, or one pass without a budget: ``(best line, passes, policy-table updates dropped)``."""
    best: Line | None = None
    passes = dropped = 0
    while True:
        passes += 1
        policy = initial.copy()
        line = one_pass(policy)
        dropped += int(policy.stats[1])
        if best is None or line.score > best.score:
            best = line
        if meter.budget.unlimited or meter.exhausted() or not rules.has_moves(board, config)[0]:
            return best, passes, dropped


def _check(config: BubbleConfig, level: int, iterations: int, top_iterations: int | None, alpha: float,
           tabu_bias: float, per_iteration: int, workers: int, prior_temperature: float) -> None:  # fmt: skip
    if config.row_shift:
        raise ValueError("nrpa plays the standard rules (columns close up), not the Shifter variants' row shift")
    top = iterations if top_iterations is None else top_iterations
    for name, v, low in (("level", level, 1), ("iterations", iterations, 1), ("top_iterations", top, 1),
                         ("workers", workers, 1), ("playouts_per_iteration", per_iteration, 1)):  # fmt: skip
        if int(v) != v or v < low:
            raise ValueError(f"nrpa {name} must be an integer >= {low}, got {v}")
    if not alpha > 0:
        raise ValueError(f"nrpa alpha (adaptation step) must be > 0, got {alpha}")
    if not tabu_bias >= 0:
        raise ValueError(f"nrpa tabu_bias must be >= 0 (inf: leave the tabu colour out), got {tabu_bias}")
    if not prior_temperature > 0:
        raise ValueError(f"nrpa prior_temperature must be > 0, got {prior_temperature}")


def value_prior(board: np.ndarray, config: BubbleConfig, value: ValueFunction, engine: Engine,
                temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(codes, weights)``: along the game the one-step look-ahead plays from ``board``, every legal move's
    ``(r + V(afterstate)) / (temperature * scale)``, centred per position (a code seen twice keeps its first
    weight). NRPA's initial policy then plays like a softmax of the look-ahead where that game goes."""
    from repgym.agents.lookahead.greedy import lookahead_play

    params = kernels.rule_params(config)
    zob = K.zobrist_table(config.n_cells, config.colours)
    game = lookahead_play(board, config, value, engine)
    weights: dict[int, float] = {}
    for move in game.moves:
        exp = engine.expand(board[None])
        v = np.zeros(exp.move.size)
        live = ~exp.terminal
        if live.any():
            v[live] = value(exp.board[live])
        logits = (exp.reward + v) / (temperature * value.scale)
        logits -= logits.mean()
        reps, codes = K.group_codes(board, params, zob)
        code_of = dict(zip(reps.tolist(), codes.tolist(), strict=True))
        for m, w in zip(exp.move.tolist(), logits.tolist(), strict=True):
            weights.setdefault(code_of[m], w)
        board = exp.board[int(np.flatnonzero(exp.move == move)[0])]
    return np.array(list(weights), np.int64), np.array(list(weights.values()), np.float64)


# ---------------------------------------------------------------------------------------------------------------
# Parallel searches: root parallelism (levels 1 and 2) and a shared top level (levels 3 and up)
# ---------------------------------------------------------------------------------------------------------------

_POOLS: dict[int, Any] = {}


def _pool(workers: int) -> Any:
    """A process pool of ``workers`` (kept for later searches: a solve run searches many boards)."""
    if workers not in _POOLS:
        from repgym.worker_pool import TetheredPool

        _POOLS[workers] = TetheredPool(workers, initializer=_warm_worker)
        if len(_POOLS) == 1:
            atexit.register(_close_pools)
    return _POOLS[workers]


def start_workers(workers: int) -> None:
    """Start (once per process) the pool of a ``workers``-way root-parallel search and load the compiled kernels
    in it, so that no search's budget is spent starting processes (:func:`solve.run_search` calls this before the
    clock starts, as it compiles the engine)."""
    if workers > 1:
        pool = _pool(workers - 1)
        for future in [pool.submit(os.getpid) for _ in range(workers - 1)]:
            future.result()


def _close_pools() -> None:
    for pool in _POOLS.values():
        pool.shutdown(wait=False, cancel_futures=True)
    _POOLS.clear()


def _warm_worker() -> None:
    """Load the compiled kernels before the first search (from numba's disk cache)."""
    config = BubbleConfig(rows=5, cols=5, colours=3, scoring="samegame", shift="left")
    board = rules.random_boards(np.arange(1), config)[0]
    nrpa(board, config, level=1, iterations=2)


def _seconds_left(deadline: float | None) -> float | None:
    """Seconds to ``deadline`` (``time.monotonic()`` seconds, one clock for all processes of the machine)."""
    return None if deadline is None else max(deadline - time.monotonic(), 1e-3)


def _sub_search(board: np.ndarray, config: dict, deadline: float | None, nodes: int | None, seed: int,
                policy: tuple[np.ndarray, ...], level: int, options: dict) -> tuple[Line, int]:  # fmt: skip
    """One search of the level below a shared top level, in a worker process: ``(best line, playouts)``."""
    bubble = BubbleConfig(**config)
    meter = Meter(Budget(time_s=_seconds_left(deadline), nodes=nodes), make_engine(bubble))
    search = _Search(board, bubble, meter, np.random.default_rng(seed), options["iterations"], options["alpha"],
                     options["tabu_bias"], options["playouts_per_iteration"], False)  # fmt: skip
    return search.search(level, Policy(*policy)), meter.playouts


def _top_parallel(board: np.ndarray, config: BubbleConfig, meter: Meter, rng: np.random.Generator, workers: int,
                  initial: Policy, local: _Search, options: dict) -> SearchResult:  # fmt: skip
    """A level ``L >= 3`` search whose top level is shared by ``workers`` processes: every top-level iteration
    runs ``workers`` level ``L - 1`` searches from the same policy with independent random numbers (``local`` in
    this process, the others in the pool), keeps the best line so far and adapts toward it; restarted like the
    one-process search. The policy then moves toward the best of ``workers`` lines at every step of the top
    level (stabilised NRPA's idea, one level up), where independent searches would each move on their own."""
    level, alpha = options["level"], options["alpha"]
    top = options["top_iterations"] or options["iterations"]
    budget = meter.budget
    deadline = None if budget.time_s is None else time.monotonic() + budget.remaining_s()
    pool = _pool(workers - 1)
    below = {k: options[k] for k in ("iterations", "alpha", "tabu_bias", "playouts_per_iteration")}

    def one_pass(policy: Policy) -> Line:
        best: Line | None = None
        for _ in range(top):
            if best is not None and meter.exhausted():
                break
            nodes = None if budget.nodes is None else max(1, (budget.nodes - meter.playouts) // workers)
            arrays = (policy.keys, policy.weights, policy.stats)
            futures = [pool.submit(_sub_search, board, config.to_dict(), deadline, nodes,
                                   int(rng.integers(0, 2**63)), arrays, level - 1, below)
                       for _ in range(workers - 1)]  # fmt: skip
            local.meter = Meter(Budget(time_s=_seconds_left(deadline), nodes=nodes), meter.engine)
            lines = [local.search(level - 1, policy.copy())]
            for future in futures:
                line, playouts = future.result()
                meter.engine.playouts_run += playouts
                lines.append(line)
            for line in lines:
                if best is None or line.score >= best.score:
                    best = line
            adapt(policy, best, alpha, local.delta)
        assert best is not None
        return best

    best, passes, dropped = _with_restarts(board, config, meter, initial, one_pass)
    return meter.result(best.moves, best.score, **options, workers=workers, parallel="top", passes=passes,
                        dropped_updates=dropped)  # fmt: skip


def _worker(board: np.ndarray, config: dict, deadline: float | None, nodes: int | None, seed: int,
            prior: tuple[np.ndarray, np.ndarray] | None, options: dict) -> tuple:  # fmt: skip
    """One root-parallel search: ``(moves, score, playouts, passes)``; ``deadline`` in ``time.monotonic()``
    seconds (one clock for all processes of the machine)."""
    budget = Budget(time_s=_seconds_left(deadline), nodes=nodes)
    r = nrpa(board, BubbleConfig(**config), budget=budget, rng=np.random.default_rng(seed), prior=prior, **options)
    return r.moves, r.score, r.playouts, r.info["passes"]


def _root_parallel(board: np.ndarray, config: BubbleConfig, meter: Meter, rng: np.random.Generator, workers: int,
                   prior: tuple[np.ndarray, np.ndarray] | None, options: dict) -> SearchResult:  # fmt: skip
    """``workers`` independent searches (this process runs one), the best kept."""
    budget = meter.budget
    deadline = None if budget.time_s is None else time.monotonic() + budget.remaining_s()
    nodes = None if budget.nodes is None else max(1, budget.nodes // workers)
    seeds = rng.integers(0, 2**63, size=workers)
    pool = _pool(workers - 1)
    futures: list[Future] = [
        pool.submit(_worker, board, config.to_dict(), deadline, nodes, int(seeds[i]), prior, options)
        for i in range(1, workers)
    ]  # fmt: skip
    results = [_worker(board, config.to_dict(), deadline, nodes, int(seeds[0]), prior, options)]
    results += [f.result() for f in futures]
    scores = [r[1] for r in results]
    i = int(np.argmax(scores))
    meter.engine.playouts_run += sum(r[2] for r in results)
    return meter.result(results[i][0], results[i][1], **options, workers=workers, parallel="root",
                        worker_scores=scores, passes=sum(r[3] for r in results))  # fmt: skip
