"""Compiled (numba) Bubble Breaker / SameGame kernels for search: moves, whole playouts, all afterstates.

Search spends nearly all its time in playouts, and a playout is a long chain of small, branchy steps (find the
groups, remove one, gravity, close columns) on one board: the batched numpy rules pay array overhead on every
step, while a compiled loop over whole playouts does not (``benchmarks/playout_speed.py`` measures both). These
kernels implement the rules of :mod:`repgym.envs.bubble.rules` for the deterministic variants (standard and
Shifter; not Continuous) on settled boards, and loop over batches of boards inside compiled code:

- playouts of the standard rules run on *column bit boards* (one 16-bit column mask per colour: a flood-fill step
  is a shift plus an OR with the neighbouring columns, gravity is deleting bits);
- expansions, single steps and Shifter playouts run on flat ``(rows * cols,) int8`` boards with union-find group
  labels.

``tests/agents/lookahead/test_kernels.py`` checks every kernel against :func:`rules.step` move for move. Rules are
passed as a small ``int64`` array (:func:`rule_params`) so that one compiled signature serves every
configuration. Random numbers come from a counter-based SplitMix64 stream per board, so a batch's results do not
depend on how the batch is split. Functions are compiled on first use (about 20 s) and cached on disk
(``cache=True``), so later processes load them in well under a second.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from repgym.envs.bubble.rules import BubbleConfig

# Indices into the rule-parameter array.
P_COLOURS, P_SAMEGAME, P_BONUS, P_PENALTY, P_SHIFT_RIGHT, P_ROW_SHIFT = range(6)

# Playout policies understood by the kernels (the value-guided policy runs in Python: it needs the network).
UNIFORM, SIZE_WEIGHTED, TABU_COLOUR, GREEDY = range(4)
KERNEL_POLICIES = {"uniform": UNIFORM, "size-weighted": SIZE_WEIGHTED, "tabu-colour": TABU_COLOUR, "greedy": GREEDY}


def rule_params(config: BubbleConfig) -> np.ndarray:
    """The rules of ``config`` as the kernels' ``(6,) int64`` parameter array; ``ValueError`` for Continuous."""
    if config.continuous:
        raise ValueError(
            "the compiled engine plays deterministic games only, got a Continuous variant "
            "(new columns are random: use the numpy engine or the value agent's unknown-column planes)"
        )
    return np.array(core_rules(config), dtype=np.int64)


def core_rules(config: BubbleConfig) -> list[int]:
    """The entries of :func:`rule_params`, in its order (the batch kernels extend them for Continuous)."""
    return [
        config.colours,
        config.scoring == "samegame",
        config.clear_bonus,
        config.end_penalty,
        config.shift == "right",
        config.row_shift,
    ]


