"""Compiled pieces of NRPA (:mod:`.nrpa`): policy-guided playouts, the adaptation step, and a whole level-1 search.

NRPA spends its time in playouts that draw every move from a softmax over learned weights, so those run compiled,
on the column bit boards of :mod:`repgym.envs.bubble.kernels` (standard rules; the Shifter variants' row compaction
is not supported here).

**Policy table.** A policy maps a move *code* (a non-zero ``int64``) to a weight; codes never seen weigh 0. It is
an open-addressing hash table: ``keys (size,) int64`` (0 = empty slot), ``weights (size,) float64`` (0 in empty
slots), ``stats (2,) int64`` = (codes stored, updates dropped because the table was 90% full); ``size`` is a power
of two. Codes are Zobrist hashes, uniformly spread, so a code's home slot is ``code & (size - 1)``.

**Move code.** The Zobrist hash of the group's colour and cells (:func:`group_code`): a group that other moves
leave untouched keeps its code in every position where it occurs, so what the policy learnt about clicking it
carries over between positions of one search; two different groups never share a code (up to hash collisions).

**Line.** A played sequence with what adaptation needs: ``(moves (S,) int32, ncand (S,) int32, choice (S,) int32,
codes (S, G) int64, bias (S, G) float64)`` — step ``t`` drew ``moves[t]``, candidate ``choice[t]`` of
``ncand[t]`` candidates whose codes and prior biases are ``codes[t, :ncand[t]]``, ``bias[t, :ncand[t]]``.
``S = rows * cols // 2`` steps at most (a move removes >= 2 bubbles) and ``G = S + 1`` groups at most.

**Softmax.** A candidate's logit is ``weight(code) + bias``; the bias is the prior: ``-tabu_bias`` for a group of
the tabu colour (the colour with most bubbles left) while another colour can move, ``inf`` leaving such groups out
altogether (the selective policy of Cazenave's SameGame NRPA; with all weights 0 a playout is then exactly a
tabu-colour playout).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from repgym.envs.bubble.kernels import (
    P_COLOURS,
    P_SAMEGAME,
    P_SHIFT_RIGHT,
    _bit_groups,
    _bit_remove,
    _bit_representative,
    _group_points,
    _popcount,
    _stream,
    _to_masks,
    _uniform,
    end_of_line,
)

FULL = 0.9  # table load above which new codes are no longer stored (their updates are dropped and counted)


def zobrist_table(cells: int, colours: int) -> np.ndarray:
    """``(cells, colours + 1) int64`` random words, fixed (seeded) so that codes are the same in every process."""
    return np.random.default_rng(0x5A3E_9A3E).integers(1, 2**63 - 1, size=(cells, colours + 1), dtype=np.int64)


def new_line(steps: int) -> tuple:
    """An empty line (see the module docstring) for games of at most ``steps`` moves."""
    groups = steps + 1
    return (np.zeros(steps, np.int32), np.zeros(steps, np.int32), np.zeros(steps, np.int32),
            np.zeros((steps, groups), np.int64), np.zeros((steps, groups), np.float64))  # fmt: skip


@njit(cache=True, inline="always")
def _slot(keys: np.ndarray, code: int) -> int:
    """The slot that holds ``code``, or the empty slot where it would go (linear probing)."""
    mask = keys.size - 1
    i = code & mask
    while keys[i] != 0 and keys[i] != code:
        i = (i + 1) & mask
    return i


@njit(cache=True)
def weight_of(keys: np.ndarray, weights: np.ndarray, code: int) -> float:
    """The weight of ``code`` (0 when the table does not hold it)."""
    return weights[_slot(keys, code)]


@njit(cache=True)
def set_weight(keys: np.ndarray, weights: np.ndarray, stats: np.ndarray, code: int, value: float) -> None:
    """Store ``weight(code) = value`` (dropped, and counted, when the table is full)."""
    s = _slot(keys, code)
    if keys[s] == 0:
        if stats[0] >= FULL * keys.size:
            stats[1] += 1
            return
        keys[s] = code
        stats[0] += 1
    weights[s] = value


@njit(cache=True)
def rehash(keys: np.ndarray, weights: np.ndarray, new_keys: np.ndarray, new_weights: np.ndarray) -> None:
    """Insert every code of one table into an empty, larger one."""
    for i in range(keys.size):
        if keys[i] != 0:
            s = _slot(new_keys, keys[i])
            new_keys[s] = keys[i]
            new_weights[s] = weights[i]


@njit(cache=True, inline="always")
def group_code(gbits, g: int, lo: int, hi: int, colour: int, rows: int, zob: np.ndarray, cols: int) -> int:
    """The move code of bit-board group ``g``: XOR of ``zob[cell, colour]`` over its cells (never 0)."""
    h = 0
    for j in range(lo, hi + 1):
        f = gbits[g, j]
        while f != 0:
            low = f & -f
            b = _popcount(low - 1)
            h ^= zob[(rows - 1 - b) * cols + j, colour]
            f ^= low
    return h if h != 0 else 1


@njit(cache=True)
def _group_work(rows: int, cols: int, colours: int) -> tuple:
    """Scratch arrays of the bit boards and their groups (as the kernels' bit playouts use them)."""
    max_groups = rows * cols // 2 + 1
    return (
        np.zeros((colours + 1, cols), np.int64),
        np.zeros(colours + 1, np.int64),
        np.zeros(cols, np.int64),
        np.zeros(cols, np.int64),
        np.zeros((max_groups, cols), np.int64),
        np.zeros(max_groups, np.int64),
        np.zeros(max_groups, np.int64),
        np.zeros(max_groups, np.int64),
        np.zeros(max_groups, np.int64),
    )


def bit_work(rows: int, cols: int, colours: int) -> tuple:
    """Scratch arrays of one playout: the bit boards and groups (:func:`_group_work`), then candidates and logits."""
    max_groups = rows * cols // 2 + 1
    return (*_group_work(rows, cols, colours), np.zeros(max_groups, np.int64), np.zeros(max_groups, np.float64))


@njit(cache=True)
def _tabu_colour(counts: np.ndarray, colours: int) -> int:
    """The colour with most bubbles left, ties to the lowest (as the tabu-colour playout of the kernels)."""
    tabu = 1
    for c in range(2, colours + 1):
        if counts[c] > counts[tabu]:
            tabu = c
    return tabu


@njit(cache=True)
def policy_playout(board, rows: int, cols: int, params, keys, weights, zob, tabu_bias: float, rng, work, line):
    """Play flat ``board`` ``(rows * cols,) int8`` to the end, each move drawn from the softmax of the policy
    (module docstring); writes the line and returns ``(score, length)``. ``board`` is left unchanged."""
    masks, counts, legal, fill, gbits, glo, ghi, sizes, group_colour, cand, logits = work
    moves, ncand, choice, codes, bias = line
    colours = params[P_COLOURS]
    samegame = params[P_SAMEGAME] != 0
    shift_right = params[P_SHIFT_RIGHT] != 0
    hard = tabu_bias == np.inf
    c0, c1 = _to_masks(board, rows, cols, colours, masks, counts)
    score = 0.0
    length = 0
    while c0 <= c1:
        n_groups = _bit_groups(masks, colours, c0, c1, legal, fill, gbits, glo, ghi, sizes, group_colour)
        if n_groups == 0:
            break
        tabu = _tabu_colour(counts, colours)
        others = 0
        for g in range(n_groups):
            if group_colour[g] != tabu:
                others += 1
        k = 0
        top = -np.inf
        for g in range(n_groups):
            colour = group_colour[g]
            b = 0.0
            if others > 0 and colour == tabu:
                if hard:
                    continue
                b = -tabu_bias
            code = group_code(gbits, g, glo[g], ghi[g], colour, rows, zob, cols)
            logit = weights[_slot(keys, code)] + b
            codes[length, k] = code
            bias[length, k] = b
            cand[k] = g
            logits[k] = logit
            top = max(top, logit)
            k += 1
        total = 0.0
        for i in range(k):
            logits[i] = np.exp(logits[i] - top)
            total += logits[i]
        u = _uniform(rng) * total
        pick = k - 1
        for i in range(k):
            u -= logits[i]
            if u < 0.0:
                pick = i
                break
        g = cand[pick]
        ncand[length] = k
        choice[length] = pick
        moves[length] = _bit_representative(gbits, g, glo[g], ghi[g], rows, cols)
        c0, c1 = _bit_remove(masks, colours, c0, c1, gbits, g, glo[g], ghi[g], shift_right)
        counts[group_colour[g]] -= sizes[g]
        score += _group_points(sizes[g], samegame)
        length += 1
    return score + end_of_line(counts, colours, length, samegame, params), length


@njit(cache=True)
def adapt(keys, weights, stats, line, length: int, alpha: float, delta, undo, stamp, gen: int) -> None:
    """Rosin's adaptation toward ``line`` (its first ``length`` steps): at every step the chosen move's weight
    gains ``alpha`` and every candidate's loses ``alpha * p``, ``p`` its softmax probability under the policy as
    it was *before* this call (all probabilities first, then all updates, as in Rosin 2011).

    With ``stamp.size > 0`` every slot this call changes is logged once per generation ``gen`` in ``undo`` =
    ``(slots (n,) int64, keys (n,) int64, weights (n,) float64, used (1,) int64)`` so that :func:`restore` can put
    the table back; ``delta`` is ``(S, G) float64`` scratch."""
    _, ncand, choice, codes, bias = line
    for t in range(length):
        k = ncand[t]
        top = -np.inf
        for i in range(k):
            delta[t, i] = weights[_slot(keys, codes[t, i])] + bias[t, i]
            top = max(top, delta[t, i])
        z = 0.0
        for i in range(k):
            delta[t, i] = np.exp(delta[t, i] - top)
            z += delta[t, i]
        for i in range(k):
            delta[t, i] = -alpha * delta[t, i] / z
        delta[t, choice[t]] += alpha
    logging = stamp.size > 0
    slots, old_keys, old_weights, used = undo
    for t in range(length):
        for i in range(ncand[t]):
            code = codes[t, i]
            s = _slot(keys, code)
            if logging and stamp[s] != gen:
                stamp[s] = gen
                n = used[0]
                slots[n] = s
                old_keys[n] = keys[s]
                old_weights[n] = weights[s]
                used[0] = n + 1
            if keys[s] == 0:
                if stats[0] >= FULL * keys.size:
                    stats[1] += 1
                    continue
                keys[s] = code
                stats[0] += 1
            weights[s] += delta[t, i]


@njit(cache=True)
def restore(keys, weights, stats, undo) -> None:
    """Undo every change logged since ``undo`` was last emptied (see :func:`adapt`), and empty it."""
    slots, old_keys, old_weights, used = undo
    for n in range(used[0]):
        s = slots[n]
        if old_keys[n] == 0 and keys[s] != 0:
            stats[0] -= 1
        keys[s] = old_keys[n]
        weights[s] = old_weights[n]
    used[0] = 0


@njit(cache=True)
def copy_line(src, dst, length: int) -> None:
    """Copy the first ``length`` steps of line ``src`` into ``dst``."""
    for t in range(length):
        dst[0][t] = src[0][t]
        dst[1][t] = src[1][t]
        dst[2][t] = src[2][t]
        for i in range(src[1][t]):
            dst[3][t, i] = src[3][t, i]
            dst[4][t, i] = src[4][t, i]


@njit(cache=True)
def level1(board, params, keys, weights, stats, zob, tabu_bias: float, alpha: float, iterations: int,
           per_iteration: int, seed: np.uint64, best, scratch, work, delta, undo, stamp, gen: int, trace):  # fmt: skip
    """One level-1 NRPA search from ``board`` ``(rows, cols) int8``: ``iterations`` times, ``per_iteration``
    policy playouts (stabilised NRPA when > 1), keep the best line (ties to the later one, as Rosin), adapt the
    policy toward it. The policy is left as it was on entry (changes are logged and undone).

    Writes the best line into ``best``; returns ``(score, length, playouts)``. ``trace`` ``(m,) float64``: when
    ``m > 0``, the score of every playout in order (the first ``m``)."""
    rows, cols = board.shape
    flat = board.reshape(rows * cols)
    rng = _stream(seed, 0)
    best_score = -np.inf
    best_length = 0
    played = 0
    for _ in range(iterations):
        for _ in range(per_iteration):
            score, length = policy_playout(flat, rows, cols, params, keys, weights, zob, tabu_bias, rng, work,
                                           scratch)  # fmt: skip
            if played < trace.size:
                trace[played] = score
            played += 1
            if score >= best_score:
                best_score = score
                best_length = length
                copy_line(scratch, best, length)
        adapt(keys, weights, stats, best, best_length, alpha, delta, undo, stamp, gen)
    restore(keys, weights, stats, undo)
    return best_score, best_length, played


@njit(cache=True)
def group_codes(board, params, zob):
    """Every legal group of ``board`` ``(rows, cols) int8``: ``(representative cells (n,) int64, codes (n,)
    int64)``, representatives as :func:`rules.group_moves` (smallest flat cell index)."""
    rows, cols = board.shape
    colours = params[P_COLOURS]
    masks, counts, legal, fill, gbits, glo, ghi, sizes, group_colour = _group_work(rows, cols, colours)
    flat = board.reshape(rows * cols).copy()
    c0, c1 = _to_masks(flat, rows, cols, colours, masks, counts)
    n = 0
    if c0 <= c1:
        n = _bit_groups(masks, colours, c0, c1, legal, fill, gbits, glo, ghi, sizes, group_colour)
    reps = np.empty(n, np.int64)
    codes = np.empty(n, np.int64)
    for g in range(n):
        reps[g] = _bit_representative(gbits, g, glo[g], ghi[g], rows, cols)
        codes[g] = group_code(gbits, g, glo[g], ghi[g], group_colour[g], rows, zob, cols)
    return reps, codes
