"""NRPA: best-rollout memory, the time budget on an injected clock, the adaptation step by hand, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.agents.lookahead import Budget, make_engine, nrpa
from repgym.agents.lookahead import nrpa_kernels as K
from repgym.agents.lookahead.budget import Meter
from repgym.agents.lookahead.nrpa import Line, Policy, _Search, adapt, value_prior
from repgym.agents.lookahead.value import ValueFunction, ValueNet, input_planes
from repgym.cli import main
from repgym.envs.bubble import rules
from repgym.envs.bubble.boards import format_boards
from repgym.envs.bubble.rules import BubbleConfig

TINY = BubbleConfig(rows=5, cols=5, colours=3, scoring="samegame", shift="left", end_penalty=True)
TINY_BUBBLE = BubbleConfig(rows=5, cols=5, colours=3, scoring="bubble", shift="right")
SMALL = BubbleConfig(rows=8, cols=8, colours=3, scoring="samegame", shift="left", end_penalty=True)


def replay(board: np.ndarray, moves, config: BubbleConfig) -> float:
    """The score of ``moves`` by the numpy rules; asserts every move is legal and the game is over at the end."""
    state = rules.initial_state(np.zeros(1, np.uint64), config, board)
    for move in moves:
        result = rules.step(state, np.array([move]), config)
        assert not result.illegal[0]
        state = result.state
    assert not rules.has_moves(state.board, config)[0]
    return float(state.score[0])


@pytest.mark.parametrize("config", [TINY, TINY_BUBBLE], ids=["samegame", "bubble"])
@pytest.mark.parametrize("level", [1, 2])
def test_nrpa_returns_its_best_rollout_and_it_replays(config: BubbleConfig, level: int) -> None:
    for board in rules.random_boards(np.arange(10, 14), config):
        result = nrpa(board, config, level=level, iterations=6, rng=np.random.default_rng(3), record_rollouts=True)
        rollouts = result.info["rollout_scores"]
        assert len(rollouts) == result.playouts == 6**level
        assert result.score == rollouts.max()
        assert replay(board, result.moves, config) == result.score


class WorkClock:
    """A clock that reads the work done: 1 ms of "time" per playout the engine has counted."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.engine.playouts_run * 1e-3


@pytest.mark.parametrize("level", [2, 3])
def test_nrpa_respects_its_time_budget_within_ten_percent(level: int) -> None:
    engine = make_engine(SMALL)
    board = rules.random_boards(np.arange(1), SMALL)[0]
    clock = WorkClock(engine)
    budget = Budget(time_s=1.0, clock=clock)  # 1,000 playouts of "time"
    result = nrpa(board, SMALL, level=level, iterations=10, budget=budget, engine=engine)
    assert 1.0 <= result.elapsed_s <= 1.1  # stops between level-1 searches of 10 playouts
    assert result.playouts == round(result.elapsed_s * 1e3)
    assert replay(board, result.moves, SMALL) == result.score
    if level == 2:
        assert result.info["passes"] == 10  # a level-2 pass is 100 playouts: it restarts until the time is up


@pytest.mark.parametrize("level, top, playouts", [(2, 3, 3 * 5), (3, 2, 2 * 5 * 5), (1, 7, 7)])
def test_top_iterations_set_the_top_level_alone(level: int, top: int, playouts: int) -> None:
    board = rules.random_boards(np.arange(4, 5), SMALL)[0]
    result = nrpa(board, SMALL, level=level, iterations=5, top_iterations=top, rng=np.random.default_rng(1),
                  record_rollouts=True)  # fmt: skip
    assert result.playouts == len(result.info["rollout_scores"]) == playouts
    assert result.score == result.info["rollout_scores"].max() and replay(board, result.moves, SMALL) == result.score


def test_node_budget_counts_playouts() -> None:
    board = rules.random_boards(np.arange(2), SMALL)[1]
    result = nrpa(board, SMALL, level=2, iterations=10, budget=Budget(nodes=250))
    assert 250 <= result.playouts <= 260


def test_adaptation_step_by_hand() -> None:
    """Two steps, alpha = 1. Step 0: candidates A, B, C with weights 0, ln 2, 0 (p = 1/4, 1/2, 1/4), A chosen.
    Step 1: candidates A, D (weights 0, 0; D has prior bias ln 3, so p = 1/4, 3/4), D chosen. Probabilities come
    from the policy before the call; the bias shapes them but is not stored in D's weight."""
    a, b, c, d = 11, 22, 33, 44
    policy = Policy.from_weights(np.array([b]), np.array([np.log(2.0)]))
    line = Line(0.0, 2, K.new_line(4))
    moves, ncand, choice, codes, bias = line.arrays
    ncand[:2] = 3, 2
    choice[:2] = 0, 1
    codes[0, :3] = a, b, c
    codes[1, :2] = a, d
    bias[1, :2] = 0.0, np.log(3.0)
    before = policy.copy()
    adapt(policy, line, alpha=1.0)
    expected = {a: 1 - 1 / 4 - 1 / 4, b: np.log(2.0) - 1 / 2, c: -1 / 4, d: 1 - 3 / 4}
    for code, w in expected.items():
        assert policy.weight(code) == pytest.approx(w, abs=1e-12)
    # with the undo log (as inside a level-1 search) the same update is undone exactly
    n = before.size
    undo = (np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.float64), np.zeros(1, np.int64))
    stamp = np.zeros(n, np.int64)
    K.adapt(before.keys, before.weights, before.stats, line.arrays, 2, 0.5, np.zeros((4, 5)), undo, stamp, 1)
    assert before.weight(d) == pytest.approx(0.125)
    K.restore(before.keys, before.weights, before.stats, undo)
    assert [before.weight(x) for x in (a, b, c, d)] == [0.0, np.log(2.0), 0.0, 0.0] and before.stats[0] == 1


