"""Bubble Breaker / SameGame batched rules in torch tensor ops: the batch step of :mod:`rules`, on CPU or CUDA.

The same pure functions as :mod:`repgym.envs.bubble.rules` (``step``, ``legal_mask``, ``has_moves``,
``column_stream``, ``random_boards``, ``one_hot``) over tensors with a leading batch axis, with no Python loop over
boards, so that a GPU can step 2^16..2^20 boards at once (``benchmarks/bubble_speed_gpu.py``). Results are bit-equal
to the numpy rules (``tests/envs/bubble/test_torch_rules.py`` checks it with hypothesis on CPU), every variant
included:

- a game key is the uint64 key's bits in an ``int64`` tensor (torch's uint64 lacks shifts and remainders on CUDA);
  the SplitMix64 stream of :func:`rules._hash` is computed with wrapping int64 products and logical shifts;
- the clicked group is found by a flood fill on columns packed into int32 bit masks (one dilation step is a shift
  within the column and an OR with the neighbouring columns); its loop runs over board size, not boards, and checks
  for a fixed point every few steps, since each check synchronises with the device;
- gravity, column closing and row compaction are stable partitions computed with cumulative sums and a scatter.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from repgym.envs.bubble.rules import BubbleConfig, BubbleState

_FILL_CHECK_EVERY = 4  # flood-fill steps between fixed-point checks (each check waits for the device)


class TorchState(NamedTuple):
    """A batch of games on one device; every field has a leading batch axis (as :class:`rules.BubbleState`)."""

    board: torch.Tensor  # (batch, rows, cols) int8
    key: torch.Tensor  # (batch,) int64, the bits of the uint64 game key
    new_columns: torch.Tensor  # (batch,) int64
    score: torch.Tensor  # (batch,) float64


class TorchStepResult(NamedTuple):
    """What one batched move did, per board (as :class:`rules.StepResult`)."""

    state: TorchState
    reward: torch.Tensor  # (batch,) float64
    removed: torch.Tensor  # (batch,) int64
    illegal: torch.Tensor  # (batch,) bool
    terminal: torch.Tensor  # (batch,) bool


def from_numpy(state: BubbleState, device: torch.device | str = "cpu") -> TorchState:
    """A numpy :class:`rules.BubbleState` as tensors on ``device`` (keys reinterpreted as int64, bits kept)."""
    key = np.ascontiguousarray(state.key, dtype=np.uint64).view(np.int64)
    fields = (state.board.astype(np.int8), key, state.new_columns.astype(np.int64), state.score.astype(np.float64))
    return TorchState(*(torch.from_numpy(np.array(a)).to(device) for a in fields))


def to_numpy(state: TorchState) -> BubbleState:
    """Back to a numpy :class:`rules.BubbleState` (keys reinterpreted as uint64)."""
    board, key, new_columns, score = (t.cpu().numpy() for t in state)
    return BubbleState(board, key.view(np.uint64), new_columns, score)


# --------------------------------------------------------------------------------------------------------------
# Counter-based random stream (rules._hash on int64 bits)
# --------------------------------------------------------------------------------------------------------------


def _signed(value: int) -> int:
    """A uint64 constant as the int64 with the same bits."""
    return value - (1 << 64) if value >= 1 << 63 else value


_GOLDEN, _MIX1, _MIX2 = _signed(0x9E3779B97F4A7C15), _signed(0xBF58476D1CE4E5B9), _signed(0x94D049BB133111EB)
_COUNTER = _signed(0xD1B54A32D192ED03)


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 bits (torch's ``>>`` on int64 is arithmetic)."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def _splitmix64(x: torch.Tensor) -> torch.Tensor:
    """:func:`rules._splitmix64` on int64 bits (products wrap as uint64 products do)."""
    z = x + _GOLDEN
    z = (z ^ _shift_right(z, 30)) * _MIX1
    z = (z ^ _shift_right(z, 27)) * _MIX2
    return z ^ _shift_right(z, 31)


def _hash(key: torch.Tensor, *counters: torch.Tensor | int) -> torch.Tensor:
    """:func:`rules._hash`: counter-based random 64-bit words for ``key`` and broadcastable integer counters."""
    h = key
    for c in counters:
        h = _splitmix64(h ^ (torch.as_tensor(c, dtype=torch.int64, device=key.device) * _COUNTER))
    return h


def _unsigned_mod(x: torch.Tensor, m: int) -> torch.Tensor:
    """``x mod m`` of the unsigned 64-bit value whose bits ``x`` holds (a negative int64 is ``x + 2**64``)."""
    r = torch.remainder(x, m)
    return torch.where(x < 0, torch.remainder(r + (1 << 64) % m, m), r)


def random_boards(key: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """Full random boards ``(batch, rows, cols) int8`` (:func:`rules.random_boards`)."""
    cells = torch.arange(config.n_cells, dtype=torch.int64, device=key.device)
    h = _hash(key[:, None], 0xB0A4D, cells[None, :])
    return (_unsigned_mod(h, config.colours) + 1).to(torch.int8).reshape(-1, config.rows, config.cols)


def initial_state(key: torch.Tensor, config: BubbleConfig) -> TorchState:
    """Start states of random full boards for int64 keys ``(batch,)`` (:func:`rules.initial_state`)."""
    n = key.shape[0]
    zeros = torch.zeros(n, dtype=torch.int64, device=key.device)
    return TorchState(random_boards(key, config), key.clone(), zeros, zeros.to(torch.float64))


def column_stream(key: torch.Tensor, index: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """The ``index``-th new column of each game, ``(batch, rows) int8`` (:func:`rules.column_stream`)."""
    rows = torch.arange(config.rows, dtype=torch.int64, device=key.device)
    h = _hash(key[:, None], 0xC01, index[:, None], rows[None, :])
    column = (_unsigned_mod(h, config.colours) + 1).to(torch.int8)
    if config.random_column_height:
        height = _unsigned_mod(_hash(key, 0x4E16, index), config.rows) + 1
        column = torch.where(rows[None, :] < (config.rows - height)[:, None], 0, column).to(torch.int8)
    if config.max_new_columns is not None:
        grey = (index >= config.max_new_columns)[:, None]
        column = torch.where(grey, config.grey, column).to(torch.int8)
    return column


# --------------------------------------------------------------------------------------------------------------
# Groups and legal moves
# --------------------------------------------------------------------------------------------------------------


def playable(boards: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """Cells that hold a clickable colour (not empty, not grey)."""
    return (boards > 0) & (boards <= config.colours)


def _same_neighbours(boards: torch.Tensor, config: BubbleConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Playable cells equal to the cell below, ``(batch, rows - 1, cols)``, and right, ``(batch, rows, cols - 1)``."""
    clickable = playable(boards, config)
    same_v = (boards[:, 1:, :] == boards[:, :-1, :]) & clickable[:, 1:, :]
    same_h = (boards[:, :, 1:] == boards[:, :, :-1]) & clickable[:, :, 1:]
    return same_v, same_h


