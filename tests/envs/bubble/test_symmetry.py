"""Colour-permutation symmetry: canonical colours, permutations, augmentation and the CanonicalColours wrapper.

Property tests generate small settled boards (random cells, then :func:`rules.settle`) for every variant and check
that the rules commute with renaming colours, and that the canonical form is the documented one.
"""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from repgym.envs.bubble import rules, symmetry
from repgym.envs.bubble.env import BubbleBreakerEnv
from repgym.envs.bubble.rules import BubbleConfig

FAST = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------------------------------------------
# Strategies and helpers
# --------------------------------------------------------------------------------------------------------------


@st.composite
def configs(draw, continuous: bool | None = None) -> BubbleConfig:
    """Small configs of every variant, scoring and closing side; ``continuous`` forces the family."""
    if continuous is None:
        continuous = draw(st.booleans())
    scoring = draw(st.sampled_from(["bubble", "samegame"]))
    return BubbleConfig(
        rows=draw(st.integers(2, 6)),
        cols=draw(st.integers(2, 6)),
        colours=draw(st.integers(1, 5)),
        scoring=scoring,
        end_penalty=scoring == "samegame" and draw(st.booleans()),
        shift=draw(st.sampled_from(["right", "left"])),
        row_shift=draw(st.booleans()),
        continuous=continuous,
        random_column_height=continuous and draw(st.booleans()),
        max_new_columns=draw(st.integers(0, 4)) if continuous else None,
        grey_column_value=-1.0 if continuous else 0.0,
    )


@st.composite
def boards_for(draw, config: BubbleConfig, max_batch: int = 3) -> np.ndarray:
    """A batch ``(batch, rows, cols) int8`` of settled boards; grey cells only in the Continuous variants.
    Half the time boards are full (no empty cells), as games start."""
    batch = draw(st.integers(1, max_batch))
    low = draw(st.sampled_from([0, 1]))
    high = config.grey if config.continuous else config.colours
    cells = draw(hnp.arrays(np.int8, (batch, config.rows, config.cols), elements=st.integers(low, high)))
    return rules.settle(cells, config)


@st.composite
def config_and_boards(draw, continuous: bool | None = None, max_batch: int = 3) -> tuple[BubbleConfig, np.ndarray]:
    config = draw(configs(continuous))
    return config, draw(boards_for(config, max_batch))


def all_permutations(config: BubbleConfig) -> np.ndarray:
    """``(C!, C + 2) int8``: every colour permutation (0 and grey fixed); 120 at most here."""
    rows = [(0, *p, config.grey) for p in itertools.permutations(range(1, config.colours + 1))]
    return np.array(rows, dtype=np.int8)