def test_a_level_one_search_leaves_its_policy_as_it_found_it() -> None:
    board = rules.random_boards(np.arange(3), SMALL)[2]
    policy = Policy.from_weights(np.array([5, 7]), np.array([0.5, -1.0]))
    keys, weights = policy.keys.copy(), policy.weights.copy()
    search = _Search(board, SMALL, Meter(Budget(), make_engine(SMALL)), np.random.default_rng(0), 20, 1.0, np.inf,
                     1, False)  # fmt: skip
    line = search.search(1, policy)  # 20 playouts and 20 adaptations, undone at the end
    assert line.length > 0 and search.meter.playouts == 20
    assert np.array_equal(policy.keys, keys) and np.array_equal(policy.weights, weights)


def test_nrpa_beats_a_tabu_colour_playout() -> None:
    engine = make_engine(SMALL)
    board = rules.random_boards(np.arange(7, 8), SMALL)[0]
    playouts = engine.playouts(np.repeat(board[None], 100, axis=0), "tabu-colour", np.random.default_rng(0))
    result = nrpa(board, SMALL, level=2, iterations=10, rng=np.random.default_rng(0))
    assert result.score > playouts.score[0]
    assert result.score >= playouts.score.max()  # 100 NRPA playouts beat 100 independent ones here


def test_value_prior_starts_the_policy_on_the_lookahead_game() -> None:
    import torch

    torch.manual_seed(0)
    value = ValueFunction(ValueNet(input_planes(TINY), 8, 1, 8), TINY, scale=10.0)
    engine = make_engine(TINY)
    board = rules.random_boards(np.arange(1), TINY)[0]
    codes, weights = value_prior(board, TINY, value, engine)
    first = engine.expand(board[None])
    assert len(codes) >= first.move.size and np.all(codes != 0)
    result = nrpa(board, TINY, level=1, iterations=5, value=value, engine=engine)
    assert result.evaluations > 0 and replay(board, result.moves, TINY) == result.score


def test_root_parallel_workers_keep_the_best() -> None:
    board = rules.random_boards(np.arange(5, 6), TINY)[0]
    result = nrpa(board, TINY, level=1, iterations=4, workers=2, rng=np.random.default_rng(0))
    assert result.info["parallel"] == "root" and len(result.info["worker_scores"]) == 2
    assert result.score == max(result.info["worker_scores"])
    assert result.playouts == 8 and replay(board, result.moves, TINY) == result.score


def test_shared_top_level_runs_the_level_below_on_every_worker() -> None:
    board = rules.random_boards(np.arange(5, 6), TINY)[0]
    result = nrpa(board, TINY, level=3, iterations=2, top_iterations=3, workers=2, rng=np.random.default_rng(0))
    # 3 top-level iterations x 2 workers x one level-2 search (2 level-1 searches of 2 playouts)
    assert result.info["parallel"] == "top" and result.info["passes"] == 1 and result.playouts == 24
    assert replay(board, result.moves, TINY) == result.score
    budgeted = nrpa(board, TINY, level=3, iterations=3, workers=2, budget=Budget(nodes=200))
    # restarted until the budget is spent; each worker may finish the level-1 search (3 playouts) it is in
    assert budgeted.info["passes"] > 1 and 200 <= budgeted.playouts <= 200 + 2 * 3
    assert replay(board, budgeted.moves, TINY) == budgeted.score


def test_bad_options_are_one_line_errors() -> None:
    board = rules.random_boards(np.arange(1), TINY)[0]
    for options, message in (({"level": 0}, "level must be an integer >= 1"), ({"alpha": 0.0}, "alpha"),
                             ({"tabu_bias": -1.0}, "tabu_bias"), ({"workers": 0}, "workers"),
                             ({"top_iterations": 0}, "top_iterations must be an integer >= 1")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            nrpa(board, TINY, **options)
    shifter = BubbleConfig(rows=5, cols=5, colours=3, row_shift=True)
    with pytest.raises(ValueError, match="Shifter"):
        nrpa(rules.random_boards(np.arange(1), shifter)[0], shifter)


def test_cli_solve_nrpa_replays_and_rejects_bad_options(tmp_path, capsys) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text(format_boards(list(rules.random_boards(np.arange(2), TINY))))
    args = ["solve", str(path), "--search", "nrpa", "--level", "2", "--iterations", "5", "--time", "0.2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("verified") == 2 and "nrpa" in out
    bubble = ["solve", str(path), "--search", "nrpa", "--scoring", "bubble", "--level", "1", "--workers", "2"]
    assert main([*bubble, "--time", "0"]) == 0
    assert capsys.readouterr().out.count("verified") == 2
    assert main([*args, "--level", "3", "--top-iterations", "2", "--problem", "1"]) == 0
    assert capsys.readouterr().out.count("verified") == 1
    assert main([*args[:4], "--level", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "level must be an integer >= 1, got 0" in err and "\n" not in err
    assert main(["solve", str(path), "--search", "nmcs", "--workers", "2"]) == 2
    assert "do not apply to search 'nmcs'" in capsys.readouterr().err
