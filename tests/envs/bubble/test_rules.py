"""The pure rules, checked against a plain-Python reference model and with hypothesis invariants."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from repgym.envs.bubble import rules
from repgym.envs.bubble.rules import BubbleConfig

# ----------------------------------------------------------------------------------------------------------------
# A deliberately naive reference model: lists, BFS, one cell at a time.
# ----------------------------------------------------------------------------------------------------------------


def ref_group(board: list[list[int]], r: int, c: int, colours: int) -> set[tuple[int, int]]:
    colour = board[r][c]
    if not 1 <= colour <= colours:
        return set()
    seen, todo = {(r, c)}, deque([(r, c)])
    while todo:
        y, x = todo.popleft()
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            ny, nx = y + dy, x + dx
            if 0 <= ny < len(board) and 0 <= nx < len(board[0]) and (ny, nx) not in seen and board[ny][nx] == colour:
                seen.add((ny, nx))
                todo.append((ny, nx))
    return seen


def ref_settle(board: list[list[int]], cfg: BubbleConfig) -> list[list[int]]:
    rows, cols = len(board), len(board[0])
    columns = []
    for x in range(cols):
        cells = [board[y][x] for y in range(rows) if board[y][x]]
        columns.append([0] * (rows - len(cells)) + cells)
    grid = [[columns[x][y] for x in range(cols)] for y in range(rows)]
    if cfg.row_shift:
        out = []
        for row in grid:
            cells = [v for v in row if v]
            pad = [0] * (cols - len(cells))
            out.append(pad + cells if cfg.shift == "right" else cells + pad)
        return out
    keep = [x for x in range(cols) if grid[-1][x]]
    empty = [x for x in range(cols) if not grid[-1][x]]
    order = empty + keep if cfg.shift == "right" else keep + empty
    return [[row[x] for x in order] for row in grid]


def ref_step(board, key, new_columns, action, cfg):
    r, c = divmod(action, cfg.cols)
    group = ref_group(board, r, c, cfg.colours)
    if len(group) < 2:
        return board, new_columns, 0.0, 0
    board = [row[:] for row in board]
    for y, x in group:
        board[y][x] = 0
    board = ref_settle(board, cfg)
    n = len(group)
    reward = float(n * (n - 1)) if cfg.scoring == "bubble" else float((n - 2) ** 2)
    if cfg.continuous:
        empty = [x for x in range(cfg.cols) if not board[-1][x]]
        positions = sorted(empty, reverse=(cfg.shift == "right"))  # the first arrival lands nearest the board
        for x in positions:
            column = rules.column_stream(np.array([key], np.uint64), np.array([new_columns]), cfg)[0]
            if cfg.max_new_columns is not None and new_columns >= cfg.max_new_columns:
                reward += cfg.grey_column_value
            for y in range(cfg.rows):
                board[y][x] = int(column[y])
            new_columns += 1
        if positions:
            board = ref_settle(board, cfg)
    has_move = any(len(ref_group(board, y, x, cfg.colours)) >= 2 for y in range(cfg.rows) for x in range(cfg.cols))
    if cfg.scoring == "samegame" and not has_move:
        if all(v == 0 for row in board for v in row):
            reward += cfg.clear_bonus
        elif cfg.end_penalty:
            for colour in range(1, cfg.colours + 1):
                k = sum(v == colour for row in board for v in row)
                reward -= max(k - 2, 0) ** 2
    return board, new_columns, reward, n


# ----------------------------------------------------------------------------------------------------------------
# Strategies
# ----------------------------------------------------------------------------------------------------------------


@st.composite
def configs(draw) -> BubbleConfig:
    continuous = draw(st.booleans())
    return BubbleConfig(
        rows=draw(st.integers(2, 7)),
        cols=draw(st.integers(2, 7)),
        colours=draw(st.integers(1, 5)),
        scoring=draw(st.sampled_from(["bubble", "samegame"])),
        end_penalty=draw(st.booleans()),
        shift=draw(st.sampled_from(["right", "left"])),
        row_shift=draw(st.booleans()),
        continuous=continuous,
        random_column_height=draw(st.booleans()) if continuous else False,
        max_new_columns=draw(st.integers(0, 6)) if continuous else None,
        grey_column_value=draw(st.sampled_from([0.0, 5.0])),
    )


def invariants(board: np.ndarray, cfg: BubbleConfig) -> None:
    """No floating bubble, no gap in the shift direction, (Shifter) rows compacted."""
    occupied = board != 0
    # No floating bubbles: below an occupied cell every cell is occupied.
    assert not (occupied[:-1] & ~occupied[1:]).any(), f"floating bubble\n{board}"
    cols_used = occupied[-1]
    if cfg.shift == "right":
        assert not (cols_used[:-1] & ~cols_used[1:]).any(), f"empty column right of a full one\n{board}"
    else:
        assert not (~cols_used[:-1] & cols_used[1:]).any(), f"empty column left of a full one\n{board}"
    if cfg.row_shift:
        if cfg.shift == "right":
            assert not (occupied[:, :-1] & ~occupied[:, 1:]).any(), f"row not compacted\n{board}"
        else:
            assert not (~occupied[:, :-1] & occupied[:, 1:]).any(), f"row not compacted\n{board}"
    if cfg.continuous:
        assert cols_used.all(), f"continuous board has an empty column\n{board}"


# ----------------------------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------------------------


@given(cfg=configs(), seed=st.integers(0, 2**32), picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=25))
def test_step_matches_reference_and_keeps_invariants(cfg: BubbleConfig, seed: int, picks: list[int]) -> None:
    state = rules.initial_state(np.array([seed], np.uint64), cfg)
    board = state.board[0].tolist()
    new_columns = 0
    for pick in picks:
        legal = rules.legal_mask(state.board, cfg)[0]
        assert bool(rules.has_moves(state.board, cfg)[0]) == bool(legal.any())
        if not legal.any():
            break
        cells = np.flatnonzero(legal)
        # Mostly legal clicks, sometimes any cell (illegal clicks must be no-ops).
        action = int(cells[pick % cells.size]) if pick % 5 else pick % cfg.n_cells
        before = state.board[0].copy()
        result = rules.step(state, np.array([action]), cfg)
        ref_board, ref_new, ref_reward, ref_n = ref_step(board, seed, new_columns, action, cfg)
        after = result.state.board[0]
        assert after.tolist() == ref_board, f"action {action} on\n{before}"
        assert result.reward[0] == pytest.approx(ref_reward)
        assert result.removed[0] == ref_n
        assert bool(result.illegal[0]) == (ref_n == 0)
        assert result.state.new_columns[0] == ref_new
        if result.illegal[0]:
            assert np.array_equal(before, after) and result.reward[0] == 0
        invariants(after, cfg)
        # Bubbles are conserved: before - removed + arrived.
        arrived_cells = 0
        if cfg.continuous:
            idx = np.arange(new_columns, ref_new)
            if idx.size:
                arrived_cells = int((rules.column_stream(np.full(idx.size, seed, np.uint64), idx, cfg) != 0).sum())
        assert (after != 0).sum() == (before != 0).sum() - result.removed[0] + arrived_cells
        # Terminal iff no group of two.
        assert bool(result.terminal[0]) == (not rules.legal_mask(result.state.board, cfg).any())
        state, board, new_columns = result.state, ref_board, ref_new


@given(cfg=configs(), seed=st.integers(0, 2**32))
def test_group_labels_match_bfs(cfg: BubbleConfig, seed: int) -> None:
    board = rules.initial_state(np.array([seed], np.uint64), cfg).board
    labels = rules.label_groups(board, cfg)[0]
    grid = board[0].tolist()
    sizes = []
    for r in range(cfg.rows):
        for c in range(cfg.cols):
            group = ref_group(grid, r, c, cfg.colours)
            if len(group) >= 2:
                assert labels[r, c] == min(y * cfg.cols + x for y, x in group)
                if labels[r, c] == r * cfg.cols + c:
                    sizes.append(len(group))
            else:
                assert labels[r, c] == -1
    stats = rules.group_stats(board, cfg)
    assert stats.count[0] == len(sizes)
    assert stats.largest[0] == max(sizes, default=0)
    assert sorted(rules.group_moves(board[0], cfg).tolist()) == sorted(
        r * cfg.cols + c for r in range(cfg.rows) for c in range(cfg.cols) if labels[r, c] == r * cfg.cols + c
    )


@given(cfg=configs(), seed=st.integers(0, 2**32))
def test_afterstates_equal_single_steps(cfg: BubbleConfig, seed: int) -> None:
    state = rules.initial_state(np.array([seed], np.uint64), cfg)
    after = rules.afterstates(state, cfg)
    assert after.boards.shape == (after.actions.size, cfg.rows, cfg.cols)
    assert after.actions.size == rules.group_stats(state.board, cfg).count[0]
    for i, action in enumerate(after.actions):
        single = rules.step(state, np.array([action]), cfg)
        assert np.array_equal(single.state.board[0], after.boards[i])
        assert single.reward[0] == after.rewards[i]
        assert single.terminal[0] == after.terminal[i]


def test_score_formulas() -> None:
    n = np.arange(0, 8)
    assert rules.group_reward(n, BubbleConfig()).tolist() == [0, 0, 2, 6, 12, 20, 30, 42]
    assert rules.group_reward(n, BubbleConfig(scoring="samegame")).tolist() == [0, 0, 0, 1, 4, 9, 16, 25]


def test_clear_bonus_and_end_penalty() -> None:
    cfg = BubbleConfig(rows=2, cols=3, colours=3, scoring="samegame", end_penalty=True, shift="left")
    board = np.array([[0, 0, 0], [1, 1, 0]], np.int8)
    res = rules.step(rules.initial_state(np.array([0], np.uint64), cfg, board), np.array([3]), cfg)
    assert res.reward[0] == 0 + 1000 and res.terminal[0]
    # After the 1-pair goes, a checkerboard of five 2s and five 3s is left: penalty 2 * (5 - 2) ** 2.
    board = np.array([[0, 0, 3, 2, 3, 2, 3], [1, 1, 2, 3, 2, 3, 2]], np.int8)
    cfg = BubbleConfig(rows=2, cols=7, colours=3, scoring="samegame", end_penalty=True, shift="left")
    state = rules.initial_state(np.array([0], np.uint64), cfg, board)
    res = rules.step(state, np.array([7]), cfg)
    assert res.terminal[0]
    assert res.reward[0] == 0 - 2 * (5 - 2) ** 2


def test_worked_example_columns_close_right() -> None:
    cfg = BubbleConfig(rows=3, cols=3, colours=3)
    board = np.array([[1, 2, 3], [1, 2, 3], [1, 3, 2]], np.int8)
    state = rules.initial_state(np.array([0], np.uint64), cfg, board)
    res = rules.step(state, np.array([0]), cfg)  # the column of 1s disappears; the others close up to the right
    assert res.reward[0] == 6
    assert res.state.board[0].tolist() == [[0, 2, 3], [0, 2, 3], [0, 3, 2]]
    res = rules.step(res.state, np.array([1]), cfg)  # the 2-pair in column 1 falls away
    assert res.state.board[0].tolist() == [[0, 0, 3], [0, 0, 3], [0, 3, 2]]


def test_continuous_new_column_arrives_from_the_left_and_turns_grey() -> None:
    cfg = BubbleConfig(rows=2, cols=3, colours=2, continuous=True, max_new_columns=1)
    board = np.array([[1, 2, 1], [1, 2, 2]], np.int8)
    state = rules.initial_state(np.array([7], np.uint64), cfg, board)
    preview = rules.next_column(state, cfg)[0]
    res = rules.step(state, np.array([0]), cfg)
    assert res.state.board[0, :, 0].tolist() == preview.tolist()
    assert res.state.new_columns[0] == 1
    assert (rules.next_column(res.state, cfg)[0] == cfg.grey).all()


def test_out_of_range_and_bad_input() -> None:
    cfg = BubbleConfig(rows=3, cols=3, colours=2)
    state = rules.initial_state(np.array([0], np.uint64), cfg)
    with pytest.raises(ValueError, match="out of range"):
        rules.step(state, np.array([9]), cfg)
    with pytest.raises(ValueError, match="expected 1 actions"):
        rules.step(state, np.array([0, 1]), cfg)
    with pytest.raises(ValueError, match="rows must be"):
        BubbleConfig(rows=40)
    with pytest.raises(ValueError, match="cell \\(row 0, col 1\\) holds 7"):
        rules.initial_state(np.array([0], np.uint64), cfg, np.array([[1, 7, 1], [1, 1, 1], [2, 2, 2]]))


def test_boards_are_deterministic_per_key() -> None:
    cfg = BubbleConfig()
    a = rules.random_boards(np.array([1, 2], np.uint64), cfg)
    b = rules.random_boards(np.array([1, 2], np.uint64), cfg)
    assert np.array_equal(a, b) and not np.array_equal(a[0], a[1])
    counts = np.bincount(rules.random_boards(np.arange(200, dtype=np.uint64), cfg).ravel(), minlength=6)[1:]
    assert counts.min() > 0.9 * counts.mean()  # colours are close to uniform


def test_continuous_given_board_is_filled_and_illegal_click_is_a_noop() -> None:
    cfg = BubbleConfig(rows=3, cols=3, colours=3, continuous=True, max_new_columns=5)
    board = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1]], np.int8)  # column 0 empty
    state = rules.initial_state(np.array([3], np.uint64), cfg, board)
    assert (state.board[0, -1] != 0).all() and state.new_columns[0] == 1
    illegal = np.flatnonzero(~rules.legal_mask(state.board, cfg)[0])[0]
    res = rules.step(state, np.array([illegal]), cfg)
    assert res.illegal[0] and np.array_equal(res.state.board, state.board)
    assert res.state.new_columns[0] == 1 and res.reward[0] == 0