def legal_mask(boards: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """``(batch, rows, cols) bool``: cells in a group of >= 2 (:func:`rules.legal_mask`)."""
    same_v, same_h = _same_neighbours(boards, config)
    mask = torch.zeros(boards.shape, dtype=torch.bool, device=boards.device)
    mask[:, 1:, :] |= same_v
    mask[:, :-1, :] |= same_v
    mask[:, :, 1:] |= same_h
    mask[:, :, :-1] |= same_h
    return mask


def has_moves(boards: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """``(batch,) bool``: some group of >= 2 exists."""
    same_v, same_h = _same_neighbours(boards, config)
    return same_v.flatten(1).any(dim=1) | same_h.flatten(1).any(dim=1)


def _pack_columns(mask: torch.Tensor) -> torch.Tensor:
    """``(batch, rows, cols) bool`` -> ``(batch, cols) int32``: bit r set when row r of the column is set."""
    weights = (1 << torch.arange(mask.shape[1], dtype=torch.int32, device=mask.device))[None, :, None]
    return (mask.to(torch.int32) * weights).sum(dim=1, dtype=torch.int32)


def _unpack_columns(bits: torch.Tensor, rows: int) -> torch.Tensor:
    shifts = torch.arange(rows, dtype=torch.int32, device=bits.device)[None, :, None]
    return ((bits[:, None, :] >> shifts) & 1).bool()


def group_at(boards: torch.Tensor, rows_idx: torch.Tensor, cols_idx: torch.Tensor, config: BubbleConfig):
    """``(batch, rows, cols) bool``: the group of each board's clicked cell (:func:`rules.group_at`)."""
    n, rows, cols = boards.shape
    batch = torch.arange(n, device=boards.device)
    colour = boards[batch, rows_idx, cols_idx]
    clickable = (colour > 0) & (colour <= config.colours)
    same = _pack_columns(boards == colour[:, None, None])
    grown = torch.zeros((n, cols), dtype=torch.int32, device=boards.device)
    grown[batch, cols_idx] = torch.where(clickable, 1 << rows_idx.to(torch.int32), 0).to(torch.int32)
    while True:
        before = grown
        for _ in range(_FILL_CHECK_EVERY):
            nxt = grown | (grown << 1) | (grown >> 1)
            nxt[:, 1:] |= grown[:, :-1]
            nxt[:, :-1] |= grown[:, 1:]
            grown = nxt & same
        if torch.equal(grown, before):
            return _unpack_columns(grown, rows)


# --------------------------------------------------------------------------------------------------------------
# Board dynamics
# --------------------------------------------------------------------------------------------------------------


def _partition(values: torch.Tensor, keep: torch.Tensor, dim: int, toward_end: bool) -> torch.Tensor:
    """Move the entries of ``values`` where ``keep`` (same shape) to the end (or start) of ``dim``, order kept on
    both sides: a stable partition by cumulative sums and one scatter."""
    k = keep.to(torch.int64)
    size = values.shape[dim]
    n_keep = k.sum(dim, keepdim=True)
    rank_keep = k.cumsum(dim) - 1
    rank_free = (1 - k).cumsum(dim) - 1
    if toward_end:
        target = torch.where(keep, size - n_keep + rank_keep, rank_free)
    else:
        target = torch.where(keep, rank_keep, n_keep + rank_free)
    return torch.empty_like(values).scatter_(dim, target, values)


def gravity(boards: torch.Tensor) -> torch.Tensor:
    """Bubbles fall to the bottom of their column, order kept (:func:`rules.gravity`)."""
    return _partition(boards, boards != 0, dim=1, toward_end=True)


def close_columns(boards: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """Non-empty columns close up toward ``config.shift``, order kept (boards after gravity)."""
    occupied = (boards[:, -1:, :] != 0).expand_as(boards)
    return _partition(boards, occupied, dim=2, toward_end=config.shift == "right")


def compact_rows(boards: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """Shifter: the bubbles of every row slide toward ``config.shift``, order kept."""
    return _partition(boards, boards != 0, dim=2, toward_end=config.shift == "right")


def settle(boards: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """Gravity, then column closing (or row compaction in the Shifter variants) (:func:`rules.settle`)."""
    boards = gravity(boards)
    return compact_rows(boards, config) if config.row_shift else close_columns(boards, config)


def _fill_new_columns(state: TorchState, config: BubbleConfig, moved: torch.Tensor) -> tuple[TorchState, torch.Tensor]:
    """Continuous: the empty columns of the boards that ``moved`` filled from their streams and settled; returns
    the state and the grey columns that arrived per board (:func:`rules._fill_new_columns`)."""
    boards, key, new_columns, score = state
    n, rows, cols = boards.shape
    empty = (boards[:, -1, :] == 0) & moved[:, None]  # (n, cols); empty columns sit opposite the shift side
    k = empty.sum(dim=1)
    c = torch.arange(cols, device=boards.device)[None, :]
    # Arrival order j of the column that lands at c: the first arrival lands farthest toward the shift side.
    j = (k[:, None] - 1 - c) if config.shift == "right" else (c - (cols - k[:, None]))
    index = new_columns[:, None] + j.clamp(min=0)
    columns = column_stream(key.repeat_interleave(cols), index.reshape(-1), config).reshape(n, cols, rows)
    filled = torch.where(empty[:, None, :], columns.transpose(1, 2), boards)
    filled = torch.where(moved[:, None, None] & (k > 0)[:, None, None], settle(filled, config), boards)
    grey = torch.zeros(n, dtype=torch.int64, device=boards.device)
    if config.max_new_columns is not None:
        grey = (empty & (index >= config.max_new_columns)).sum(dim=1)
    return TorchState(filled, key, new_columns + k, score), grey


def _end_penalty(boards: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """SameGame: sum over colours of (k - 2)^2 for the colours with k > 2 bubbles left, float64 (as the numpy rules)."""
    flat = boards.flatten(1)
    penalty = torch.zeros(boards.shape[0], dtype=torch.int64, device=boards.device)
    for colour in range(1, config.colours + 1):  # a loop over colours, not boards
        penalty += ((flat == colour).sum(dim=1) - 2).clamp(min=0) ** 2
    return penalty.to(torch.float64)


def group_reward(n: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """Points for removing a group of ``n`` bubbles, float64 (0 for n < 2)."""
    n = n.to(torch.float64)
    pts = n * (n - 1) if config.scoring == "bubble" else (n - 2) ** 2
    return torch.where(n >= 2, pts, 0.0)


def step(state: TorchState, actions: torch.Tensor, config: BubbleConfig, check: bool = True) -> TorchStepResult:
    """Click one cell per board (flat indices ``row * cols + col``), as :func:`rules.step`. Pure: returns a new state.

    ``check`` raises ``ValueError`` for an index outside ``0..rows*cols-1`` (one device synchronisation; pass False
    where the actions are known to be in range)."""
    actions = actions.reshape(-1).to(torch.int64)
    n = state.board.shape[0]
    if actions.shape[0] != n:
        raise ValueError(f"expected {n} actions, got {actions.shape[0]}")
    if check and n and bool(((actions < 0) | (actions >= config.n_cells)).any()):
        bad = actions[(actions < 0) | (actions >= config.n_cells)][0]
        raise ValueError(f"action {int(bad)} is out of range: expected a cell index in 0..{config.n_cells - 1}")
    rows_idx, cols_idx = actions // config.cols, actions % config.cols
    group = group_at(state.board, rows_idx, cols_idx, config)
    removed = group.flatten(1).sum(dim=1)
    legal = removed >= 2
    cleared_cells = torch.where(group & legal[:, None, None], 0, state.board).to(torch.int8)
    boards = torch.where(legal[:, None, None], settle(cleared_cells, config), state.board)
    reward = torch.where(legal, group_reward(removed, config), 0.0)
    removed = torch.where(legal, removed, 0)
    new_state = TorchState(boards, state.key, state.new_columns, state.score)
    if config.continuous:
        new_state, grey_arrived = _fill_new_columns(new_state, config, legal)
        reward = reward + grey_arrived.to(torch.float64) * config.grey_column_value
    terminal = ~has_moves(new_state.board, config)
    if config.scoring == "samegame":
        ended = legal & terminal
        cleared = ended & (new_state.board == 0).flatten(1).all(dim=1)
        reward = torch.where(cleared, reward + config.clear_bonus, reward)
        if config.end_penalty:
            reward = torch.where(ended, reward - _end_penalty(new_state.board, config), reward)
    new_state = new_state._replace(score=state.score + reward)
    return TorchStepResult(new_state, reward, removed, ~legal, terminal)


def next_column(state: TorchState, config: BubbleConfig) -> torch.Tensor:
    """Continuous preview: the column each game receives next, ``(batch, rows) int8``."""
    return column_stream(state.key, state.new_columns, config)


def one_hot(boards: torch.Tensor, config: BubbleConfig) -> torch.Tensor:
    """``(batch, planes, rows, cols) uint8`` one-hot planes (:func:`rules.one_hot`)."""
    planes = config.colours + 1 + (1 if config.continuous else 0)
    values = torch.arange(planes, dtype=boards.dtype, device=boards.device)[None, :, None, None]
    return (boards[:, None, :, :] == values).to(torch.uint8)
