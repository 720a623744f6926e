"""Baseline policies: legal moves only, the right distribution over groups, batched == one board at a time."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest

import repgym  # noqa: F401  (registers the envs)
from repgym.envs.bubble import rules
from repgym.envs.bubble.boards import parse_board
from repgym.envs.bubble.policies import (
    POLICIES,
    Policy,
    get_policy,
    groups,
    policy_action,
    policy_actions,
    sample_cells,
)
from repgym.envs.bubble.rules import BubbleConfig

CONFIG = BubbleConfig(rows=4, cols=4, colours=3)
SMALL = {"rows": 6, "cols": 6, "colours": 3}  # env keyword arguments
CONTINUOUS = BubbleConfig(rows=8, cols=7, colours=4, continuous=True, max_new_columns=3)

# One big group of 1s (13 cells, representative cell 0) and one pair of 2s (representative cell 12).
BIG_AND_PAIR = np.array(
    [
        [1, 1, 1, 1],
        [1, 1, 1, 1],
        [1, 1, 1, 1],
        [2, 2, 3, 1],
    ],
    dtype=np.int8,
)
# Only the dominant colour (1: 9 bubbles) has a group; every other bubble is alone.
ONLY_DOMINANT = np.array(
    [
        [2, 3, 2, 3],
        [1, 1, 1, 1],
        [1, 1, 1, 1],
        [3, 2, 3, 1],
    ],
    dtype=np.int8,
)
NO_MOVES = np.array([[1, 2, 1, 2], [2, 1, 2, 1], [1, 2, 1, 2], [2, 1, 2, 1]], dtype=np.int8)


def frequencies(policy: str, board: np.ndarray, n: int = 4000, seed: int = 0) -> dict[int, float]:
    """How often each cell is chosen over ``n`` copies of ``board`` in one batched call."""
    actions = POLICIES[policy](np.repeat(board[None], n, axis=0), CONFIG, np.random.default_rng(seed))
    cells, counts = np.unique(actions, return_counts=True)
    return {int(c): k / n for c, k in zip(cells, counts, strict=True)}


def random_batch(config: BubbleConfig, n: int, seed: int) -> np.ndarray:
    """Random boards, some partly played (random legal groups removed) so that sizes and shapes vary."""
    rng = np.random.default_rng(seed)
    state = rules.initial_state(rng.integers(0, 2**63, size=n, dtype=np.uint64), config)
    for _ in range(rng.integers(0, 12)):
        actions = POLICIES["random"](state.board, config, rng)
        state = rules.step(state, actions, config).state
    return state.board


def test_registry_entries_are_named_and_described():
    assert list(POLICIES) == ["random", "size-weighted", "greedy", "tabu-colour"]
    for name, policy in POLICIES.items():
        assert isinstance(policy, Policy) and policy.name == name
        assert policy.description and "\n" not in policy.description
    assert get_policy("greedy") is POLICIES["greedy"]
    with pytest.raises(ValueError, match="unknown policy 'nope'.*random"):
        get_policy("nope")


def test_groups_table_matches_rules():
    g = groups(BIG_AND_PAIR, CONFIG)
    assert np.flatnonzero(g.representative[0]).tolist() == rules.group_moves(BIG_AND_PAIR, CONFIG).tolist() == [0, 12]
    assert g.size[0, 0] == 13 and g.size[0, 12] == 2 and g.size[0].sum() == 15


@pytest.mark.parametrize("name", list(POLICIES))
@pytest.mark.parametrize("config", [CONFIG, CONTINUOUS])
def test_every_move_is_legal(name, config):
    boards = random_batch(config, 200, seed=1)
    actions = POLICIES[name](boards, config, np.random.default_rng(2))
    assert actions.shape == (200,) and actions.dtype == np.int64
    assert ((actions >= 0) & (actions < config.n_cells)).all()
    movable = rules.has_moves(boards, config)
    legal = rules.legal_mask(boards, config).reshape(200, -1)
    assert legal[np.arange(200), actions][movable].all()
    result = rules.step(rules.initial_state(np.zeros(200, np.uint64), config, boards), actions, config)
    assert not result.illegal[movable].any()


@pytest.mark.parametrize("name", list(POLICIES))
def test_board_without_moves_gets_cell_zero(name):
    boards = np.stack([NO_MOVES, np.zeros((4, 4), np.int8), BIG_AND_PAIR])
    actions = POLICIES[name](boards, CONFIG, np.random.default_rng(0))
    assert actions[:2].tolist() == [0, 0]
    assert actions[2] in (0, 12)


def test_random_is_uniform_over_groups_not_cells():
    freq = frequencies("random", BIG_AND_PAIR)
    assert set(freq) == {0, 12}
    assert freq[0] == pytest.approx(0.5, abs=0.04)  # cell-uniform would give 13/15


def test_size_weighted_is_proportional_to_group_size():
    freq = frequencies("size-weighted", BIG_AND_PAIR)
    assert set(freq) == {0, 12}
    assert freq[0] == pytest.approx(13 / 15, abs=0.03)


def test_sample_cells_follows_weights():
    weights = np.array([[0, 1, 0, 3, 0, 6]] * 20000)
    counts = np.bincount(sample_cells(weights, np.random.default_rng(0)), minlength=6) / 20000
    np.testing.assert_allclose(counts, [0, 0.1, 0, 0.3, 0, 0.6], atol=0.015)
    assert sample_cells(np.zeros((3, 5), int), np.random.default_rng(0)).tolist() == [0, 0, 0]


def test_greedy_takes_largest_group_with_lowest_cell_on_ties():
    assert POLICIES["greedy"](BIG_AND_PAIR, CONFIG, None).tolist() == [0]
    # Largest group (3 x 3) does not contain cell 0: the group of 3s is picked at its representative cell 5.
    board = parse_board("1122\n1333\n2333\n2333")
    assert POLICIES["greedy"](board, CONFIG, None).tolist() == [5]
    # Two groups of four: the one whose representative comes first in cell order.
    tie = parse_board("3311\n3311\n2222\n3131")
    assert rules.group_stats(tie, CONFIG).largest.tolist() == [4]
    assert POLICIES["greedy"](tie, CONFIG, None).tolist() == [0]


def test_greedy_on_random_boards_matches_group_stats():
    config = BubbleConfig(rows=10, cols=9, colours=4)
    boards = random_batch(config, 100, seed=3)
    actions = POLICIES["greedy"](boards, config, None)
    rows, cols = np.divmod(actions, config.cols)
    chosen = rules.group_at(boards, rows, cols, config).sum(axis=(1, 2))
    assert (chosen == rules.group_stats(boards, config).largest).all()


def test_tabu_colour_avoids_dominant_colour_while_it_can():
    freq = frequencies("tabu-colour", BIG_AND_PAIR, n=500)
    assert freq == {12: 1.0}  # colour 1 has most bubbles: only the pair of 2s is played


def test_tabu_colour_plays_dominant_colour_when_nothing_else_moves():
    freq = frequencies("tabu-colour", ONLY_DOMINANT, n=200)
    assert freq == {4: 1.0}


def test_tabu_colour_is_uniform_over_the_other_groups():
    # Colour 1 dominates (8 bubbles, one group); colours 2 and 3 each have one pair.
    board = parse_board("1111\n1111\n2233\n3232")
    assert sorted(rules.group_moves(board, CONFIG).tolist()) == [0, 8, 10]
    freq = frequencies("tabu-colour", board)
    assert set(freq) == {8, 10}
    assert freq[8] == pytest.approx(0.5, abs=0.04)


def test_tabu_colour_on_random_boards():
    config = BubbleConfig(rows=9, cols=9, colours=4)
    boards = random_batch(config, 300, seed=5)
    actions = POLICIES["tabu-colour"](boards, config, np.random.default_rng(0))
    counts = np.stack([(boards == c).sum(axis=(1, 2)) for c in range(1, 5)], axis=1)
    tabu = counts.argmax(axis=1) + 1
    legal = rules.legal_mask(boards, config).reshape(300, -1)
    flat = boards.reshape(300, -1)
    other_move = (legal & (flat != tabu[:, None])).any(axis=1)
    chosen_colour = flat[np.arange(300), actions]
    assert other_move.any() and (chosen_colour[other_move] != tabu[other_move]).all()
    stuck = rules.has_moves(boards, config) & ~other_move
    assert (chosen_colour[stuck] == tabu[stuck]).all()


@pytest.mark.parametrize("name", list(POLICIES))
def test_batched_equals_one_board_at_a_time(name):
    config = BubbleConfig(rows=7, cols=6, colours=3)
    boards = np.concatenate([random_batch(config, 40, seed=7), np.zeros((1, 7, 6), np.int8)])
    batched = POLICIES[name](boards, config, np.random.default_rng(11))
    rng = np.random.default_rng(11)
    single = [int(POLICIES[name](board, config, rng)[0]) for board in boards]
    assert batched.tolist() == single


@pytest.mark.parametrize("name", list(POLICIES))
def test_policy_action_on_single_env(name):
    env = gym.make("repgym/BubbleBreaker-v0", **SMALL)
    with pytest.raises(RuntimeError, match="reset"):
        policy_action(name, env, np.random.default_rng(0))
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    terminated = truncated = False
    while not (terminated or truncated):
        board = env.unwrapped.game.board.copy()
        expected = int(POLICIES[name](board, env.unwrapped.config, copy.deepcopy(rng))[0])
        action = policy_action(name, env, rng)
        assert action == expected
        _, _, terminated, truncated, info = env.step(action)
        assert not info["illegal_action"]
    env.close()


def test_policy_action_rejects_other_envs():
    env = gym.make("CartPole-v1")
    with pytest.raises(ValueError, match="Bubble Breaker"):
        policy_action("random", env, np.random.default_rng(0))


@pytest.mark.parametrize("name", list(POLICIES))
def test_policy_actions_drive_the_vector_env(name):
    vec = gym.make_vec("repgym/BubbleBreaker-v0", num_envs=6, vectorization_mode="vector_entry_point", **SMALL)
    vec.reset(seed=0)
    rng = np.random.default_rng(0)
    ended = np.zeros(6, bool)  # with the default NEXT_STEP autoreset, the step after an end ignores the action
    for _ in range(40):
        actions = policy_actions(name, vec, rng)
        assert actions.shape == (6,)
        _, _, terminated, truncated, info = vec.step(actions)
        assert not (info["illegal_action"] & ~ended).any()
        ended = terminated | truncated
    vec.close()
