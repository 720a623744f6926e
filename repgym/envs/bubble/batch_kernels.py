"""Compiled (numba) batch step for the native vector env: one move on every board, and what the env reports.

The vector env's step is a move on each board (:func:`step_boards`) followed by what Gymnasium returns about every
board: its observation, legal-move mask and info statistics (:func:`describe_boards`). Both loop over boards in
compiled code, so a step costs about a microsecond per 14x10 board (most of it finding the groups for the info
statistics) instead of the dozens of array passes of the numpy rules. They play every variant of
:mod:`repgym.envs.bubble.rules`, the Continuous ones included: new columns come from the game's counter-based stream
(:func:`rules.column_stream`, a hash of the game key and the column index), which is re-implemented here bit for bit,
so no random draw crosses between numpy and numba.

Rules are the :func:`kernels.rule_params` array extended by the Continuous parameters (:func:`batch_params`);
settling, scoring, column bit boards and union-find reuse the primitives of :mod:`repgym.envs.bubble.kernels`. Boards
must be settled (as every state of :mod:`rules` is). Each kernel comes in a serial and a ``parallel=True`` build
(``prange`` over chunks of boards, one scratch buffer per chunk; two functions, since numba's disk cache does not tell
builds of one function apart); the caller picks one and sets numba's thread count.
``tests/envs/bubble/test_batch_kernels.py`` checks both against :func:`rules.step` and the numpy observations.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from repgym.envs.bubble.kernels import (
    P_BONUS,
    P_COLOURS,
    P_PENALTY,
    P_ROW_SHIFT,
    P_SAMEGAME,
    P_SHIFT_RIGHT,
    _end_adjustment,
    _group_points,
    _popcount,
    _root,
    _settle,
    _to_masks,
    _union,
    core_rules,
    has_moves,
)
from repgym.envs.bubble.rules import BubbleConfig

# Indices of the Continuous parameters, after the six of :func:`kernels.rule_params`.
P_CONTINUOUS, P_RANDOM_HEIGHT, P_MAX_NEW = 6, 7, 8
_NO_LIMIT = -1  # P_MAX_NEW when new columns never turn grey

# Observation encodings the kernels write (pixels are drawn by numpy's renderer).
OBS_NONE, OBS_PLANES, OBS_BOARD = range(3)


def batch_params(config: BubbleConfig) -> np.ndarray:
    """The rules of ``config`` (every variant) as the batch kernels' ``(9,) int64`` parameter array."""
    limit = _NO_LIMIT if config.max_new_columns is None else config.max_new_columns
    return np.array([*core_rules(config), config.continuous, config.random_column_height, limit], dtype=np.int64)


assert tuple(range(6)) == (P_COLOURS, P_SAMEGAME, P_BONUS, P_PENALTY, P_SHIFT_RIGHT, P_ROW_SHIFT)  # same layout


