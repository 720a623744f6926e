"""Value network inputs, targets, afterstate candidates and self-play training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repgym.agents.lookahead.afterstates import best_per_board, candidates, sample_per_board
from repgym.agents.lookahead.training import LookaheadConfig, calibrate_scale, lambda_returns
from repgym.agents.lookahead.value import ValueFunction, ValueNet, encode, input_planes
from repgym.envs.bubble import rules
from repgym.envs.bubble.rules import BubbleConfig
from repgym.envs.bubble.symmetry import apply_permutation, random_permutations


def test_lambda_returns_interpolate_between_td0_and_monte_carlo() -> None:
    obs_rewards = np.array([2.0, 6.0, 12.0, 0.0])
    extra = np.array([0.0, 1.0, 0.0, 5.0])
    values = np.array([10.0, 9.0, 4.0, 7.0])
    mc = lambda_returns(obs_rewards, extra, values, 1.0, terminated=True)
    # return after a_t: what move t brought beyond the seen reward, then every later reward
    assert np.allclose(mc, [0 + 6 + 1 + 12 + 0 + 0 + 5, 1 + 12 + 0 + 0 + 5, 0 + 0 + 5, 5])
    td0 = lambda_returns(obs_rewards, extra, values, 0.0, terminated=True)
    assert np.allclose(td0, [0 + 6 + 9, 1 + 12 + 4, 0 + 0 + 5, 5])  # the last afterstate's exact value is extra
    cut = lambda_returns(obs_rewards, extra, values, 1.0, terminated=False)
    assert np.allclose(cut, [0 + 6 + 1 + 12 + 7, 1 + 12 + 7, 7, 7])  # bootstrap from V where the game was cut off


def test_canonical_encoding_is_the_same_for_every_colour_renaming() -> None:
    config = BubbleConfig(rows=6, cols=5, colours=4)
    boards = rules.random_boards(np.arange(8), config)
    renamed = apply_permutation(boards, random_permutations(8, config, np.random.default_rng(0)))
    assert torch.equal(encode(boards, config), encode(renamed, config))
    assert not torch.equal(encode(boards, config, canonical=False), encode(renamed, config, canonical=False))
    assert encode(boards, config).shape == (8, input_planes(config), 6, 5)


def test_continuous_afterstates_mark_the_emptied_columns_unknown() -> None:
    config = BubbleConfig(rows=4, cols=4, colours=2, continuous=True, max_new_columns=10)
    board = np.array([[1, 2, 1, 2], [1, 2, 1, 2], [1, 2, 1, 2], [1, 2, 1, 2]], np.int8)
    cands = candidates(board[None], config)
    assert cands.unknown is not None and cands.unknown.shape == (4, 4)
    assert (cands.unknown.sum(axis=1) == 1).all()  # each move empties one column, refilled at random later
    assert (cands.reward == 12).all() and not cands.terminal.any()  # n(n-1) for a column of 4, no future shown
    assert (cands.board[cands.unknown[:, None, :].repeat(4, 1)] == 0).all()  # the unknown cells are blank
    planes = encode(cands.board, config, cands.unknown)
    assert planes.shape[1] == input_planes(config) == rules.n_planes(config) + 1
    assert torch.equal(planes[:, -1, 0, :], torch.from_numpy(cands.unknown.astype(np.float32)))


def test_per_board_choices() -> None:
    parent = np.array([0, 0, 0, 2, 2])
    score = np.array([1.0, 5.0, 5.0, -1.0, 3.0])
    assert best_per_board(parent, score, 3).tolist() == [1, -1, 4]  # ties: the first; board 1 has no move
    picks = np.stack([sample_per_board(parent, score * 10, 3, np.random.default_rng(s)) for s in range(50)])
    assert set(picks[:, 0]) <= {1, 2} and (picks[:, 1] == -1).all() and (picks[:, 2] == 4).all()


def test_calibrated_scale_is_the_size_of_random_returns() -> None:
    config = BubbleConfig()
    scale = calibrate_scale(config, 32, np.random.default_rng(0))
    assert 50 < scale < 400  # random games score about 330 in all on 14x10 boards


def test_value_function_checks_its_rules_and_hyperparameters() -> None:
    config = BubbleConfig(rows=6, cols=5, colours=4)
    vf = ValueFunction(ValueNet(input_planes(config), 8, 1, 8), config, scale=10.0)
    assert vf(rules.random_boards(np.arange(3), config)).shape == (3,) and vf.evaluations == 3
    with pytest.raises(ValueError, match="trained on 6x5, 4-colour, bubble-scored boards"):
        vf.check_rules(BubbleConfig())
    with pytest.raises(ValueError, match="target must be one of"):
        LookaheadConfig(target="q")
    with pytest.raises(ValueError, match="explore_policy"):
        LookaheadConfig(explore_policy="clever")
