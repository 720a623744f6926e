"""The vector env's compiled batch kernels against the numpy rules: moves, masks, group statistics, observations
and new columns, bit for bit, in every variant, serial and parallel."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from repgym.envs.bubble import batch_kernels as bk
from repgym.envs.bubble import rules
from repgym.envs.bubble.env import make_config

CONFIGS = {
    "standard": make_config(5, 4, 3, "standard"),
    "standard-14x10": make_config(14, 10, 5, "standard"),
    "continuous": make_config(5, 4, 3, "continuous", max_new_columns=3),
    "continuous-heights": make_config(5, 4, 3, "continuous", max_new_columns=4, random_column_height=True,
                                      grey_column_value=1.5),
    "continuous-unbounded-left": make_config(6, 5, 4, "continuous", shift="left", max_new_columns=None,
                                             random_column_height=True),
    "shifter-samegame": make_config(6, 5, 3, "shifter", scoring="samegame", end_penalty=True),
    "megashift-left": make_config(6, 5, 3, "megashift", shift="left", max_new_columns=3, grey_column_value=-2.0),
    "samegame-16x16": make_config(16, 16, 3, "standard", scoring="samegame", shift="left"),
    "samegame-2-colours": make_config(5, 5, 2, "standard", scoring="samegame", end_penalty=True),
}  # fmt: skip


def describe(state: rules.BubbleState, config, threads: int) -> dict[str, np.ndarray]:
    """Everything :func:`bk.describe_boards` and :func:`bk.next_columns` report, for every board."""
    n = state.batch_size
    planes = rules.n_planes(config)
    out = {
        "planes": np.full((n, planes, config.rows, config.cols), 7, np.uint8),
        "mask": np.ones((n, config.n_cells), bool),
        "groups": np.full(n, -1, np.int64),
        "largest": np.full(n, -1, np.int64),
        "left": np.full(n, -1, np.int64),
    }
    params = bk.batch_params(config)
    fields = [out[k] for k in ("mask", "groups", "largest", "left")]
    bk.describe_boards(
        state.board, np.arange(n), params, bk.OBS_PLANES, out["planes"].reshape(n, planes, -1), *fields, threads=threads
    )
    board_obs = np.zeros_like(state.board)
    bk.describe_boards(state.board, np.arange(n), params, bk.OBS_BOARD, board_obs.reshape(n, 1, -1), *fields)
    out["board"] = board_obs
    out["next"] = bk.next_columns(state.key, state.new_columns, config.rows, params)
    return out


def expected_description(state: rules.BubbleState, config) -> dict[str, np.ndarray]:
    stats = rules.group_stats(state.board, config)
    return {
        "planes": rules.one_hot(state.board, config),
        "mask": rules.legal_mask(state.board, config).reshape(state.batch_size, -1),
        "groups": stats.count,
        "largest": stats.largest,
        "left": rules.playable(state.board, config).sum(axis=(1, 2), dtype=np.int64),
        "board": state.board,
        "next": rules.next_column(state, config),
    }


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_kernels_play_the_numpy_rules(name: str, threads: int) -> None:
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("numba has a single thread here")
    config = CONFIGS[name]
    rng = np.random.default_rng(3)
    n = 40
    numpy_state = rules.initial_state(rng.integers(0, 2**63, n, dtype=np.uint64), config)
    kernel_state = numpy_state.copy()
    params = bk.batch_params(config)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        for t in range(50):
            masks = rules.legal_mask(numpy_state.board, config).reshape(n, -1)
            legal = (rng.random(masks.shape) * masks).argmax(axis=1)
            actions = np.where(rng.random(n) < 0.85, legal, rng.integers(0, config.n_cells, n)).astype(np.int64)
            expected = rules.step(numpy_state, actions, config)
            which = np.flatnonzero(rng.random(n) < 0.9)  # some boards sit this step out
            outputs = np.zeros(n), np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool)
            bk.step_boards(kernel_state, actions, which, params, config.grey_column_value, *outputs, threads=threads)
            for key, got, want in zip(("reward", "removed", "illegal", "terminal"), outputs, expected[1:], strict=True):
                np.testing.assert_array_equal(got[which], want[which], err_msg=f"step {t} {key}")
            for field in rules.BubbleState._fields:
                new = getattr(expected.state, field)
                getattr(numpy_state, field)[which] = new[which]
                np.testing.assert_array_equal(getattr(kernel_state, field), getattr(numpy_state, field), f"step {t}")
            got, want = describe(kernel_state, config, threads), expected_description(numpy_state, config)
            for key in want:
                np.testing.assert_array_equal(got[key], want[key], err_msg=f"step {t} {key}")
            ended = np.flatnonzero(expected.terminal)  # new games for boards that ended
            fresh = rules.initial_state(rng.integers(0, 2**63, ended.size, dtype=np.uint64), config)
            for old_n, old_k, new in zip(numpy_state, kernel_state, fresh, strict=True):
                old_n[ended] = new
                old_k[ended] = new
    finally:
        numba.set_num_threads(previous)


def test_empty_and_given_boards() -> None:
    """A cleared board (SameGame bonus), a board with no group and a continuous board given with empty columns."""
    config = make_config(4, 3, 2, "standard", scoring="samegame", end_penalty=True)
    boards = np.array([[[0, 0, 0], [0, 0, 0], [0, 0, 0], [1, 1, 0]], [[1, 2, 1], [2, 1, 2], [1, 2, 1], [2, 1, 2]]])
    state = rules.initial_state(np.array([1, 2], np.uint64), config, boards.astype(np.int8))
    expected = rules.step(state, np.array([10, 0]), config)
    outputs = np.zeros(2), np.zeros(2, np.int64), np.zeros(2, bool), np.zeros(2, bool)
    bk.step_boards(state, np.array([10, 0]), np.arange(2), bk.batch_params(config), 0.0, *outputs)
    assert outputs[0].tolist() == expected.reward.tolist() == [1000.0, 0.0]
    np.testing.assert_array_equal(state.board, expected.state.board)
    got, want = describe(state, config, 1), expected_description(expected.state, config)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