# --------------------------------------------------------------------------------------------------------------
# The new-column stream (rules.column_stream, bit for bit)
# --------------------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:
    """SplitMix64's finaliser, as :func:`rules._splitmix64`."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _absorb(h: np.uint64, counter: np.uint64) -> np.uint64:
    """One counter into the hash, as one round of :func:`rules._hash`."""
    return _mix(h ^ (counter * np.uint64(0xD1B54A32D192ED03)))


@njit(cache=True)
def column_at(key: np.uint64, index: int, rows: int, params: np.ndarray, out: np.ndarray) -> bool:
    """Write the ``index``-th new column of the game ``key`` into ``out`` ``(rows,) int8`` (top cell first), exactly
    as :func:`rules.column_stream`; returns whether it is grey."""
    colours = np.uint64(params[P_COLOURS])
    base = _absorb(_absorb(key, np.uint64(0xC01)), np.uint64(index))
    for r in range(rows):
        out[r] = np.int8(_absorb(base, np.uint64(r)) % colours) + np.int8(1)
    if params[P_RANDOM_HEIGHT]:
        hh = _absorb(_absorb(key, np.uint64(0x4E16)), np.uint64(index))
        height = np.int64(hh % np.uint64(rows)) + 1
        for r in range(rows - height):
            out[r] = 0
    grey = params[P_MAX_NEW] != _NO_LIMIT and index >= params[P_MAX_NEW]
    if grey:
        for r in range(rows):
            out[r] = params[P_COLOURS] + 1
    return grey


# --------------------------------------------------------------------------------------------------------------
# One move on one board
# --------------------------------------------------------------------------------------------------------------


@njit(cache=True)
def _remove_group(board: np.ndarray, rows: int, cols: int, cell: int, stack: np.ndarray) -> tuple:
    """Empty the same-coloured 4-connected group of ``cell`` (a clickable cell with a same-coloured neighbour) by a
    flood fill; returns ``(removed, first_col, last_col)``. Cells are emptied as they are reached, so an emptied
    cell is never pushed twice."""
    v = board[cell]
    board[cell] = 0
    stack[0] = cell
    top = 1
    n = 0
    lo = cols
    hi = -1
    while top > 0:
        top -= 1
        i = stack[top]
        n += 1
        c = i % cols
        lo = min(lo, c)
        hi = max(hi, c)
        if c > 0 and board[i - 1] == v:
            board[i - 1] = 0
            stack[top] = i - 1
            top += 1
        if c + 1 < cols and board[i + 1] == v:
            board[i + 1] = 0
            stack[top] = i + 1
            top += 1
        if i >= cols and board[i - cols] == v:
            board[i - cols] = 0
            stack[top] = i - cols
            top += 1
        if i + cols < rows * cols and board[i + cols] == v:
            board[i + cols] = 0
            stack[top] = i + cols
            top += 1
    return n, lo, hi


@njit(cache=True, inline="always")
def _in_group(board: np.ndarray, rows: int, cols: int, cell: int, colours: int) -> bool:
    """``cell`` holds a clickable colour shared by one of its 4 neighbours (it is in a group of >= 2)."""
    v = board[cell]
    if v == 0 or v > colours:
        return False
    c = cell % cols
    return (
        (c > 0 and board[cell - 1] == v)
        or (c + 1 < cols and board[cell + 1] == v)
        or (cell >= cols and board[cell - cols] == v)
        or (cell + cols < rows * cols and board[cell + cols] == v)
    )


@njit(cache=True)
def _fill_new_columns(board: np.ndarray, rows: int, cols: int, key: np.uint64, arrived: int, params, column) -> int:
    """Continuous: refill the empty columns of a settled board from the game's stream, first arrival farthest
    toward the shift side, then settle (as :func:`rules._fill_new_columns`). Returns the columns drawn."""
    last = (rows - 1) * cols
    k = 0
    for c in range(cols):
        if board[last + c] == 0:
            k += 1
    if k == 0:
        return 0
    shift_right = params[P_SHIFT_RIGHT] != 0
    for j in range(k):
        pos = k - 1 - j if shift_right else cols - k + j
        column_at(key, arrived + j, rows, params, column)
        for r in range(rows):
            board[r * cols + pos] = column[r]
    _settle(board, rows, cols, 0, cols - 1, shift_right, params[P_ROW_SHIFT] != 0)
    return k


@njit(cache=True)
def _grey_between(first: int, count: int, params: np.ndarray) -> int:
    """How many of the columns ``first .. first + count - 1`` of the stream are grey."""
    limit = params[P_MAX_NEW]
    if limit == _NO_LIMIT:
        return 0
    return max(0, first + count - max(first, limit))


@njit(cache=True)
def _step_one(board, i: int, rows: int, cols: int, action: int, keys, new_columns, scores, params, grey_value: float,
              rewards, removed, illegal, terminal, stack, column) -> None:  # fmt: skip
    """Click ``action`` on board ``i`` (flat ``board``), in place, and record what happened (as :func:`rules.step`)."""
    colours = params[P_COLOURS]
    legal = _in_group(board, rows, cols, action, colours)
    reward = 0.0
    n = 0
    if legal:
        n, lo, hi = _remove_group(board, rows, cols, action, stack)
        _settle(board, rows, cols, lo, hi, params[P_SHIFT_RIGHT] != 0, params[P_ROW_SHIFT] != 0)
        reward = _group_points(n, params[P_SAMEGAME] != 0)
    if params[P_CONTINUOUS]:
        grey = 0
        if legal:
            first = new_columns[i]
            drawn = _fill_new_columns(board, rows, cols, keys[i], first, params, column)
            grey = _grey_between(first, drawn, params)
            new_columns[i] = first + drawn
        reward += grey * grey_value
    end = not has_moves(board, rows, cols, colours)
    if legal and end:
        reward += _end_adjustment(board, params)
    rewards[i] = reward
    removed[i] = n
    illegal[i] = not legal
    terminal[i] = end
    scores[i] = scores[i] + reward


@njit(cache=True)
def _step_range(boards, keys, new_columns, scores, actions, which, lo: int, hi: int, params, grey_value: float,
                rewards, removed, illegal, terminal) -> None:  # fmt: skip
    """Step the boards ``which[lo:hi]`` (one chunk: one scratch buffer)."""
    n, rows, cols = boards.shape
    flat = boards.reshape(n, rows * cols)
    stack = np.empty(rows * cols, np.int64)
    column = np.empty(rows, np.int8)
    for j in range(lo, hi):
        i = which[j]
        _step_one(flat[i], i, rows, cols, actions[i], keys, new_columns, scores, params, grey_value,
                  rewards, removed, illegal, terminal, stack, column)  # fmt: skip


@njit(cache=True)
def _step_serial(boards, keys, new_columns, scores, actions, which, params, grey_value, chunks,
                 rewards, removed, illegal, terminal) -> None:  # fmt: skip
    _step_range(boards, keys, new_columns, scores, actions, which, 0, which.size, params, grey_value,
                rewards, removed, illegal, terminal)  # fmt: skip


@njit(cache=True, parallel=True)
def _step_parallel(boards, keys, new_columns, scores, actions, which, params, grey_value, chunks,
                   rewards, removed, illegal, terminal) -> None:  # fmt: skip
    m = which.size
    for t in prange(chunks):
        _step_range(boards, keys, new_columns, scores, actions, which, t * m // chunks, (t + 1) * m // chunks,
                    params, grey_value, rewards, removed, illegal, terminal)  # fmt: skip


def step_boards(state, actions, which, params, grey_value, rewards, removed, illegal, terminal, threads=1) -> None:
    """Click ``actions[i]`` on every board ``i`` in ``which`` (``(m,) int64``) of ``state`` (a
    :class:`rules.BubbleState` of C-contiguous arrays), **in place**, writing ``rewards``, ``removed``, ``illegal``
    and ``terminal`` at ``i`` exactly as :func:`rules.step` does. ``threads > 1`` uses the parallel build (the
    caller sets ``numba.set_num_threads``)."""
    kernel = _step_parallel if threads > 1 else _step_serial
    kernel(state.board, state.key, state.new_columns, state.score, actions, which, params, float(grey_value),
           _chunks(which.size, threads), rewards, removed, illegal, terminal)  # fmt: skip


# --------------------------------------------------------------------------------------------------------------
# What the env reports about a board
# --------------------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _lowest_bit(x: int) -> int:
    """Position of the lowest set bit of ``x`` (> 0)."""
    return _popcount((x & -x) - 1)


@njit(cache=True)
def _group_stats(masks, colours: int, c0: int, c1: int, legal, label, size) -> tuple:
    """``(groups, largest)`` of a board given as column bit boards (:func:`kernels._to_masks`), and ``legal[c]``
    the bits of column ``c`` in a group of >= 2.

    Union-find whose edges are found with bit operations (a set bit of ``m & (m >> 1)`` within a column, or of
    ``m & m_next`` between columns, for each colour mask ``m``): the loops run over edges and group cells only,
    where a cell-by-cell labelling mispredicts a branch on most cells of a random board. Node ``c * 16 + b`` is
    bit ``b`` of column ``c``; edges within a column are visited upward, so they link a fresh cell to its run's
    root without a search."""
    for c in range(c0, c1 + 1):
        cell_bits = 0
        down = 0
        for k in range(1, colours + 1):
            m = masks[k, c]
            v = m & ((m >> 1) | (m << 1))
            if c > c0:
                v |= m & masks[k, c - 1]
            if c < c1:
                v |= m & masks[k, c + 1]
            cell_bits |= v
            down |= m & (m >> 1)
        legal[c] = cell_bits
        for i in range(c * 16, c * 16 + 16):
            label[i] = i
            size[i] = 0
        while down:
            i = c * 16 + _lowest_bit(down)
            down &= down - 1
            label[i + 1] = label[i]
    for c in range(c0, c1):
        across = 0
        for k in range(1, colours + 1):
            across |= masks[k, c] & masks[k, c + 1]
        while across:
            i = c * 16 + _lowest_bit(across)
            across &= across - 1
            _union(label, i, i + 16)
    groups = 0
    largest = 0
    for c in range(c0, c1 + 1):
        cell_bits = legal[c]
        while cell_bits:
            root = _root(label, c * 16 + _lowest_bit(cell_bits))
            cell_bits &= cell_bits - 1
            n = size[root] + 1
            size[root] = n
            groups += n == 1
            largest = max(largest, n)
    return groups, largest


@njit(cache=True)
def _describe_one(board, i: int, rows: int, cols: int, params, obs_mode: int, obs, mask, groups, largest, left,
                  work) -> None:  # fmt: skip
    """Board ``i``'s legal mask, group count, largest group, bubbles left and observation (``obs[i]``)."""
    masks, counts, legal, label, size = work
    colours = params[P_COLOURS]
    c0, c1 = _to_masks(board, rows, cols, colours, masks, counts)
    for c in range(cols):
        legal[c] = 0
    groups[i], largest[i] = _group_stats(masks, colours, c0, c1, legal, label, size)
    m = mask[i]
    for r in range(rows):
        shift = rows - 1 - r
        base = r * cols
        for c in range(cols):
            m[base + c] = (legal[c] >> shift) & 1
    playable = 0
    for k in range(1, colours + 1):
        playable += counts[k]
    left[i] = playable
    if obs_mode == OBS_PLANES:
        for p in range(obs.shape[1]):
            plane = obs[i, p]
            for j in range(rows * cols):
                plane[j] = board[j] == p
    elif obs_mode == OBS_BOARD:
        out = obs[i, 0]
        for j in range(rows * cols):
            out[j] = board[j]


