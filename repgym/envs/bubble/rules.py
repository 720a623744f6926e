"""Bubble Breaker / SameGame rules as pure functions over numpy arrays.

Everything here works on a *batch* of boards with shape ``(batch, rows, cols)`` and dtype ``int8``:
``0`` is empty, ``1..colours`` are colours and ``colours + 1`` is a grey (inert) bubble that can never be
clicked. Row 0 is the **top** row; bubbles fall toward the last row. A single board is a batch of one
(:func:`as_batch`). The Gymnasium envs, the native vector env and the search agents are thin shells around
these functions, so the rules are tested once, without any env machinery. Nothing here imports gymnasium.

A move clicks a cell; when the cell belongs to a 4-connected group of ``n >= 2`` bubbles of one colour, the
group is removed, bubbles above fall down, emptied columns close up toward ``config.shift`` (``"right"`` in
Bubble Breaker, ``"left"`` in SameGame) and, in the *Shifter* variants, every row is compacted toward the same
side. In the *Continuous* variants each emptied column is refilled from the opposite side by a new column drawn
from a per-game random stream (:func:`column_stream`); after ``max_new_columns`` the new columns are grey.

The random stream is counter-based (splitmix64 of the game key and the column index), so a batch of games
draws its new columns with array operations, and the single env and the vector env produce identical games
from the same key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import numpy as np

Scoring = Literal["bubble", "samegame"]
Side = Literal["right", "left"]

_MAX_ROWS = 16  # columns are packed into uint16 bit masks for the flood fill


@dataclass(frozen=True)
class BubbleConfig:
    """Rules of one game family. Immutable; shared by single and vector envs and by search."""

    rows: int = 14
    """Board height (cells)."""
    cols: int = 10
    """Board width (cells)."""
    colours: int = 5
    """Number of bubble colours, 1..9."""
    scoring: Scoring = "bubble"
    """``"bubble"``: a group of n scores n(n-1). ``"samegame"``: (n-2)^2, plus ``clear_bonus`` for an empty board."""
    clear_bonus: int = 1000
    """SameGame bonus for clearing the whole board (ignored by ``"bubble"`` scoring)."""
    end_penalty: bool = False
    """SameGame only: at the end subtract sum over colours of (k-2)^2 for every colour with k > 2 bubbles left."""
    shift: Side = "right"
    """Side toward which emptied columns close up (and rows compact, in Shifter variants)."""
    row_shift: bool = False
    """Shifter: after gravity, every row is compacted toward ``shift``."""
    continuous: bool = False
    """Continuous: each emptied column is replaced by a new column arriving from the side opposite ``shift``."""
    random_column_height: bool = False
    """Continuous: new columns have a uniformly random height in 1..rows instead of full height."""
    max_new_columns: int | None = None
    """Continuous: after this many new columns, new columns are grey (inert), so every game ends. None = unbounded."""
    grey_column_value: float = 0.0
    """Continuous: reward paid for every grey column that arrives (0 = none)."""

    def __post_init__(self) -> None:
        if not 2 <= self.rows <= _MAX_ROWS:
            raise ValueError(f"rows must be in 2..{_MAX_ROWS}, got {self.rows}")
        if not 2 <= self.cols <= 64:
            raise ValueError(f"cols must be in 2..64, got {self.cols}")
        if not 1 <= self.colours <= 9:
            raise ValueError(f"colours must be in 1..9, got {self.colours}")
        if self.scoring not in ("bubble", "samegame"):
            raise ValueError(f"scoring must be 'bubble' or 'samegame', got {self.scoring!r}")
        if self.shift not in ("right", "left"):
            raise ValueError(f"shift must be 'right' or 'left', got {self.shift!r}")
        if self.max_new_columns is not None and self.max_new_columns < 0:
            raise ValueError(f"max_new_columns must be >= 0 or None, got {self.max_new_columns}")

    @property
    def grey(self) -> int:
        """Cell value of a grey (inert) bubble."""
        return self.colours + 1

    @property
    def n_cells(self) -> int:
        return self.rows * self.cols

    def to_dict(self) -> dict:
        return asdict(self)


class BubbleState(NamedTuple):
    """State of a batch of games; every field has a leading batch axis."""

    board: np.ndarray  # (batch, rows, cols) int8
    key: np.ndarray  # (batch,) uint64, the game's random-stream key (new columns)
    new_columns: np.ndarray  # (batch,) int64, columns that have arrived so far (grey ones included)
    score: np.ndarray  # (batch,) float64, sum of rewards so far

    @property
    def batch_size(self) -> int:
        return self.board.shape[0]

    def index(self, idx) -> BubbleState:
        """Sub-batch (``idx`` an index array, slice or boolean mask)."""
        return BubbleState(self.board[idx], self.key[idx], self.new_columns[idx], self.score[idx])

    def copy(self) -> BubbleState:
        return BubbleState(self.board.copy(), self.key.copy(), self.new_columns.copy(), self.score.copy())


class StepResult(NamedTuple):
    """What one batched move did, per board."""

    state: BubbleState
    reward: np.ndarray  # (batch,) float64
    removed: np.ndarray  # (batch,) int64, bubbles removed (0 for an illegal click)
    illegal: np.ndarray  # (batch,) bool, the click was not on a group of >= 2
    terminal: np.ndarray  # (batch,) bool, no group of two is left


# --------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------


def as_batch(board: np.ndarray) -> np.ndarray:
    """A ``(rows, cols)`` board as a batch of one; a batch is returned unchanged."""
    board = np.asarray(board)
    if board.ndim == 2:
        return board[None]
    if board.ndim != 3:
        raise ValueError(f"expected a board (rows, cols) or a batch (batch, rows, cols), got shape {board.shape}")
    return board


_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A good 64-bit mixing function (Steele et al.'s SplitMix64 finaliser), elementwise on uint64."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _hash(key: np.ndarray, *counters: np.ndarray) -> np.ndarray:
    """Counter-based random uint64 for ``key`` (batch,) and broadcastable integer counters."""
    h = np.asarray(key, dtype=np.uint64)
    for c in counters:
        with np.errstate(over="ignore"):
            h = _splitmix64(h ^ (np.asarray(c).astype(np.uint64) * np.uint64(0xD1B54A32D192ED03)))
    return h


def random_boards(key: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """Full random boards ``(batch, rows, cols) int8``, one per key, colours uniform in 1..colours."""
    key = np.asarray(key, dtype=np.uint64).reshape(-1)
    cells = np.arange(config.n_cells, dtype=np.int64)
    h = _hash(key[:, None], np.uint64(0xB0A4D), cells[None, :])
    colours = (h % np.uint64(config.colours)).astype(np.int8) + 1
    return colours.reshape(-1, config.rows, config.cols)


def column_stream(key: np.ndarray, index: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """The ``index``-th new column of each game, ``(batch, rows) int8``, top cell first, bottom-aligned.

    Grey (``config.grey``) once ``index >= max_new_columns``; with ``random_column_height`` the height is
    uniform in 1..rows (cells above it empty).
    """
    key = np.asarray(key, dtype=np.uint64).reshape(-1)
    index = np.asarray(index, dtype=np.int64).reshape(-1)
    rows = np.arange(config.rows, dtype=np.int64)
    h = _hash(key[:, None], np.uint64(0xC01), index[:, None], rows[None, :])
    column = (h % np.uint64(config.colours)).astype(np.int8) + 1
    if config.random_column_height:
        hh = _hash(key, np.uint64(0x4E16), index)
        height = (hh % np.uint64(config.rows)).astype(np.int64) + 1
        column[rows[None, :] < (config.rows - height)[:, None]] = 0
    if config.max_new_columns is not None:
        grey = index >= config.max_new_columns
        column[grey] = config.grey
    return column


def initial_state(key: np.ndarray, config: BubbleConfig, board: np.ndarray | None = None) -> BubbleState:
    """Start states for a batch of keys: random full boards, or the given board(s) (validated and settled).

    In the Continuous variants a given board's empty columns are filled from the game's column stream at once
    (they count as new columns), since a continuous board never has an empty column.
    """
    key = np.asarray(key, dtype=np.uint64).reshape(-1)
    if board is None:
        boards = random_boards(key, config)
    else:
        boards = as_batch(board).astype(np.int8, copy=True)
        validate_board(boards, config)
        if boards.shape[0] == 1 and key.shape[0] > 1:
            boards = np.repeat(boards, key.shape[0], axis=0)
        if boards.shape[0] != key.shape[0]:
            raise ValueError(f"got {boards.shape[0]} boards for {key.shape[0]} games")
        boards = settle(boards, config)
    n = key.shape[0]
    state = BubbleState(boards, key.copy(), np.zeros(n, np.int64), np.zeros(n, np.float64))
    if board is not None and config.continuous:
        state, _ = _fill_new_columns(state, config, np.ones(n, bool))
    return state


def validate_board(boards: np.ndarray, config: BubbleConfig) -> None:
    """Raise ``ValueError`` unless ``boards`` fit ``config`` (shape and cell values)."""
    boards = as_batch(boards)
    if boards.shape[1:] != (config.rows, config.cols):
        raise ValueError(f"board shape {boards.shape[1:]} does not match rows x cols = ({config.rows}, {config.cols})")
    top = config.grey if config.continuous else config.colours
    bad = (boards < 0) | (boards > top)
    if bad.any():
        b, r, c = np.argwhere(bad)[0]
        grey = f" or {config.grey} (grey)" if config.continuous else ""
        raise ValueError(
            f"board cell (row {r}, col {c}) holds {boards[b, r, c]}, "
            f"expected 0 (empty) or a colour in 1..{config.colours}{grey}"
        )


# --------------------------------------------------------------------------------------------------------------
# Groups and legal moves
# --------------------------------------------------------------------------------------------------------------


def playable(boards: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """Cells that hold a clickable colour (not empty, not grey)."""
    return (boards > 0) & (boards <= config.colours)


def _same_neighbours(b: np.ndarray, config: BubbleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Playable cells equal to their neighbour below, ``(batch, cells - cols)``, and to their right neighbour,
    ``(batch, cells - 1)``, indexed by the upper / left cell's flat index. Boards are viewed as ``(batch, cells)``
    so that each comparison runs over contiguous memory (slicing the short last axis is several times slower)."""
    n, rows, cols = b.shape
    flat = b.reshape(n, rows * cols)
    clickable = playable(flat, config)
    same_v = (flat[:, cols:] == flat[:, :-cols]) & clickable[:, cols:]
    same_h = (flat[:, 1:] == flat[:, :-1]) & clickable[:, 1:]
    same_h[:, cols - 1 :: cols] = False  # the last cell of a row and the first of the next are not neighbours
    return same_v, same_h