def reference_canonical_perm(board: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """Plain-Python statement of the canonical numbering of one board ``(rows, cols)``."""
    seen: list[int] = []
    for r in range(config.rows - 1, -1, -1):  # bottom row first
        for c in range(config.cols - 1, -1, -1):  # rightmost cell first
            v = int(board[r, c])
            if 1 <= v <= config.colours and v not in seen:
                seen.append(v)
    seen += [v for v in range(1, config.colours + 1) if v not in seen]
    perm = np.arange(config.colours + 2, dtype=np.int8)
    for new, old in enumerate(seen, start=1):
        perm[old] = new
    return perm


def state_of(boards: np.ndarray, keys: np.ndarray) -> rules.BubbleState:
    n = boards.shape[0]
    return rules.BubbleState(boards.copy(), keys.astype(np.uint64), np.zeros(n, np.int64), np.zeros(n))


# --------------------------------------------------------------------------------------------------------------
# Permutations
# --------------------------------------------------------------------------------------------------------------


@FAST
@given(config_and_boards(), st.integers(0, 2**32 - 1))
def test_random_permutations_are_permutations_fixing_empty_and_grey(cb, seed):
    config, boards = cb
    perm = symmetry.random_permutations(boards.shape[0], config, np.random.default_rng(seed))
    assert perm.shape == (boards.shape[0], config.colours + 2)
    assert (perm[:, 0] == 0).all() and (perm[:, -1] == config.grey).all()
    assert (np.sort(perm, axis=1) == np.arange(config.colours + 2)).all()
    inv = symmetry.invert_permutation(perm)
    assert (np.take_along_axis(perm, inv.astype(np.intp), axis=1) == np.arange(config.colours + 2)).all()
    back = symmetry.apply_permutation(symmetry.apply_permutation(boards, perm), inv)
    np.testing.assert_array_equal(back, boards)


def test_random_permutations_cover_all_orderings():
    config = BubbleConfig(rows=3, cols=3, colours=3)
    perm = symmetry.random_permutations(600, config, np.random.default_rng(0))
    counts = {tuple(p): 0 for p in all_permutations(config).tolist()}
    for p in perm.tolist():
        counts[tuple(p)] += 1
    assert min(counts.values()) > 60  # 100 expected for each of the 6 orderings


def test_apply_permutation_accepts_one_permutation_for_the_batch():
    boards = np.array([[[0, 1, 2], [3, 2, 1]], [[1, 1, 1], [2, 2, 3]]], np.int8)
    perm = np.array([0, 3, 1, 2, 4], np.int8)
    out = symmetry.apply_permutation(boards, perm)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, symmetry.apply_permutation(boards, np.tile(perm, (2, 1))))
    np.testing.assert_array_equal(out[0], [[0, 3, 1], [2, 1, 3]])


@FAST
@given(config_and_boards(), st.integers(0, 2**32 - 1))
def test_permute_planes_matches_permuting_the_board(cb, seed):
    config, boards = cb
    perm = symmetry.random_permutations(boards.shape[0], config, np.random.default_rng(seed))
    planes = rules.one_hot(boards, config)
    out = symmetry.permute_planes(planes, perm)
    assert out.dtype == planes.dtype and out.shape == planes.shape
    np.testing.assert_array_equal(out, rules.one_hot(symmetry.apply_permutation(boards, perm), config))
    np.testing.assert_array_equal(symmetry.permute(planes, perm), out)


def test_permute_planes_rejects_a_wrong_plane_count():
    perm = np.arange(7, dtype=np.int8)[None]  # 5 colours
    with pytest.raises(ValueError, match="planes"):
        symmetry.permute_planes(np.zeros((1, 4, 3, 3), np.uint8), perm)


# --------------------------------------------------------------------------------------------------------------
# Canonical colours
# --------------------------------------------------------------------------------------------------------------


@FAST
@given(config_and_boards())
def test_canonical_is_invariant_under_every_permutation(cb):
    config, boards = cb
    canonical, _ = symmetry.canonical_colours(boards, config)
    perms = all_permutations(config)  # all C! renamings (<= 120), in one batched call per board
    for board, canon in zip(boards, canonical, strict=True):
        renamed = symmetry.apply_permutation(np.repeat(board[None], len(perms), axis=0), perms)
        got, _ = symmetry.canonical_colours(renamed, config)
        np.testing.assert_array_equal(got, np.broadcast_to(canon, got.shape))


@FAST
@given(config_and_boards(), st.data())
def test_canonical_of_a_sampled_permutation(cb, data):
    config, boards = cb
    order = data.draw(st.permutations(range(1, config.colours + 1)))
    perm = np.array([0, *order, config.grey], np.int8)
    a, _ = symmetry.canonical_colours(symmetry.apply_permutation(boards, perm), config)
    b, _ = symmetry.canonical_colours(boards, config)
    np.testing.assert_array_equal(a, b)


@FAST
@given(config_and_boards())
def test_canonical_is_idempotent_and_its_permutation_maps_the_board(cb):
    config, boards = cb
    canonical, perm = symmetry.canonical_colours(boards, config)
    assert canonical.dtype == boards.dtype and canonical.shape == boards.shape
    assert perm.shape == (boards.shape[0], config.colours + 2)
    np.testing.assert_array_equal(symmetry.apply_permutation(boards, perm), canonical)
    again, perm2 = symmetry.canonical_colours(canonical, config)
    np.testing.assert_array_equal(again, canonical)
    np.testing.assert_array_equal(perm2, symmetry.identity_permutation(boards.shape[0], config))