@njit(cache=True)
def _describe_range(boards, which, lo: int, hi: int, params, obs_mode: int, obs, mask, groups, largest, left) -> None:
    """Describe the boards ``which[lo:hi]`` (one chunk: one set of scratch buffers)."""
    n, rows, cols = boards.shape
    flat = boards.reshape(n, rows * cols)
    kinds = params[P_COLOURS] + 2  # empty, colours, grey
    work = (
        np.zeros((kinds, cols), np.int64),
        np.zeros(kinds, np.int64),
        np.zeros(cols, np.int64),
        np.zeros(cols * 16, np.int64),
        np.zeros(cols * 16, np.int64),
    )
    for j in range(lo, hi):
        i = which[j]
        _describe_one(flat[i], i, rows, cols, params, obs_mode, obs, mask, groups, largest, left, work)


@njit(cache=True)
def _describe_serial(boards, which, params, obs_mode, obs, mask, groups, largest, left, chunks) -> None:
    _describe_range(boards, which, 0, which.size, params, obs_mode, obs, mask, groups, largest, left)


@njit(cache=True, parallel=True)
def _describe_parallel(boards, which, params, obs_mode, obs, mask, groups, largest, left, chunks) -> None:
    m = which.size
    for t in prange(chunks):
        lo, hi = t * m // chunks, (t + 1) * m // chunks
        _describe_range(boards, which, lo, hi, params, obs_mode, obs, mask, groups, largest, left)


