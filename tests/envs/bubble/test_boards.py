"""Board text format: parsing, 0-based test sets, errors, round trip."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from repgym.envs.bubble.boards import format_board, format_boards, load_boards, parse_board, parse_boards


def test_multiple_boards_with_comments_and_blank_lines(tmp_path) -> None:
    text = "# set 1\n12\n21\n\n# second\n# still a comment\n.1\n11\n\n\n"
    boards = parse_boards(text)
    assert [b.tolist() for b in boards] == [[[1, 2], [2, 1]], [[0, 1], [1, 1]]]
    path = tmp_path / "set.txt"
    path.write_text(text)
    assert len(load_boards(path)) == 2


def test_zero_based_sets_are_detected() -> None:
    # A full board with 0s below other colours cannot mean "empty": read as colours 0..4 -> 1..5.
    board = parse_board("0 1 4\n4 0 2\n1 2 3")
    assert board.tolist() == [[1, 2, 5], [5, 1, 3], [2, 3, 4]]
    # 0s only on top are empty cells.
    assert parse_board("001\n121").tolist() == [[0, 0, 1], [1, 2, 1]]
    assert parse_board("001\n121", colour_base=0).tolist() == [[1, 1, 2], [2, 3, 2]]
    with pytest.raises(ValueError, match="0-based board cannot contain"):
        parse_board(".1\n01", colour_base=0)


def test_errors_name_line_and_column() -> None:
    with pytest.raises(ValueError, match="line 2, column 3: unexpected 'a'"):
        parse_board("123\n12a\n")
    with pytest.raises(ValueError, match="expected one board"):
        parse_board("12\n\n12")


@given(arrays(np.int8, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.integers(0, 9)))
def test_round_trip(board: np.ndarray) -> None:
    assert np.array_equal(parse_board(format_board(board), colour_base=1), board)
    assert np.array_equal(parse_boards(format_boards([board, board]), colour_base=1)[1], board)


def test_standard_sets_load_and_play() -> None:
    import gymnasium as gym

    import repgym  # noqa: F401
    from repgym.envs.bubble.boards import standard_boards

    boards = standard_boards("samegame-15x15")
    assert len(boards) == 20 and all(b.shape == (15, 15) and b.min() >= 1 and b.max() <= 5 for b in boards)
    env = gym.make("repgym/SameGame-v0", obs_mode="board")
    obs, _ = env.reset(options={"board": boards[3]})
    assert np.array_equal(obs, boards[3])
    with pytest.raises(ValueError, match="unknown board set"):
        standard_boards("nope")