@FAST
@given(config_and_boards())
def test_canonical_numbers_colours_by_first_appearance_bottom_up_right_to_left(cb):
    config, boards = cb
    canonical, perm = symmetry.canonical_colours(boards, config)
    for board, canon, p in zip(boards, canonical, perm, strict=True):
        np.testing.assert_array_equal(p, reference_canonical_perm(board, config))
        scan = canon[::-1, ::-1].reshape(-1)
        colours = scan[(scan >= 1) & (scan <= config.colours)]
        _, first = np.unique(colours, return_index=True)
        in_order = colours[np.sort(first)]
        np.testing.assert_array_equal(in_order, np.arange(1, in_order.size + 1))


@FAST
@given(config_and_boards())
def test_canonical_keeps_empty_and_grey(cb):
    config, boards = cb
    canonical, _ = symmetry.canonical_colours(boards, config)
    np.testing.assert_array_equal(canonical == 0, boards == 0)
    np.testing.assert_array_equal(canonical == config.grey, boards == config.grey)


def test_canonical_of_a_known_board():
    config = BubbleConfig(rows=3, cols=4, colours=4)
    board = np.array([[0, 0, 0, 0], [0, 3, 0, 2], [4, 3, 2, 2]], np.int8)
    canonical, perm = symmetry.canonical_colours(board, config)
    np.testing.assert_array_equal(canonical[0], [[0, 0, 0, 0], [0, 2, 0, 1], [3, 2, 1, 1]])
    np.testing.assert_array_equal(perm[0], [0, 4, 1, 2, 3, 5])  # colour 1 is absent: it takes the last number


def test_canonical_rejects_bad_boards():
    config = BubbleConfig(rows=2, cols=2, colours=2)
    with pytest.raises(ValueError, match="shape"):
        symmetry.canonical_colours(np.zeros((1, 3, 2), np.int8), config)
    with pytest.raises(ValueError, match="holds 4"):
        symmetry.canonical_colours(np.array([[1, 4], [1, 2]], np.int8), config)


# --------------------------------------------------------------------------------------------------------------
# The rules commute with renaming colours
# --------------------------------------------------------------------------------------------------------------


@FAST
@given(config_and_boards(), st.integers(0, 2**32 - 1))
def test_legal_masks_and_group_stats_are_invariant(cb, seed):
    config, boards = cb
    perm = symmetry.random_permutations(boards.shape[0], config, np.random.default_rng(seed))
    renamed = symmetry.apply_permutation(boards, perm)
    np.testing.assert_array_equal(rules.legal_mask(renamed, config), rules.legal_mask(boards, config))
    np.testing.assert_array_equal(rules.has_moves(renamed, config), rules.has_moves(boards, config))
    np.testing.assert_array_equal(rules.label_groups(renamed, config), rules.label_groups(boards, config))


@FAST
@given(config_and_boards(continuous=False), st.integers(0, 2**32 - 1), st.data())
def test_step_commutes_with_permutation(cb, seed, data):
    config, boards = cb
    n = boards.shape[0]
    rng = np.random.default_rng(seed)
    perm = symmetry.random_permutations(n, config, rng)
    actions = np.array(data.draw(st.lists(st.integers(0, config.n_cells - 1), min_size=n, max_size=n)))
    keys = rng.integers(0, 2**63, size=n, dtype=np.uint64)
    plain = rules.step(state_of(boards, keys), actions, config)
    renamed = rules.step(state_of(symmetry.apply_permutation(boards, perm), keys), actions, config)
    np.testing.assert_array_equal(renamed.state.board, symmetry.apply_permutation(plain.state.board, perm))
    np.testing.assert_array_equal(renamed.reward, plain.reward)
    np.testing.assert_array_equal(renamed.removed, plain.removed)
    np.testing.assert_array_equal(renamed.illegal, plain.illegal)
    np.testing.assert_array_equal(renamed.terminal, plain.terminal)