def describe_boards(boards, which, params, obs_mode, obs, mask, groups, largest, left, threads=1) -> None:
    """For every board ``i`` in ``which`` of ``boards`` ``(n, rows, cols) int8`` (settled): ``mask[i]``
    ``(n, cells) bool`` legal clicks (:func:`rules.legal_mask`), ``groups[i]`` and ``largest[i]``
    (:func:`rules.group_stats`), ``left[i]`` clickable bubbles, and with ``obs_mode`` :data:`OBS_PLANES` or
    :data:`OBS_BOARD` the observation ``obs[i]``, viewed as ``(n, planes, cells) uint8`` (:func:`rules.one_hot`) or
    ``(n, 1, cells) int8`` (the board); with :data:`OBS_NONE` ``obs`` is not touched (pass any 3-D array)."""
    kernel = _describe_parallel if threads > 1 else _describe_serial
    kernel(boards, which, params, obs_mode, obs, mask, groups, largest, left, _chunks(which.size, threads))


@njit(cache=True)
def next_columns(keys: np.ndarray, new_columns: np.ndarray, rows: int, params: np.ndarray) -> np.ndarray:
    """Continuous preview, ``(n, rows) int8``: the column each game receives next (:func:`rules.next_column`)."""
    n = keys.size
    out = np.empty((n, rows), np.int8)
    for i in range(n):
        column_at(keys[i], new_columns[i], rows, params, out[i])
    return out


def _chunks(m: int, threads: int) -> int:
    """Chunks of boards to spread over ``threads`` (a few per thread, so that uneven boards balance out)."""
    return max(1, min(m, threads if threads <= 1 else 4 * threads))
