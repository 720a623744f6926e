"""The compiled engine plays exactly the rules of :mod:`repgym.envs.bubble.rules`, and both engines agree."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.agents.lookahead.engine import NumbaEngine, NumpyEngine, make_engine
from repgym.envs.bubble import kernels, rules
from repgym.envs.bubble.boards import standard_boards
from repgym.envs.bubble.rules import BubbleConfig

CONFIGS = {
    "samegame-15x15": BubbleConfig(rows=15, cols=15, colours=5, scoring="samegame", shift="left", end_penalty=True),
    "bubble-14x10": BubbleConfig(),
    "bubble-shifter": BubbleConfig(rows=8, cols=7, colours=3, row_shift=True),
    "samegame-bonus-right": BubbleConfig(rows=5, cols=6, colours=2, scoring="samegame", shift="right"),
    "samegame-shifter-left": BubbleConfig(rows=6, cols=5, colours=3, scoring="samegame", shift="left", row_shift=True,
                                          end_penalty=True),
}  # fmt: skip


def random_games(config: BubbleConfig, n: int, seed: int):
    """Boards met along random games (every position of ``n`` random-policy games)."""
    rng = np.random.default_rng(seed)
    state = rules.initial_state(rng.integers(0, 2**63, n, dtype=np.uint64), config)
    seen = [state.board.copy()]
    active = np.arange(n)
    while active.size:
        sub = state.index(active)
        labels = rules.label_groups(sub.board, config).reshape(active.size, -1)
        legal = labels >= 0
        pick = (rng.random(legal.shape) * legal).argmax(axis=1)
        result = rules.step(sub, pick, config)
        state.board[active] = result.state.board
        active = active[~result.terminal]
        seen.append(state.board[active].copy())
    return np.concatenate(seen)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_kernel_step_matches_rules_on_every_cell(name: str) -> None:
    config = CONFIGS[name]
    params = kernels.rule_params(config)
    boards = random_games(config, 6, seed=1)[::5][:15]
    for board in boards:
        for cell in range(config.n_cells):
            new, reward, removed, terminal = kernels.step_board(board, cell, params)
            state = rules.initial_state(np.zeros(1, np.uint64), config, board)
            expected = rules.step(state, np.array([cell]), config)
            assert np.array_equal(new, expected.state.board[0]), (name, cell)
            assert reward == expected.reward[0] and removed == expected.removed[0]
            assert terminal == expected.terminal[0]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_expand_matches_rules_afterstates_in_both_engines(name: str) -> None:
    config = CONFIGS[name]
    boards = random_games(config, 4, seed=2)[::2][:30]
    for engine in (NumbaEngine(config), NumpyEngine(config)):
        exp = engine.expand(boards)
        for i, board in enumerate(boards):
            after = rules.afterstates(rules.initial_state(np.zeros(1, np.uint64), config, board), config)
            mine = exp.parent == i
            assert np.array_equal(exp.move[mine], after.actions)
            assert np.array_equal(exp.board[mine], after.boards)
            assert np.array_equal(exp.reward[mine], after.rewards)
            assert np.array_equal(exp.terminal[mine], after.terminal)


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("kind", ["numba", "numpy"])
@pytest.mark.parametrize("policy", ["uniform", "size-weighted", "tabu-colour", "greedy"])
def test_playouts_replay_to_their_scores_and_end_the_game(name: str, kind: str, policy: str) -> None:
    config = CONFIGS[name]
    engine = make_engine(config, kind)
    boards = random_games(config, 3, seed=3)[::4][:12]
    res = engine.playouts(boards, policy, np.random.default_rng(0))
    assert engine.playouts_run == boards.shape[0]
    for i, board in enumerate(boards):
        state = rules.initial_state(np.zeros(1, np.uint64), config, board)
        for move in res.sequence(i):
            step = rules.step(state, np.array([move]), config)
            assert not step.illegal[0]
            state = step.state
        assert state.score[0] == res.score[i]
        assert not rules.has_moves(state.board, config)[0]
        assert (res.moves[i, res.length[i] :] == -1).all()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_both_engines_play_the_same_greedy_games(name: str) -> None:
    config = CONFIGS[name]
    boards = random_games(config, 3, seed=6)[::4][:12]
    a = NumbaEngine(config).playouts(boards, "greedy", np.random.default_rng(0))
    b = NumpyEngine(config).playouts(boards, "greedy", np.random.default_rng(0))
    assert np.array_equal(a.moves, b.moves) and np.array_equal(a.score, b.score)


def test_tabu_colour_playouts_beat_uniform_ones() -> None:
    """Schadd's tabu-colour playouts score far more on SameGame: a check that the policies are the ones named."""
    config = CONFIGS["samegame-15x15"]
    engine = NumbaEngine(config)
    boards = np.repeat(np.stack(standard_boards("samegame-15x15")[:4]), 50, axis=0)
    uniform = engine.playouts(boards, "uniform", np.random.default_rng(0)).score.mean()
    tabu = engine.playouts(boards, "tabu-colour", np.random.default_rng(0)).score.mean()
    assert tabu > 2 * uniform


def test_playouts_are_reproducible_and_independent_of_batching() -> None:
    config = CONFIGS["bubble-14x10"]
    engine = NumbaEngine(config)
    boards = random_games(config, 2, seed=4)[:10]
    a = engine.playouts(boards, "uniform", np.random.default_rng(5))
    b = engine.playouts(boards, "uniform", np.random.default_rng(5))
    assert np.array_equal(a.moves, b.moves) and np.array_equal(a.score, b.score)


def test_engines_refuse_continuous_rules_and_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="Continuous"):
        make_engine(BubbleConfig(continuous=True, max_new_columns=5))
    engine = make_engine(CONFIGS["bubble-14x10"], "numpy")
    with pytest.raises(ValueError, match="do not match"):
        engine.expand(np.zeros((1, 5, 5), np.int8))
    with pytest.raises(ValueError, match="unknown playout policy 'best'"):
        engine.playouts(np.ones((1, 14, 10), np.int8), "best", np.random.default_rng(0))