@FAST
@given(config_and_boards(continuous=False, max_batch=1), st.integers(0, 2**32 - 1))
def test_afterstates_commute_with_permutation(cb, seed):
    config, boards = cb
    perm = symmetry.random_permutations(1, config, np.random.default_rng(seed))
    keys = np.array([seed], np.uint64)
    plain = rules.afterstates(state_of(boards, keys), config)
    renamed = rules.afterstates(state_of(symmetry.apply_permutation(boards, perm), keys), config)
    np.testing.assert_array_equal(renamed.actions, plain.actions)
    np.testing.assert_array_equal(renamed.rewards, plain.rewards)
    np.testing.assert_array_equal(renamed.terminal, plain.terminal)
    np.testing.assert_array_equal(renamed.boards, symmetry.apply_permutation(plain.boards, perm[0]))
    # Canonical afterstates agree too: a value net on canonical boards sees one input for both.
    if plain.boards.shape[0]:
        a, _ = symmetry.canonical_colours(plain.boards, config)
        b, _ = symmetry.canonical_colours(renamed.boards, config)
        np.testing.assert_array_equal(a, b)


@FAST
@given(config_and_boards(continuous=False, max_batch=1), st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_random_playouts_commute_with_permutation(cb, seed, moves):
    """Several moves in a row: renaming at the start equals renaming at the end."""
    config, boards = cb
    rng = np.random.default_rng(seed)
    perm = symmetry.random_permutations(1, config, rng)
    keys = np.array([seed], np.uint64)
    a, b = state_of(boards, keys), state_of(symmetry.apply_permutation(boards, perm), keys)
    for _ in range(moves):
        legal = np.flatnonzero(rules.legal_mask(a.board, config)[0])
        if legal.size == 0:
            break
        action = np.array([rng.choice(legal)])
        ra, rb = rules.step(a, action, config), rules.step(b, action, config)
        assert ra.reward[0] == rb.reward[0] and ra.terminal[0] == rb.terminal[0]
        a, b = ra.state, rb.state
    np.testing.assert_array_equal(b.board, symmetry.apply_permutation(a.board, perm))
    assert a.score[0] == b.score[0]


@FAST
@given(config_and_boards(continuous=True), st.integers(0, 2**32 - 1), st.data())
def test_continuous_legal_masks_and_move_rewards_are_invariant(cb, seed, data):
    """New columns come from the game's stream in true colours and are not renamed, so successors differ; what
    the renaming must keep is which clicks are legal and what the click itself pays (the end penalty reads the
    successor's colours, so it is left out here)."""
    config, boards = cb
    config = BubbleConfig(**{**config.to_dict(), "end_penalty": False})
    n = boards.shape[0]
    rng = np.random.default_rng(seed)
    perm = symmetry.random_permutations(n, config, rng)
    renamed = symmetry.apply_permutation(boards, perm)
    np.testing.assert_array_equal(rules.legal_mask(renamed, config), rules.legal_mask(boards, config))
    actions = np.array(data.draw(st.lists(st.integers(0, config.n_cells - 1), min_size=n, max_size=n)))
    keys = rng.integers(0, 2**63, size=n, dtype=np.uint64)
    plain = rules.step(state_of(boards, keys), actions, config)
    other = rules.step(state_of(renamed, keys), actions, config)
    np.testing.assert_array_equal(other.reward, plain.reward)
    np.testing.assert_array_equal(other.removed, plain.removed)
    np.testing.assert_array_equal(other.illegal, plain.illegal)


# --------------------------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------------------------


@FAST
@given(config_and_boards(), st.integers(0, 2**32 - 1))
def test_augment_boards_and_planes_alike(cb, seed):
    config, boards = cb
    aug_boards, perm_b = symmetry.augment(boards, np.random.default_rng(seed), config)
    aug_planes, perm_p = symmetry.augment(rules.one_hot(boards, config), np.random.default_rng(seed), config)
    np.testing.assert_array_equal(perm_b, perm_p)  # same rng, same renamings, whatever the layout
    np.testing.assert_array_equal(aug_boards, symmetry.apply_permutation(boards, perm_b))
    np.testing.assert_array_equal(aug_planes, rules.one_hot(aug_boards, config))
    assert aug_boards.dtype == boards.dtype and aug_planes.dtype == np.uint8
    # An augmented board is a renaming of the original: same canonical form.
    np.testing.assert_array_equal(
        symmetry.canonical_colours(aug_boards, config)[0], symmetry.canonical_colours(boards, config)[0]
    )


def test_augment_rejects_other_shapes():
    config = BubbleConfig(rows=3, cols=3, colours=3)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="planes"):
        symmetry.augment(np.zeros((2, 9, 3, 3), np.uint8), rng, config)
    with pytest.raises(ValueError, match="expected boards"):
        symmetry.augment(np.zeros((3, 3), np.int8), rng, config)


