"""Search: NMCS's best-sequence memory, time and node budgets, and `repgym solve` answers that replay exactly."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.console import Console

from repgym.agents.lookahead import Budget, beam, mcts, nmcs, run_search, solve_file
from repgym.agents.lookahead.engine import make_engine, warm_up
from repgym.agents.lookahead.solve import make_scoring_env, replay_score
from repgym.agents.lookahead.value import ValueFunction, ValueNet, input_planes
from repgym.cli import main
from repgym.envs.bubble import rules
from repgym.envs.bubble.boards import format_boards, standard_boards, standard_set_text
from repgym.envs.bubble.rules import BubbleConfig

SAMEGAME = BubbleConfig(rows=15, cols=15, colours=5, scoring="samegame", shift="left", end_penalty=True)
SMALL = BubbleConfig(rows=8, cols=8, colours=3, scoring="samegame", shift="left", end_penalty=True)


def small_boards(n: int) -> list[np.ndarray]:
    return list(rules.random_boards(np.arange(100, 100 + n), SMALL))


def tiny_value(config: BubbleConfig) -> ValueFunction:
    import torch

    torch.manual_seed(0)
    return ValueFunction(ValueNet(input_planes(config), 8, 1, 8), config, scale=50.0)


def replay(board: np.ndarray, moves, config: BubbleConfig) -> float:
    state = rules.initial_state(np.zeros(1, np.uint64), config, board)
    for move in moves:
        result = rules.step(state, np.array([move]), config)
        assert not result.illegal[0]
        state = result.state
    assert not rules.has_moves(state.board, config)[0]
    return float(state.score[0])


def test_nmcs_never_returns_less_than_its_best_playout() -> None:
    """Every playout NMCS runs, counted from the root, scores at most what NMCS returns (level 1, one pass)."""
    engine = make_engine(SMALL)
    for board in small_boards(4):
        calls: list[tuple[np.ndarray, np.ndarray]] = []
        real = engine.playouts

        def recording(boards, policy, rng, real=real, calls=calls):
            result = real(boards, policy, rng)
            calls.append((boards.copy(), result.score.copy()))
            return result

        engine.playouts = recording
        try:
            result = nmcs(board, SMALL, level=1, playout="uniform", engine=engine, rng=np.random.default_rng(1))
        finally:
            engine.playouts = real
        assert result.score == replay(board, result.moves, SMALL)
        # At level 1 the t-th batch of playouts starts from the children of the position after t moves of the line
        # that was played, and that line is the returned sequence (the memory is followed move by move).
        best_playout = -np.inf
        for t, (children, scores) in enumerate(calls):
            state = rules.initial_state(np.zeros(1, np.uint64), SMALL, board)
            for move in result.moves[:t]:
                state = rules.step(state, np.array([move]), SMALL).state
            exp = engine.expand(state.board)
            assert np.array_equal(exp.board, children)
            best_playout = max(best_playout, float(state.score[0] + (exp.reward + scores).max()))
        assert len(calls) == len(result.moves) and result.score >= best_playout


@pytest.mark.parametrize("method", ["nmcs", "beam", "mcts"])
def test_search_respects_its_time_budget(method: str) -> None:
    engine = make_engine(SAMEGAME)
    warm_up(engine)
    board = standard_boards("samegame-15x15")[0]
    budget = 2.0
    options = {"nmcs": {"level": 2}, "beam": {"evaluator": "tabu-colour"}, "mcts": {}}[method]
    result = run_search(board, SAMEGAME, method, budget, engine=engine, rng=np.random.default_rng(0), **options)
    assert result.elapsed_s <= 1.1 * budget
    if method != "beam":  # beam stops early when a wider pass would not fit in the time left
        assert result.elapsed_s >= 0.9 * budget
    assert result.score == replay(board, result.moves, SAMEGAME)


def test_node_budgets_count_playouts_and_evaluations() -> None:
    engine = make_engine(SMALL)
    board = small_boards(1)[0]
    result = nmcs(board, SMALL, level=2, budget=Budget(nodes=500), engine=engine)
    assert 500 <= result.playouts <= 500 + SMALL.n_cells  # stops within one batch of playouts
    value = tiny_value(SMALL)
    result = beam(board, SMALL, width=50, budget=Budget(nodes=300), engine=engine, value=value)
    assert result.evaluations >= 300 and result.score == replay(board, result.moves, SMALL)


def test_value_guided_variants_play_whole_games() -> None:
    config = BubbleConfig(rows=6, cols=6, colours=3, scoring="samegame", shift="left")
    engine = make_engine(config)
    value = tiny_value(config)
    board = rules.random_boards(np.arange(1), config)[0]
    for result in (
        nmcs(board, config, level=1, playout="value", engine=engine, value=value),
        beam(board, config, width=4, evaluator="value", engine=engine, value=value),
        mcts(board, config, leaf="value", engine=engine, value=value, iterations_per_move=5),
        mcts(board, config, leaf="playout", playout="value", engine=engine, value=value, iterations_per_move=2),
        nmcs(board, config, level=2, prune=2, engine=engine, value=value),
    ):
        assert result.evaluations > 0 and len(result.moves) > 0
        assert result.score == replay(board, result.moves, config)


@pytest.mark.parametrize(
    "search,options",
    [("nmcs", {"level": 1}), ("beam", {"width": 3}), ("mcts", {}), ("lookahead", {}), ("nmcs", {"playout": "value"})],
)
def test_every_printed_sequence_replays_to_the_printed_score(tmp_path, search: str, options: dict) -> None:
    path = tmp_path / "boards.txt"
    path.write_text(format_boards(small_boards(3)))
    out = io.StringIO()
    console = Console(file=out, width=400)
    value = tiny_value(SMALL.__class__(**{**SMALL.to_dict(), "colours": 5}))  # the scoring env has >= 5 colours
    solved = solve_file(path, search=search, time_s=0.2, value=value, console=console, **options)
    text = out.getvalue()
    printed = re.findall(r"board (\d+): score (-?\d+) .*\n\s+moves \(row,col; row 0 = top\): ([\d, ]*)", text)
    assert len(printed) == 3 and all(s.verified for s in solved)
    boards = small_boards(3)
    for k, score, moves in printed:
        cells = [int(r) * 8 + int(c) for r, c in (m.split(",") for m in moves.split())]
        env = make_scoring_env("samegame", boards[int(k)])
        assert replay_score(env, boards[int(k)], cells) == (float(score), True)
    total = re.search(r"total\s+(-?\d+)", text)
    assert total and int(total.group(1)) == round(sum(s.result.score for s in solved))


def test_cli_boards_write_regenerates_the_shipped_set_and_solve_runs(tmp_path, capsys) -> None:
    path = tmp_path / "samegame.txt"
    assert main(["boards", "write", "--set", "samegame-15x15", "--out", str(path)]) == 0
    assert path.read_text() == standard_set_text("samegame-15x15")
    assert [b.tolist() for b in standard_boards("samegame-15x15")] == [
        b.tolist() for b in rules.random_boards(np.arange(20), SAMEGAME)
    ]
    assert main(["solve", str(path), "--problem", "2", "--search", "mcts", "--time", "0.3"]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["solve", str(path), "--problem", "0", "--search", "lookahead"]) == 2
    assert "needs a value network" in capsys.readouterr().err
    assert main(["solve", str(path), "--problem", "20"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_value_pruning_searches_only_the_best_moves_by_r_plus_v() -> None:
    config = BubbleConfig(rows=6, cols=6, colours=3, scoring="samegame", shift="left")
    engine = make_engine(config)
    value = tiny_value(config)
    board = rules.random_boards(np.arange(1), config)[0]
    plain = nmcs(board, config, level=2, engine=engine, rng=np.random.default_rng(0))
    pruned = nmcs(board, config, level=2, prune=1, engine=engine, value=value, rng=np.random.default_rng(0))
    assert pruned.playouts < plain.playouts  # one nested search per position instead of one per move
    assert pruned.score == replay(board, pruned.moves, config)
    with pytest.raises(ValueError, match="needs a value network"):
        nmcs(board, config, level=2, prune=3, engine=engine)
    with pytest.raises(ValueError, match="prune must be >= 1"):
        nmcs(board, config, level=2, prune=0, engine=engine, value=value)


def test_mcts_with_a_node_budget_stops_once_the_tree_is_solved() -> None:
    config = BubbleConfig(rows=7, cols=6, colours=3, scoring="samegame", shift="left", end_penalty=True)
    board = rules.random_boards(np.arange(1, dtype=np.uint64), config)[0]
    # a node budget larger than the whole game tree once spun forever: solved subtrees spend no nodes
    result = mcts(board, config, budget=Budget(nodes=300), engine=make_engine(config), rng=np.random.default_rng(0))
    assert result.score == replay(board, result.moves, config)