def legal_mask(boards: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """``(batch, rows, cols) bool``: cells in a group of >= 2, i.e. with a same-coloured 4-neighbour."""
    b = as_batch(boards)
    n, rows, cols = b.shape
    same_v, same_h = _same_neighbours(b, config)
    mask = np.zeros((n, rows * cols), dtype=bool)
    mask[:, cols:] |= same_v
    mask[:, :-cols] |= same_v
    mask[:, 1:] |= same_h
    mask[:, :-1] |= same_h
    return mask.reshape(b.shape)


def has_moves(boards: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """``(batch,) bool``: some group of >= 2 exists."""
    same_v, same_h = _same_neighbours(as_batch(boards), config)
    return same_v.any(axis=1) | same_h.any(axis=1)


def _pack_columns(mask: np.ndarray) -> np.ndarray:
    """``(batch, rows, cols) bool`` -> ``(batch, cols) uint32``: bit r set when row r of the column is set."""
    weights = (np.uint32(1) << np.arange(mask.shape[1], dtype=np.uint32))[None, :, None]
    return (mask * weights).sum(axis=1, dtype=np.uint32)


def _unpack_columns(bits: np.ndarray, rows: int) -> np.ndarray:
    shifts = np.arange(rows, dtype=np.uint32)[None, :, None]
    return ((bits[:, None, :] >> shifts) & np.uint32(1)).astype(bool)


def group_at(boards: np.ndarray, rows_idx: np.ndarray, cols_idx: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """``(batch, rows, cols) bool``: the 4-connected same-colour group containing each board's clicked cell.

    Flood fill on columns packed as bit masks: one dilation step is a shift within the column plus an OR with
    the neighbouring columns, so each step costs ``O(batch * cols)`` whatever the board height. Empty or grey
    cells give an empty group.
    """
    b = as_batch(boards)
    n, rows, cols = b.shape
    batch = np.arange(n)
    colour = b[batch, rows_idx, cols_idx]
    clickable = (colour > 0) & (colour <= config.colours)
    same = _pack_columns(b == colour[:, None, None])  # (n, cols)
    seed = np.zeros((n, cols), dtype=np.uint32)
    seed[batch, cols_idx] = np.where(clickable, np.uint32(1) << rows_idx.astype(np.uint32), np.uint32(0))
    grown = seed
    active = np.arange(n)
    while active.size:
        g = grown[active]
        s = same[active]
        nxt = g | (g << np.uint32(1)) | (g >> np.uint32(1))
        nxt[:, 1:] |= g[:, :-1]
        nxt[:, :-1] |= g[:, 1:]
        nxt &= s
        changed = (nxt != g).any(axis=1)
        grown[active] = nxt
        active = active[changed]
    return _unpack_columns(grown, rows)


def label_groups(boards: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """``(batch, rows, cols) int32`` group labels: each cell in a group of >= 2 gets the smallest flat cell index
    (``row * cols + col``) of its group; other cells get -1. A group's *representative* cell is the one whose
    label equals its own index."""
    b = as_batch(boards)
    n, rows, cols = b.shape
    cells = rows * cols
    legal = legal_mask(b, config)
    # Min-label propagation over the whole batch flattened to 1-D, so that every operation runs over contiguous
    # memory. An edge joins a cell to its right (shift 1) or lower (shift cols) neighbour; a penalty of ``big``
    # disables it (different colour, end of a row, last row of a board), which avoids slow masked updates.
    # Labels are updated in place, so one sweep often carries a label further than one cell.
    big = np.int32(cells)
    same_v, same_h = _same_neighbours(b, config)
    penalty_h = np.full((n, cells), big, np.int32)
    penalty_h[:, :-1] = ~same_h * big
    penalty_v = np.full((n, cells), big, np.int32)
    penalty_v[:, :-cols] = ~same_v * big
    edges = ((1, penalty_h.reshape(-1)[:-1]), (cols, penalty_v.reshape(-1)[:-cols]))
    labels = np.tile(np.arange(cells, dtype=np.int32), n)
    while True:
        before = labels.copy()
        for shift, penalty in edges:
            pair = np.minimum(labels[:-shift], labels[shift:])
            np.maximum(pair, penalty, out=pair)
            np.minimum(labels[:-shift], pair, out=labels[:-shift])
            np.minimum(labels[shift:], pair, out=labels[shift:])
        if np.array_equal(labels, before):
            break
    labels = labels.reshape(b.shape)
    labels[~legal] = -1
    return labels


class GroupStats(NamedTuple):
    count: np.ndarray  # (batch,) number of groups of >= 2
    largest: np.ndarray  # (batch,) size of the largest group (0 when none)


def group_stats(boards: np.ndarray, config: BubbleConfig) -> GroupStats:
    """Number of legal groups and largest group size per board."""
    labels = label_groups(boards, config)
    n, rows, cols = labels.shape
    cells = rows * cols
    flat = labels.reshape(n, cells)
    count = (flat == np.arange(cells, dtype=np.int32)).sum(axis=1)
    # One bin per (board, label + 1): bin 0 of each board collects the cells outside groups (label -1).
    bins = (flat + 1) + (np.arange(n) * (cells + 1))[:, None]
    sizes = np.bincount(bins.reshape(-1), minlength=n * (cells + 1)).reshape(n, cells + 1)[:, 1:]
    return GroupStats(count.astype(np.int64), sizes.max(axis=1).astype(np.int64))


def group_moves(board: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """One representative cell index per legal group of a single board, ascending: ``(n_groups,) int64``."""
    labels = label_groups(board, config)[0].reshape(-1)
    return np.flatnonzero(labels == np.arange(labels.size))


# --------------------------------------------------------------------------------------------------------------
# Board dynamics
# --------------------------------------------------------------------------------------------------------------


def _stable_partition(occupied: np.ndarray, axis: int, toward_end: bool) -> np.ndarray:
    """Indices that move occupied cells to the end (or start) of ``axis``, keeping their order."""
    key = occupied if toward_end else ~occupied
    return np.argsort(key, axis=axis, kind="stable")


def _misplaced(occupied: np.ndarray, axis: int, toward_end: bool) -> np.ndarray:
    """Lines along ``axis`` with an empty cell on the side where occupied cells belong (they need reordering)."""
    lower, upper = [slice(None)] * occupied.ndim, [slice(None)] * occupied.ndim
    lower[axis], upper[axis] = slice(None, -1), slice(1, None)
    first, second = occupied[tuple(lower)], occupied[tuple(upper)]
    return (first & ~second).any(axis=axis) if toward_end else (~first & second).any(axis=axis)


_FEW_LINES = 64  # below this many lines in the batch, sorting them all costs less than picking out those that move


def gravity(boards: np.ndarray) -> np.ndarray:
    """Let bubbles fall to the bottom (last row) of their column, order kept."""
    occupied = boards != 0
    falls = _misplaced(occupied, axis=1, toward_end=True)  # (batch, cols): a bubble above an empty cell
    if falls.size < _FEW_LINES:
        return np.take_along_axis(boards, _stable_partition(occupied, axis=1, toward_end=True), axis=1)
    # After a move only the columns that lost bubbles fall: sort just those.
    out = boards.copy()
    if falls.any():
        b_idx, c_idx = np.nonzero(falls)
        columns = boards[b_idx, :, c_idx]  # (k, rows)
        order = _stable_partition(columns != 0, axis=1, toward_end=True)
        out[b_idx, :, c_idx] = np.take_along_axis(columns, order, axis=1)
    return out


def close_columns(boards: np.ndarray, side: Side) -> np.ndarray:
    """Move empty columns away from ``side``: non-empty columns close up toward it, order kept.

    Assumes gravity has been applied (a column is empty iff its bottom cell is).
    """
    occupied = boards[:, -1, :] != 0
    toward_end = side == "right"
    out = boards.copy()
    todo = np.flatnonzero(_misplaced(occupied, axis=1, toward_end=toward_end))  # few boards empty a column
    if todo.size:
        sub = boards[todo]
        order = _stable_partition(occupied[todo], axis=1, toward_end=toward_end)
        out[todo] = np.take_along_axis(sub, np.broadcast_to(order[:, None, :], sub.shape), axis=2)
    return out


def compact_rows(boards: np.ndarray, side: Side) -> np.ndarray:
    """Shifter: slide the bubbles of every row toward ``side``, order kept."""
    occupied = boards != 0
    toward_end = side == "right"
    out = boards.copy()
    moves = _misplaced(occupied, axis=2, toward_end=toward_end)  # (batch, rows): rows with a gap to close
    if moves.any():
        b_idx, r_idx = np.nonzero(moves)
        lines = boards[b_idx, r_idx, :]  # (k, cols)
        order = _stable_partition(lines != 0, axis=1, toward_end=toward_end)
        out[b_idx, r_idx, :] = np.take_along_axis(lines, order, axis=1)
    return out


def settle(boards: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """Gravity, then column closing (and row compaction in Shifter variants)."""
    boards = gravity(boards)
    boards = compact_rows(boards, config.shift) if config.row_shift else close_columns(boards, config.shift)
    return boards


def _fill_new_columns(state: BubbleState, config: BubbleConfig, moved: np.ndarray) -> tuple[BubbleState, np.ndarray]:
    """Continuous: refill every empty column from the side opposite ``shift``. Returns the state and the number
    of grey columns that arrived per board. Only boards that ``moved`` (``(batch,) bool``) and have an empty
    column are touched, so an illegal click stays a no-op even on a board given with empty columns."""
    boards, key, new_columns, score = state
    empty_cols = boards[:, -1, :] == 0  # after settle, empty columns sit on the side opposite ``shift``
    n_empty = empty_cols.sum(axis=1)
    grey_arrived = np.zeros(boards.shape[0], np.int64)
    todo = np.flatnonzero((n_empty > 0) & moved)
    if todo.size == 0:
        return state, grey_arrived
    boards = boards.copy()
    new_columns = new_columns.copy()
    # Columns arrive one by one; the first to arrive is pushed farthest toward ``shift``.
    # With shift right, empty columns are 0..k-1: the first new column lands at k-1, the next at k-2, ...
    max_k = int(n_empty[todo].max())
    for j in range(max_k):
        sub = todo[n_empty[todo] > j]
        index = new_columns[sub]
        column = column_stream(key[sub], index, config)  # (m, rows)
        k = n_empty[sub]
        col_pos = (k - 1 - j) if config.shift == "right" else (config.cols - k + j)
        boards[sub, :, col_pos] = column
        if config.max_new_columns is not None:
            grey_arrived[sub] += index >= config.max_new_columns
        new_columns[sub] += 1
    # A new column may be shorter than its neighbours: settle again (rows compact in Shifter variants).
    boards[todo] = settle(boards[todo], config)
    return BubbleState(boards, key, new_columns, score), grey_arrived


def _end_penalty(boards: np.ndarray, config: BubbleConfig) -> np.ndarray:
    counts = np.stack([(boards == c).sum(axis=(1, 2)) for c in range(1, config.colours + 1)], axis=1)
    return (np.clip(counts - 2, 0, None) ** 2).sum(axis=1).astype(np.float64)


def group_reward(n: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """Points for removing a group of ``n`` bubbles (0 for n < 2)."""
    n = np.asarray(n, dtype=np.float64)
    if config.scoring == "bubble":
        pts = n * (n - 1)
    else:
        pts = (n - 2) ** 2
    return np.where(n >= 2, pts, 0.0)


def step(state: BubbleState, actions: np.ndarray, config: BubbleConfig) -> StepResult:
    """Click one cell per board (``actions`` are flat indices ``row * cols + col``). Pure: returns a new state.

    A click on a cell that is not in a group of >= 2 changes nothing and scores 0 (``illegal``). Raises
    ``ValueError`` for an index outside ``0..rows*cols-1``.
    """
    actions = np.asarray(actions).reshape(-1)
    n = state.batch_size
    if actions.shape[0] != n:
        raise ValueError(f"expected {n} actions, got {actions.shape[0]}")
    if not np.issubdtype(actions.dtype, np.integer):
        raise ValueError(f"actions must be integers (flat cell indices), got dtype {actions.dtype}")
    if actions.size and (actions.min() < 0 or actions.max() >= config.n_cells):
        bad = actions[(actions < 0) | (actions >= config.n_cells)][0]
        raise ValueError(f"action {bad} is out of range: expected a cell index in 0..{config.n_cells - 1}")
    rows_idx, cols_idx = np.divmod(actions.astype(np.int64), config.cols)
    group = group_at(state.board, rows_idx, cols_idx, config)
    removed = group.sum(axis=(1, 2)).astype(np.int64)
    illegal = removed < 2
    legal = ~illegal
    boards = state.board.copy()
    reward = np.zeros(n, np.float64)
    if legal.any():
        moved = np.flatnonzero(legal)
        sub = boards[moved]
        sub[group[moved]] = 0
        boards[moved] = settle(sub, config)
        reward[moved] = group_reward(removed[moved], config)
    removed[illegal] = 0
    new_state = BubbleState(boards, state.key, state.new_columns, state.score)
    if config.continuous:
        new_state, grey_arrived = _fill_new_columns(new_state, config, legal)
        reward += grey_arrived * config.grey_column_value
    terminal = ~has_moves(new_state.board, config)
    if config.scoring == "samegame":
        ended = legal & terminal
        cleared = ended & (new_state.board == 0).all(axis=(1, 2))
        reward[cleared] += config.clear_bonus
        if config.end_penalty:
            reward[ended] -= _end_penalty(new_state.board[ended], config)
    new_state = new_state._replace(score=state.score + reward)
    return StepResult(new_state, reward, removed, illegal, terminal)


def next_column(state: BubbleState, config: BubbleConfig) -> np.ndarray:
    """Continuous preview: the column each game will receive next, ``(batch, rows) int8``."""
    return column_stream(state.key, state.new_columns, config)


# --------------------------------------------------------------------------------------------------------------
# Afterstates (look-ahead)
# --------------------------------------------------------------------------------------------------------------


class Afterstates(NamedTuple):
    actions: np.ndarray  # (moves,) representative cell index of each legal group
    boards: np.ndarray  # (moves, rows, cols) board after each move
    rewards: np.ndarray  # (moves,) reward of each move
    terminal: np.ndarray  # (moves,) the move ends the game
    state: BubbleState  # the full successor states (batch = moves)


def afterstates(state: BubbleState, config: BubbleConfig) -> Afterstates:
    """All legal moves of a single game (``state`` with batch size 1) and their successors, in one batched call.

    One move per group (its representative cell, :func:`group_moves`), since every cell of a group gives the same
    successor. In the Continuous variants the successors include the new columns drawn from the game's stream,
    i.e. what will really happen; an agent that must not see the future should blank the arriving columns.
    """
    if state.batch_size != 1:
        raise ValueError(f"afterstates takes one game (batch size 1), got {state.batch_size}")
    moves = group_moves(state.board[0], config)
    rep = BubbleState(
        np.repeat(state.board, moves.size, axis=0),
        np.repeat(state.key, moves.size),
        np.repeat(state.new_columns, moves.size),
        np.repeat(state.score, moves.size),
    )
    if moves.size == 0:
        res_reward = np.zeros(0)
        return Afterstates(moves, rep.board, res_reward, np.zeros(0, bool), rep)
    res = step(rep, moves, config)
    return Afterstates(moves, res.state.board, res.reward, res.terminal, res.state)


# --------------------------------------------------------------------------------------------------------------
# Observation encodings
# --------------------------------------------------------------------------------------------------------------


def n_planes(config: BubbleConfig) -> int:
    """Planes of the one-hot encoding: empty, each colour, and grey in the Continuous variants."""
    return config.colours + 1 + (1 if config.continuous else 0)


def one_hot(boards: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """``(batch, planes, rows, cols) uint8`` one-hot planes: plane 0 empty, plane c colour c, last plane grey."""
    b = as_batch(boards)
    planes = np.arange(n_planes(config), dtype=np.int8)[None, :, None, None]
    return (b[:, None, :, :] == planes).astype(np.uint8)