# --------------------------------------------------------------------------------------------------------------
# Wrapper
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version")  # checking the wrapper is the point
@pytest.mark.parametrize("obs_mode", ["planes", "board"])
@pytest.mark.parametrize("variant", ["standard", "continuous", "megashift"])
def test_wrapper_passes_env_checker(obs_mode, variant):
    env = symmetry.CanonicalColours(BubbleBreakerEnv(rows=5, cols=4, colours=4, variant=variant, obs_mode=obs_mode))
    check_env(env, skip_render_check=True)


def test_wrapper_works_on_a_registered_env():
    import repgym  # noqa: F401  (registers the ids)

    env = symmetry.CanonicalColours(gym.make("repgym/BubbleBreaker-v0", obs_mode="board"))
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(obs, info["colour_permutation"][info["state"]])
    assert env.action_masks().shape == (env.action_space.n,)


def test_wrapper_refuses_pixels():
    with pytest.raises(ValueError, match="pixels"):
        symmetry.CanonicalColours(BubbleBreakerEnv(rows=4, cols=4, obs_mode="pixels"))


@settings(max_examples=40, deadline=None)
@given(
    config_and_boards(continuous=False, max_batch=1),
    st.sampled_from(["planes", "board"]),
    st.integers(0, 2**32 - 1),
)
def test_wrapper_sees_a_board_and_its_renaming_alike(cb, obs_mode, seed):
    config, boards = cb
    kwargs = dict(
        rows=config.rows, cols=config.cols, colours=config.colours, scoring=config.scoring, shift=config.shift,
        end_penalty=config.end_penalty, variant="shifter" if config.row_shift else "standard", obs_mode=obs_mode,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    perm = symmetry.random_permutations(1, config, rng)[0]
    env_a = symmetry.CanonicalColours(BubbleBreakerEnv(**kwargs))
    env_b = symmetry.CanonicalColours(BubbleBreakerEnv(**kwargs))
    obs_a, info_a = env_a.reset(seed=seed % 1000, options={"board": boards[0]})
    obs_b, info_b = env_b.reset(seed=seed % 1000, options={"board": perm[boards[0]]})
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(info_b["state"], perm[info_a["state"]])  # info keeps the true boards
    for info, obs in ((info_a, obs_a), (info_b, obs_b)):
        board_view = obs if obs_mode == "board" else obs.argmax(axis=0)
        np.testing.assert_array_equal(board_view, info["colour_permutation"][info["state"]])
    for _ in range(4):
        legal = np.flatnonzero(env_a.action_masks())
        if legal.size == 0:
            break
        action = int(rng.choice(legal))
        obs_a, r_a, term_a, _, info_a = env_a.step(action)
        obs_b, r_b, term_b, _, info_b = env_b.step(action)
        np.testing.assert_array_equal(obs_a, obs_b)
        assert (r_a, term_a) == (r_b, term_b)
        np.testing.assert_array_equal(info_b["state"], perm[info_a["state"]])