# --------------------------------------------------------------------------------------------------------------
# Random numbers
# --------------------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _next_u64(rng: np.ndarray) -> np.uint64:
    """SplitMix64: advance the one-word state ``rng`` ``(1,) uint64`` and return a random 64-bit word."""
    rng[0] = rng[0] + np.uint64(0x9E3779B97F4A7C15)
    z = rng[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _uniform(rng: np.ndarray) -> float:
    """A float in [0, 1)."""
    return float(_next_u64(rng) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _stream(seed: np.uint64, index: int) -> np.ndarray:
    """The random state of board ``index`` of a batch seeded with ``seed``."""
    rng = np.empty(1, np.uint64)
    rng[0] = seed ^ (np.uint64(index + 1) * np.uint64(0xD1B54A32D192ED03))
    _next_u64(rng)
    return rng


# --------------------------------------------------------------------------------------------------------------
# Groups (boards are flat ``(rows * cols,) int8`` views here: 1-D indexing compiles to the tightest loops)
# --------------------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _root(label: np.ndarray, i: int) -> int:
    """Union-find root of cell ``i`` with path halving."""
    while label[i] != i:
        label[i] = label[label[i]]
        i = label[i]
    return i


@njit(cache=True, inline="always")
def _union(label: np.ndarray, a: int, b: int) -> None:
    """Join the sets of cells ``a`` and ``b``; the smaller index becomes the root, so a root is its set's
    smallest cell (the representative of :func:`rules.label_groups`)."""
    ra = _root(label, a)
    rb = _root(label, b)
    if ra < rb:
        label[rb] = ra
    elif rb < ra:
        label[ra] = rb


@njit(cache=True)
def _occupied_box(board: np.ndarray, rows: int, cols: int) -> tuple:
    """``(top_row, first_col, last_col)`` of the rectangle that holds every bubble of a settled board: occupied
    columns are contiguous (they closed up) and every bubble sits on the bottom row's occupied span. An empty
    board gives an empty rectangle (``first_col > last_col``)."""
    last = (rows - 1) * cols
    c0 = cols
    c1 = -1
    for c in range(cols):
        if board[last + c] != 0:
            c0 = min(c0, c)
            c1 = c
    top = rows
    for r in range(rows):
        base = r * cols
        for c in range(c0, c1 + 1):
            if board[base + c] != 0:
                top = r
                break
        if top < rows:
            break
    return top, c0, c1


@njit(cache=True)
def label_cells(board: np.ndarray, rows: int, cols: int, colours: int, label: np.ndarray, size: np.ndarray) -> tuple:
    """Union-find labelling of same-colour 4-connected cells of a settled flat board: ``label[i]`` becomes the
    smallest cell index of cell ``i``'s group and ``size[root]`` the group's size. Only the rectangle that holds
    bubbles (:func:`_occupied_box`, returned) is labelled; labels of the empty cells outside it are stale."""
    top, c0, c1 = _occupied_box(board, rows, cols)
    for r in range(top, rows):
        base = r * cols
        for c in range(c0, c1 + 1):
            label[base + c] = base + c
            size[base + c] = 0
    for r in range(top, rows):
        base = r * cols
        for c in range(c0, c1 + 1):
            i = base + c
            v = board[i]
            if v == 0 or v > colours:
                continue
            if c < c1 and board[i + 1] == v:
                _union(label, i, i + 1)
            if r + 1 < rows and board[i + cols] == v:
                _union(label, i, i + cols)
    for r in range(top, rows):
        base = r * cols
        for c in range(c0, c1 + 1):
            root = _root(label, base + c)
            label[base + c] = root
            size[root] += 1
    return top, c0, c1


@njit(cache=True)
def find_groups(
    board: np.ndarray,
    rows: int,
    cols: int,
    colours: int,
    label: np.ndarray,
    size: np.ndarray,
    reps: np.ndarray,
    sizes: np.ndarray,
    group_colour: np.ndarray,
) -> int:
    """Every legal group (>= 2 bubbles) of settled flat ``board``: fills ``reps`` (the group's smallest cell index,
    as :func:`rules.group_moves`, in ascending order), ``sizes`` and ``group_colour``, and leaves each cell's
    group in ``label`` (:func:`label_cells`); returns the number of groups."""
    top, c0, c1 = label_cells(board, rows, cols, colours, label, size)
    n_groups = 0
    for r in range(top, rows):
        base = r * cols
        for c in range(c0, c1 + 1):
            i = base + c
            if label[i] == i and size[i] >= 2:
                v = board[i]
                if 0 < v <= colours:
                    reps[n_groups] = i
                    sizes[n_groups] = size[i]
                    group_colour[n_groups] = v
                    n_groups += 1
    return n_groups


@njit(cache=True)
def has_moves(board: np.ndarray, rows: int, cols: int, colours: int) -> bool:
    """Some group of two is left (a clickable bubble equal to its right or lower neighbour)."""
    for r in range(rows):
        base = r * cols
        for c in range(cols):
            v = board[base + c]
            if v == 0 or v > colours:
                continue
            if c + 1 < cols and board[base + c + 1] == v:
                return True
            if r + 1 < rows and board[base + c + cols] == v:
                return True
    return False


# --------------------------------------------------------------------------------------------------------------
# Moves
# --------------------------------------------------------------------------------------------------------------


@njit(cache=True)
def _settle(board: np.ndarray, rows: int, cols: int, col_lo: int, col_hi: int, shift_right: bool, row_shift: bool):
    """Gravity in columns ``col_lo..col_hi`` (the only ones that lost bubbles), then column closing or, in the
    Shifter variants, row compaction toward the shift side; in place, order kept (as :func:`rules.settle`)."""
    last = (rows - 1) * cols
    step = -1 if shift_right else 1  # read from the shift side inward, writing from the shift side
    emptied = False
    for c in range(col_lo, col_hi + 1):
        w = last + c
        for i in range(last + c, -1, -cols):
            v = board[i]
            if v != 0:
                if w != i:
                    board[w] = v
                    board[i] = 0
                w -= cols
        if board[last + c] == 0:
            emptied = True
    first = cols - 1 if shift_right else 0  # the column on the shift side
    if row_shift:
        for r in range(rows):
            w = r * cols + first
            for i in range(w, w + step * cols, step):
                v = board[i]
                if v != 0:
                    if w != i:
                        board[w] = v
                        board[i] = 0
                    w += step
        return
    if not emptied:
        return
    w = first
    for c in range(first, first + step * cols, step):
        if board[last + c] != 0:
            if w != c:
                for i in range(0, last + 1, cols):
                    board[i + w] = board[i + c]
                    board[i + c] = 0
            w += step


@njit(cache=True)
def _group_points(n: int, samegame: bool) -> float:
    if n < 2:
        return 0.0
    if samegame:
        return float((n - 2) * (n - 2))
    return float(n * (n - 1))


@njit(cache=True, inline="always")
def end_penalty(counts: np.ndarray, colours: int) -> float:
    """SameGame's end penalty, the sum of ``(n - 2)^2`` over the colours with ``n > 2`` bubbles left
    (``counts[c]`` for colours ``1..colours``)."""
    penalty = 0.0
    for c in range(1, colours + 1):
        if counts[c] > 2:
            penalty += float((counts[c] - 2) * (counts[c] - 2))
    return penalty


@njit(cache=True, inline="always")
def end_of_line(counts: np.ndarray, colours: int, length: int, samegame: bool, params: np.ndarray) -> float:
    """What a played line's end adds to its score from the colour counts left: SameGame's clear bonus for an empty
    board, else minus the end penalty (when enabled); 0 for Bubble Breaker or an empty line."""
    if length == 0 or not samegame:
        return 0.0
    if counts[1 : colours + 1].sum() == 0:
        return float(params[P_BONUS])
    return -end_penalty(counts, colours) if params[P_PENALTY] else 0.0


@njit(cache=True)
def _end_adjustment(board: np.ndarray, params: np.ndarray) -> float:
    """SameGame: the clear bonus for an empty board, else minus the end penalty (when enabled); 0 otherwise."""
    if not params[P_SAMEGAME]:
        return 0.0
    colours = params[P_COLOURS]
    counts = np.zeros(colours + 1, np.int64)
    empty = True
    for v in board:
        if v != 0:
            empty = False
            if v <= colours:
                counts[v] += 1
    if empty:
        return float(params[P_BONUS])
    if not params[P_PENALTY]:
        return 0.0
    return -end_penalty(counts, colours)


@njit(cache=True)
def remove_labelled(board: np.ndarray, rows: int, cols: int, rep: int, label: np.ndarray, params: np.ndarray) -> int:
    """Remove the group whose cells carry ``label == rep`` (from :func:`label_cells`) and settle; returns its size."""
    n = 0
    col_lo = cols
    col_hi = -1
    for i in range(rep, rows * cols):  # the representative is the group's smallest cell
        if label[i] == rep and board[i] != 0:  # labels of empty cells outside the labelled box are stale
            board[i] = 0
            c = i % cols
            col_lo = min(col_lo, c)
            col_hi = max(col_hi, c)
            n += 1
    _settle(board, rows, cols, col_lo, col_hi, params[P_SHIFT_RIGHT] != 0, params[P_ROW_SHIFT] != 0)
    return n


@njit(cache=True)
def click(board: np.ndarray, rows: int, cols: int, cell: int, params: np.ndarray, label: np.ndarray, size):
    """Click ``cell`` of flat ``board`` in place: remove its group and settle. Returns the bubbles removed
    (0, board unchanged, when the cell is not in a group of >= 2)."""
    v = board[cell]
    if v == 0 or v > params[P_COLOURS]:
        return 0
    label_cells(board, rows, cols, params[P_COLOURS], label, size)
    rep = label[cell]
    if size[rep] < 2:
        return 0
    return remove_labelled(board, rows, cols, rep, label, params)


@njit(cache=True)
def step_board(board: np.ndarray, cell: int, params: np.ndarray):
    """One move on a copy of ``board`` ``(rows, cols) int8``: ``(new_board, reward, removed, terminal)`` exactly as
    :func:`rules.step` (terminal rewards in the move that ends the game; an illegal click changes nothing)."""
    rows, cols = board.shape
    out = board.copy().reshape(rows * cols)
    label = np.empty(rows * cols, np.int64)
    size = np.empty(rows * cols, np.int64)
    removed = click(out, rows, cols, cell, params, label, size)
    terminal = not has_moves(out, rows, cols, params[P_COLOURS])
    reward = _group_points(removed, params[P_SAMEGAME] != 0)
    if removed >= 2 and terminal:
        reward += _end_adjustment(out, params)
    return out.reshape(rows, cols), reward, removed, terminal


# --------------------------------------------------------------------------------------------------------------
# Playouts
# --------------------------------------------------------------------------------------------------------------


@njit(cache=True)
def _choose(policy: int, n_groups: int, sizes: np.ndarray, group_colour: np.ndarray, counts: np.ndarray, rng) -> int:
    """Index of the group a playout policy clicks (see :data:`KERNEL_POLICIES`)."""
    if policy == GREEDY:
        best = 0
        for g in range(1, n_groups):
            if sizes[g] > sizes[best]:
                best = g
        return best
    if policy == SIZE_WEIGHTED:
        total = 0
        for g in range(n_groups):
            total += sizes[g]
        target = int(_uniform(rng) * total)
        for g in range(n_groups):
            target -= sizes[g]
            if target < 0:
                return g
        return n_groups - 1
    if policy == TABU_COLOUR:
        tabu = 1
        for c in range(2, counts.size):
            if counts[c] > counts[tabu]:
                tabu = c
        allowed = 0
        for g in range(n_groups):
            if group_colour[g] != tabu:
                allowed += 1
        if allowed > 0:
            k = min(int(_uniform(rng) * allowed), allowed - 1)
            for g in range(n_groups):
                if group_colour[g] != tabu:
                    if k == 0:
                        return g
                    k -= 1
    return min(int(_uniform(rng) * n_groups), n_groups - 1)


@njit(cache=True)
def _playout(board, rows: int, cols: int, params, policy: int, rng, moves, work) -> tuple:
    """Play flat ``board`` (modified in place) to the end with ``policy``; returns ``(score, length)`` and writes
    the clicked cells into ``moves``."""
    label, size, reps, sizes, group_colour = work
    colours = params[P_COLOURS]
    samegame = params[P_SAMEGAME] != 0
    counts = np.zeros(colours + 1, np.int64)
    for v in board:
        if 0 < v <= colours:
            counts[v] += 1
    score = 0.0
    length = 0
    while True:
        n_groups = find_groups(board, rows, cols, colours, label, size, reps, sizes, group_colour)
        if n_groups == 0:
            break
        g = _choose(policy, n_groups, sizes, group_colour, counts, rng)
        removed = remove_labelled(board, rows, cols, reps[g], label, params)
        counts[group_colour[g]] -= removed
        score += _group_points(removed, samegame)
        moves[length] = reps[g]
        length += 1
    if length > 0:
        score += _end_adjustment(board, params)
    return score, length


# Column bit boards: the fast path for playouts of the standard rules (no row shift). ``masks[k, c]`` has bit ``b``
# set when cell (row ``rows - 1 - b``, column ``c``) holds colour ``k``: bit 0 is the bottom row, so gravity is
# "delete the removed bits and shift the bits above down", and one flood-fill step is a shift within each column
# plus an OR with the neighbouring columns. Bubbles occupy the contiguous columns ``c0..c1``.


@njit(cache=True, inline="always")
def _popcount(x: int) -> int:
    x = x - ((x >> 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0F
    return (x * 0x0101010101010101) >> 56


@njit(cache=True, inline="always")
def _squeeze(x: int, gone: int) -> int:
    """Delete the bit positions set in ``gone`` from ``x``; the bits above each one move down (gravity)."""
    while gone:
        low = (gone & -gone) - 1  # bits below the lowest removed position
        x = (x & low) | ((x >> 1) & ~low)
        gone = (gone & ~low) >> 1
        gone &= ~low  # the removed position itself is consumed
    return x


@njit(cache=True)
def _to_masks(board: np.ndarray, rows: int, cols: int, colours: int, masks: np.ndarray, counts: np.ndarray) -> tuple:
    """Fill ``masks`` ``(colours + 1, cols)`` and ``counts`` ``(colours + 1,)`` from a settled flat board; returns
    the occupied column span ``(c0, c1)`` (``c0 > c1`` when empty)."""
    masks[:, :] = 0
    counts[:] = 0
    c0 = cols
    c1 = -1
    for r in range(rows):
        bit = 1 << (rows - 1 - r)
        base = r * cols
        for c in range(cols):
            v = board[base + c]
            if v != 0:
                masks[v, c] |= bit
                counts[v] += 1
                c0 = min(c0, c)
                c1 = max(c1, c)
    return c0, c1


@njit(cache=True)
def _bit_groups(masks, colours: int, c0: int, c1: int, legal, fill, gbits, glo, ghi, sizes, group_colour) -> int:
    """Every group of >= 2 bubbles: its column window ``glo..ghi``, cells ``gbits[g, glo..ghi]``, size and colour.
    ``legal`` and ``fill`` are ``(cols,)`` scratch arrays; ``fill`` must be zero on entry and is left zero."""
    n_groups = 0
    for k in range(1, colours + 1):
        mk = masks[k]
        any_legal = 0
        for c in range(c0, c1 + 1):
            m = mk[c]
            v = m & ((m >> 1) | (m << 1))
            if c > c0:
                v |= m & mk[c - 1]
            if c < c1:
                v |= m & mk[c + 1]
            legal[c] = v
            any_legal |= v
        if any_legal == 0:
            continue
        for c in range(c0, c1 + 1):
            while legal[c] != 0:
                fill[c] = legal[c] & -legal[c]
                lo = c
                hi = c
                changed = True
                while changed:
                    changed = False
                    a = max(lo - 1, c0)
                    z = min(hi + 1, c1)
                    for j in range(a, z + 1):
                        g = fill[j]
                        nxt = g | (g << 1) | (g >> 1)
                        if j > a:
                            nxt |= fill[j - 1]
                        if j < z:
                            nxt |= fill[j + 1]
                        nxt &= mk[j]
                        if nxt != g:
                            fill[j] = nxt
                            changed = True
                            lo = min(lo, j)
                            hi = max(hi, j)
                size = 0
                for j in range(lo, hi + 1):
                    f = fill[j]
                    gbits[n_groups, j] = f
                    legal[j] &= ~f
                    size += _popcount(f)
                    fill[j] = 0
                glo[n_groups] = lo
                ghi[n_groups] = hi
                sizes[n_groups] = size
                group_colour[n_groups] = k
                n_groups += 1
    return n_groups


@njit(cache=True)
def _bit_representative(gbits, g: int, lo: int, hi: int, rows: int, cols: int) -> int:
    """The group's smallest flat cell index: its top row (highest bit), leftmost column there."""
    top = 0
    for j in range(lo, hi + 1):
        top |= gbits[g, j]
    b = rows - 1
    while not (top >> b) & 1:
        b -= 1
    for j in range(lo, hi + 1):
        if (gbits[g, j] >> b) & 1:
            return (rows - 1 - b) * cols + j
    return -1


@njit(cache=True)
def _bit_greedy(gbits, glo, ghi, sizes, n_groups: int, rows: int, cols: int) -> tuple:
    """``(group, representative)`` of the largest group, ties to the smallest representative cell (as
    :func:`policies.greedy`, so that both engines play the same greedy games)."""
    largest = 0
    for g in range(n_groups):
        largest = max(largest, sizes[g])
    best, best_rep = -1, rows * cols
    for g in range(n_groups):
        if sizes[g] == largest:
            rep = _bit_representative(gbits, g, glo[g], ghi[g], rows, cols)
            if rep < best_rep:
                best, best_rep = g, rep
    return best, best_rep


@njit(cache=True)
def _bit_remove(masks, colours: int, c0: int, c1: int, gbits, g: int, lo: int, hi: int, shift_right: bool) -> tuple:
    """Remove group ``g``: gravity in its columns, then close emptied columns toward the shift side. Returns the
    new occupied span ``(c0, c1)``."""
    emptied = False
    for j in range(lo, hi + 1):
        gone = gbits[g, j]
        if gone == 0:
            continue
        occupied = 0
        for k in range(1, colours + 1):
            masks[k, j] = _squeeze(masks[k, j], gone)
            occupied |= masks[k, j]
        if occupied == 0:
            emptied = True
    if not emptied:
        return c0, c1
    step = -1 if shift_right else 1
    first, last = (c1, c0) if shift_right else (c0, c1)
    w = first
    for c in range(first, last + step, step):
        occupied = 0
        for k in range(1, colours + 1):
            occupied |= masks[k, c]
        if occupied != 0:
            if w != c:
                for k in range(1, colours + 1):
                    masks[k, w] = masks[k, c]
                    masks[k, c] = 0
            w += step
    return (w - step, c1) if shift_right else (c0, w - step)


@njit(cache=True)
def _bit_playout(board, rows: int, cols: int, params, policy: int, rng, moves, work) -> tuple:
    """:func:`_playout` on column bit boards (standard rules only; ``board`` is left unchanged)."""
    masks, counts, legal, fill, gbits, glo, ghi, sizes, group_colour = work
    colours = params[P_COLOURS]
    samegame = params[P_SAMEGAME] != 0
    shift_right = params[P_SHIFT_RIGHT] != 0
    c0, c1 = _to_masks(board, rows, cols, colours, masks, counts)
    score = 0.0
    length = 0
    while c0 <= c1:
        n_groups = _bit_groups(masks, colours, c0, c1, legal, fill, gbits, glo, ghi, sizes, group_colour)
        if n_groups == 0:
            break
        if policy == GREEDY:
            g, rep = _bit_greedy(gbits, glo, ghi, sizes, n_groups, rows, cols)
        else:
            g = _choose(policy, n_groups, sizes, group_colour, counts, rng)
            rep = _bit_representative(gbits, g, glo[g], ghi[g], rows, cols)
        moves[length] = rep
        c0, c1 = _bit_remove(masks, colours, c0, c1, gbits, g, glo[g], ghi[g], shift_right)
        counts[group_colour[g]] -= sizes[g]
        score += _group_points(sizes[g], samegame)
        length += 1
    return score + end_of_line(counts, colours, length, samegame, params), length


@njit(cache=True)
def playouts(boards: np.ndarray, params: np.ndarray, policy: int, seed: np.uint64):
    """Play every board of ``boards`` ``(n, rows, cols) int8`` to the end with a kernel policy.

    Returns ``(scores (n,) float64, lengths (n,) int64, moves (n, rows * cols // 2) int32)``: the sum of rewards
    after the given position, the moves played and the clicked cells (``-1`` after the last). ``boards`` is not
    modified. Board ``i`` draws from its own stream of ``seed``.
    """
    n, rows, cols = boards.shape
    cells_n = rows * cols
    scores = np.zeros(n, np.float64)
    lengths = np.zeros(n, np.int64)
    moves = np.full((n, cells_n // 2), -1, np.int32)
    work = (
        np.empty(cells_n, np.int64),
        np.empty(cells_n, np.int64),
        np.empty(cells_n, np.int64),
        np.empty(cells_n, np.int64),
        np.empty(cells_n, np.int64),
    )
    colours = params[P_COLOURS]
    max_groups = cells_n // 2 + 1
    bit_work = (
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
    bit_boards = params[P_ROW_SHIFT] == 0
    buf = np.empty(cells_n, np.int32)
    flat = boards.reshape(n, cells_n)
    board = np.empty(cells_n, np.int8)
    for i in range(n):
        board[:] = flat[i]
        rng = _stream(seed, i)
        if bit_boards:
            score, length = _bit_playout(board, rows, cols, params, policy, rng, buf, bit_work)
        else:
            score, length = _playout(board, rows, cols, params, policy, rng, buf, work)
        scores[i] = score
        lengths[i] = length
        moves[i, :length] = buf[:length]
    return scores, lengths, moves


# --------------------------------------------------------------------------------------------------------------
# Afterstates of many boards
# --------------------------------------------------------------------------------------------------------------


@njit(cache=True)
def expand(boards: np.ndarray, params: np.ndarray):
    """Every legal move of every board in ``boards`` ``(n, rows, cols) int8`` and its successor.

    Returns ``(parent (k,) int64, move (k,) int64, children (k, rows, cols) int8, reward (k,) float64,
    terminal (k,) bool)``: one row per (board, group), boards in order, groups by ascending representative cell
    (the order of :func:`rules.group_moves`). Rewards and terminal flags are those of :func:`rules.step`.
    """
    n, rows, cols = boards.shape
    cells_n = rows * cols
    colours = params[P_COLOURS]
    samegame = params[P_SAMEGAME] != 0
    flat = boards.reshape(n, cells_n)
    label = np.empty(cells_n, np.int64)
    size = np.empty(cells_n, np.int64)
    reps = np.empty((n, cells_n // 2), np.int64)
    sizes = np.empty(cells_n, np.int64)
    group_colour = np.empty(cells_n, np.int64)
    counts = np.zeros(n, np.int64)
    for i in range(n):
        counts[i] = find_groups(flat[i], rows, cols, colours, label, size, reps[i], sizes, group_colour)
    k = counts.sum()
    parent = np.empty(k, np.int64)
    move = np.empty(k, np.int64)
    children = np.empty((k, cells_n), np.int8)
    reward = np.empty(k, np.float64)
    terminal = np.empty(k, np.bool_)
    j = 0
    for i in range(n):
        if counts[i] == 0:
            continue
        label_cells(flat[i], rows, cols, colours, label, size)
        for g in range(counts[i]):
            child = children[j]
            child[:] = flat[i]
            removed = remove_labelled(child, rows, cols, reps[i, g], label, params)
            end = not has_moves(child, rows, cols, colours)
            r = _group_points(removed, samegame)
            if end:
                r += _end_adjustment(child, params)
            parent[j] = i
            move[j] = reps[i, g]
            reward[j] = r
            terminal[j] = end
            j += 1
    return parent, move, children.reshape(k, rows, cols), reward, terminal
