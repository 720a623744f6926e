"""The torch rules equal the numpy rules bit for bit on random batches (hypothesis), on CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repgym.envs.bubble import rules
from repgym.envs.bubble import torch_rules as tr
from repgym.envs.bubble.env import VARIANTS
from repgym.envs.bubble.rules import BubbleConfig

configs = st.builds(
    lambda rows, cols, colours, variant, scoring, shift, end_penalty, heights, max_new, grey_value: BubbleConfig(
        rows=rows, cols=cols, colours=colours, scoring=scoring, shift=shift, end_penalty=end_penalty,
        random_column_height=heights, max_new_columns=max_new, grey_column_value=grey_value, **VARIANTS[variant],
    ),
    st.integers(2, 16), st.integers(2, 9), st.integers(1, 5), st.sampled_from(sorted(VARIANTS)),
    st.sampled_from(["bubble", "samegame"]), st.sampled_from(["right", "left"]), st.booleans(), st.booleans(),
    st.one_of(st.none(), st.integers(0, 4)), st.sampled_from([0.0, 1.5, -2.0]),
)  # fmt: skip
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def positions(config: BubbleConfig, n: int, seed: int) -> rules.BubbleState:
    """``n`` games at random stages: full boards played forward a random number of random legal moves."""
    rng = np.random.default_rng(seed)
    state = rules.initial_state(rng.integers(0, 2**63, n, dtype=np.uint64), config)
    moves = rng.integers(0, config.n_cells, n)
    for t in range(int(moves.max(initial=0))):
        masks = rules.legal_mask(state.board, config).reshape(n, -1)
        actions = (rng.random(masks.shape) * masks).argmax(axis=1)
        new = rules.step(state, actions, config).state
        playing = t < moves
        state = rules.BubbleState(*(np.where(_rows(playing, a), b, a) for a, b in zip(state, new, strict=True)))
    return state


def _rows(flags: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``(batch,)`` flags shaped to broadcast over ``like``'s trailing axes."""
    return flags.reshape(-1, *[1] * (like.ndim - 1))


def assert_equal(got: torch.Tensor, want: np.ndarray, what: str) -> None:
    got = got.cpu().numpy()
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    np.testing.assert_array_equal(got, want, err_msg=what)


@SETTINGS
@given(config=configs, n=st.integers(1, 24), seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 4))
def test_torch_step_equals_numpy_step(config: BubbleConfig, n: int, seed: int, steps: int) -> None:
    rng = np.random.default_rng(seed)
    state = positions(config, n, seed)
    tstate = tr.from_numpy(state)
    for t in range(steps):
        masks = rules.legal_mask(state.board, config).reshape(n, -1)
        legal = (rng.random(masks.shape) * masks).argmax(axis=1)
        actions = np.where(rng.random(n) < 0.7, legal, rng.integers(0, config.n_cells, n))
        want = rules.step(state, actions, config)
        got = tr.step(tstate, torch.from_numpy(actions), config)
        for name in ("reward", "removed", "illegal", "terminal"):
            assert_equal(getattr(got, name), getattr(want, name), f"step {t} {name}")
        back = tr.to_numpy(got.state)
        for field in rules.BubbleState._fields:
            np.testing.assert_array_equal(getattr(back, field), getattr(want.state, field), err_msg=f"step {t} {field}")
        state, tstate = want.state, got.state


@SETTINGS
@given(config=configs, n=st.integers(1, 24), seed=st.integers(0, 2**32 - 1))
def test_torch_masks_observations_and_streams_equal_numpy(config: BubbleConfig, n: int, seed: int) -> None:
    state = positions(config, n, seed)
    tstate = tr.from_numpy(state)
    assert_equal(tr.legal_mask(tstate.board, config), rules.legal_mask(state.board, config), "legal_mask")
    assert_equal(tr.has_moves(tstate.board, config), rules.has_moves(state.board, config), "has_moves")
    assert_equal(tr.one_hot(tstate.board, config), rules.one_hot(state.board, config), "one_hot")
    assert_equal(tr.next_column(tstate, config), rules.next_column(state, config), "next_column")
    assert_equal(tr.random_boards(tstate.key, config), rules.random_boards(state.key, config), "random_boards")
    fresh = tr.initial_state(tstate.key, config)
    for field in rules.BubbleState._fields:
        want = getattr(rules.initial_state(state.key, config), field)
        np.testing.assert_array_equal(getattr(tr.to_numpy(fresh), field), want, err_msg=field)


def test_keys_with_the_top_bit_set_hash_as_uint64() -> None:
    """Keys above 2**63 (negative as int64) and every colour count give the numpy stream."""
    keys = np.array([0, 1, 2**63, 2**64 - 1, 0x9E3779B97F4A7C15, 12345678901234567890], np.uint64)
    for colours in range(1, 10):
        config = BubbleConfig(rows=16, cols=64, colours=colours)
        got = tr.random_boards(torch.from_numpy(keys.view(np.int64)), config)
        assert_equal(got, rules.random_boards(keys, config), f"{colours} colours")


def test_out_of_range_action_raises_value_error() -> None:
    config = BubbleConfig(rows=4, cols=3, colours=2)
    state = tr.initial_state(torch.arange(2), config)
    with pytest.raises(ValueError, match="action 12 is out of range"):
        tr.step(state, torch.tensor([0, 12]), config)
    with pytest.raises(ValueError, match="expected 2 actions"):
        tr.step(state, torch.tensor([0]), config)
