"""The native vector env against ``SyncVectorEnv`` of single envs: same trajectories, infos, seeding and errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import repgym  # noqa: F401  (registers the ids)
from repgym.envs.bubble.env import BubbleBreakerEnv
from repgym.envs.bubble.registration import BUBBLE_ENVS as ENVS
from repgym.envs.bubble.vector import BubbleBreakerVectorEnv

TINY = {"rows": 5, "cols": 4, "colours": 3}

# (id, keyword arguments): every variant on a tiny board, so that episodes end within a few moves.
CASES = [
    ("repgym/BubbleBreaker-v0", {**TINY, "max_episode_steps": 6}),
    ("repgym/BubbleBreakerContinuous-v0", {**TINY, "max_new_columns": 3, "max_episode_steps": 12}),
    (
        "repgym/BubbleBreakerContinuous-v0",
        {**TINY, "max_new_columns": 4, "random_column_height": True, "grey_column_value": 1.5, "obs_mode": "board"},
    ),
    ("repgym/BubbleBreakerShifter-v0", {**TINY, "max_episode_steps": 8}),
    ("repgym/BubbleBreakerMegaShift-v0", {**TINY, "max_new_columns": 3, "max_episode_steps": 10}),
    ("repgym/SameGame-v0", {"rows": 5, "cols": 5, "colours": 3, "max_episode_steps": 9}),
    ("repgym/SameGame-v0", {"rows": 4, "cols": 3, "colours": 2, "max_episode_steps": 9, "obs_mode": "pixels"}),
]
CASE_IDS = ["standard", "continuous", "continuous-random-height", "shifter", "megashift", "samegame", "samegame-pix"]


def make_pair(env_id: str, n: int, mode: AutoresetMode = AutoresetMode.NEXT_STEP, **kwargs):
    """The native vector env and a SyncVectorEnv of single envs, both through ``gymnasium.make_vec``."""
    native = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs)
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}, **kwargs)
    assert isinstance(native, BubbleBreakerVectorEnv)
    return native, sync


def assert_same(a, b, where: str = "") -> None:
    """Equal values with equal dtypes, recursively through info dicts and object arrays."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, np.ndarray) and a.dtype == object:
        assert b.dtype == object and a.shape == b.shape, where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert (x is None) == (y is None), f"{where}[{i}]"
            if x is not None:
                assert_same(x, y, f"{where}[{i}]")
    else:
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        np.testing.assert_array_equal(a, b, err_msg=where)


def random_actions(rng: np.random.Generator, masks: np.ndarray, p_legal: float = 0.85) -> np.ndarray:
    """Mostly a uniformly random legal cell per board, sometimes any cell (often an illegal click)."""
    legal = np.where(masks, rng.random(masks.shape), -1.0).argmax(axis=1)
    anything = rng.integers(0, masks.shape[1], size=masks.shape[0])
    return np.where(rng.random(masks.shape[0]) < p_legal, legal, anything).astype(np.int64)


def run_both(native, sync, steps: int, seed: int, mode: AutoresetMode) -> dict[str, int]:
    """Step both envs with the same actions and check every output; returns counts of what happened."""
    rng = np.random.default_rng(seed)
    obs_n, info_n = native.reset(seed=seed)
    obs_s, info_s = sync.reset(seed=seed)
    assert_same(obs_n, obs_s, "reset obs")
    assert_same(info_n, info_s, "reset info")
    counts = {"terminated": 0, "truncated": 0, "illegal": 0}
    for t in range(steps):
        masks = native.action_masks()
        assert_same(masks, np.stack(sync.call("action_masks")), f"step {t} masks")
        actions = random_actions(rng, masks)
        out_n, out_s = native.step(actions), sync.step(actions)
        for name, x, y in zip(("obs", "reward", "terminated", "truncated", "info"), out_n, out_s, strict=True):
            assert_same(x, y, f"step {t} {name}")
        counts["terminated"] += int(out_n[2].sum())
        counts["truncated"] += int(out_n[3].sum())
        counts["illegal"] += int(out_n[4]["illegal_action"].sum())
        if mode == AutoresetMode.DISABLED:
            ended = out_n[2] | out_n[3]
            if ended.any():
                obs_n, info_n = native.reset(options={"reset_mask": ended.copy()})
                obs_s, info_s = sync.reset(options={"reset_mask": ended.copy()})
                assert_same(obs_n, obs_s, f"step {t} masked reset obs")
                assert_same(info_n, info_s, f"step {t} masked reset info")
    return counts


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=CASE_IDS)
def test_same_trajectories_as_sync_vector_env(env_id: str, kwargs: dict) -> None:
    native, sync = make_pair(env_id, 4, **kwargs)
    counts = run_both(native, sync, steps=60, seed=3, mode=AutoresetMode.NEXT_STEP)
    assert counts["terminated"] + counts["truncated"] >= 8  # several episodes, hence autoresets
    assert counts["illegal"] > 0
    native.close()
    sync.close()


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.DISABLED])
@pytest.mark.parametrize(("env_id", "kwargs"), [CASES[0], CASES[4]], ids=["standard", "megashift"])
def test_other_autoreset_modes_match_sync(env_id: str, kwargs: dict, mode: AutoresetMode) -> None:
    native, sync = make_pair(env_id, 3, mode, **kwargs)
    assert native.metadata["autoreset_mode"] == mode
    counts = run_both(native, sync, steps=40, seed=11, mode=mode)
    assert counts["terminated"] + counts["truncated"] >= 5


def test_truncation_without_termination_is_reported() -> None:
    native, sync = make_pair("repgym/BubbleBreaker-v0", 2, **TINY, max_episode_steps=2)
    counts = run_both(native, sync, steps=12, seed=5, mode=AutoresetMode.NEXT_STEP)
    assert counts["truncated"] > 0


# -- make_vec and the registered ids -----------------------------------------------------------------------------


def checkerboard_with_one_pair(rows: int, cols: int) -> np.ndarray:
    """No two neighbours share a colour except the bottom-left pair: a game that never ends by clicking cell 0."""
    r, c = np.indices((rows, cols))
    board = ((r + 2 * c) % 3 + 1).astype(np.int8)
    board[-1, 1] = board[-1, 0]
    return board


@pytest.mark.parametrize("entry", ENVS, ids=[e.name for e in ENVS])
def test_make_vec_uses_the_native_env_with_the_registered_step_limit(entry) -> None:
    env = gym.make_vec(entry.id, num_envs=3)  # the vector entry point is the default
    assert isinstance(env, BubbleBreakerVectorEnv)
    assert env.max_episode_steps == entry.max_episode_steps
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert env.single_action_space == gym.spaces.Discrete(env.config.n_cells)
    assert env.action_space == gym.spaces.MultiDiscrete([env.config.n_cells] * 3)
    single = gym.make(entry.id)
    assert env.single_observation_space == single.observation_space
    assert env.observation_space.shape == (3, *single.observation_space.shape)
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space
    single_obs, _ = single.reset(seed=2)
    np.testing.assert_array_equal(obs[2], single_obs)


def test_make_vec_truncates_at_the_registered_limit() -> None:
    env = gym.make_vec("repgym/BubbleBreaker-v0", num_envs=2, vectorization_mode="vector_entry_point")
    board = checkerboard_with_one_pair(14, 10)
    env.reset(seed=0, options={"board": board})
    clicks = np.zeros(2, np.int64)  # top-left cell: never in a group
    for _ in range(499):
        _, reward, terminated, truncated, info = env.step(clicks)
        assert not truncated.any() and not terminated.any() and info["illegal_action"].all()
    _, _, terminated, truncated, _ = env.step(clicks)
    assert truncated.all() and not terminated.any()
    obs, reward, terminated, truncated, info = env.step(clicks)  # NEXT_STEP: the reset step
    assert not truncated.any() and (reward == 0).all() and not info["illegal_action"].any()
    assert (info["state"] != board).any()  # autoreset draws random boards


def test_make_vec_step_limit_can_be_overridden() -> None:
    env = gym.make_vec("repgym/BubbleBreaker-v0", num_envs=2, max_episode_steps=3)
    assert env.max_episode_steps == 3
    env.reset(seed=0, options={"board": checkerboard_with_one_pair(14, 10)})
    truncations = [env.step(np.zeros(2, np.int64))[3].all() for _ in range(3)]
    assert truncations == [False, False, True]


# -- masks, illegal clicks, errors ---------------------------------------------------------------------------------


def test_action_masks_for_the_whole_batch() -> None:
    env = BubbleBreakerVectorEnv(num_envs=5, **TINY)
    _, info = env.reset(seed=7)
    masks = env.action_masks()
    assert masks.shape == (5, 20) and masks.dtype == bool
    for i in range(5):
        single = BubbleBreakerEnv(**TINY)
        single.reset(seed=7 + i)
        np.testing.assert_array_equal(masks[i], single.action_masks())
    np.testing.assert_array_equal(info["action_mask"], masks)
    masks[:] = False  # a copy: the env's masks are not changed
    assert env.action_masks().any()


def test_illegal_click_is_a_no_op_for_that_board_only() -> None:
    env = BubbleBreakerVectorEnv(num_envs=2, obs_mode="board", **TINY)
    board = checkerboard_with_one_pair(5, 4)
    obs, info = env.reset(seed=0, options={"board": board})
    pair = 4 * 4  # bottom-left cell, in the only group
    obs2, reward, terminated, truncated, info = env.step(np.array([0, pair]))
    np.testing.assert_array_equal(obs2[0], obs[0])
    assert reward[0] == 0 and info["illegal_action"][0] and info["removed"][0] == 0
    assert reward[1] == 2 and not info["illegal_action"][1] and info["removed"][1] == 2
    assert (obs2[1] != obs[1]).any()
    assert info["score"].tolist() == [0.0, 2.0]


@pytest.mark.parametrize("bad", [[0, -1], [0, 20], [0.0, 1.0], [0, 1, 2], [[0, 1]]])
def test_malformed_actions_raise_value_error(bad) -> None:
    env = BubbleBreakerVectorEnv(num_envs=2, **TINY)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(np.array(bad))


def test_bad_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError, match="num_envs"):
        BubbleBreakerVectorEnv(num_envs=0)
    with pytest.raises(ValueError, match="autoreset_mode"):
        BubbleBreakerVectorEnv(num_envs=2, autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="max_episode_steps"):
        BubbleBreakerVectorEnv(num_envs=2, max_episode_steps=0)
    env = BubbleBreakerVectorEnv(num_envs=2, **TINY)
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"boards": None})
    with pytest.raises(ValueError, match="boards"):
        env.reset(options={"board": np.ones((3, 5, 4), np.int8)})
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2, np.int64))


# -- seeding and reset options ---------------------------------------------------------------------------------------


def test_seed_gives_board_i_the_single_env_game_with_seed_plus_i() -> None:
    env = BubbleBreakerVectorEnv(num_envs=4, variant="continuous", obs_mode="board", **TINY)
    obs, info = env.reset(seed=100)
    for i in range(4):
        single = BubbleBreakerEnv(variant="continuous", obs_mode="board", **TINY)
        single_obs, single_info = single.reset(seed=100 + i)
        np.testing.assert_array_equal(obs[i], single_obs)
        np.testing.assert_array_equal(info["next_column"][i], single_info["next_column"])
    assert env.np_random_seed == (100, 101, 102, 103)


def test_seeded_runs_are_deterministic_and_unseeded_resets_continue_the_stream() -> None:
    def trajectory(seed: int) -> list[np.ndarray]:
        env = BubbleBreakerVectorEnv(num_envs=3, obs_mode="board", max_episode_steps=5, **TINY)
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(25):
            out.append(env.step(random_actions(rng, env.action_masks()))[0])
        out.append(env.reset()[0])  # no seed: the boards' generators go on
        return out

    a, b, c = trajectory(1), trajectory(1), trajectory(2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any((x != y).any() for x, y in zip(a, c, strict=True))
    assert (a[-1] != a[0]).any()


def test_reset_with_one_board_or_a_batch() -> None:
    env = BubbleBreakerVectorEnv(num_envs=3, obs_mode="board", **TINY)
    one = checkerboard_with_one_pair(5, 4)
    obs, _ = env.reset(seed=0, options={"board": one})
    assert all((o == one).all() for o in obs)
    r, c = np.indices((5, 4))
    no_pair = ((r + 2 * c) % 3 + 1).astype(np.int8)  # no group at all
    batch = np.stack([one, no_pair, np.full((5, 4), 2, np.int8)])
    obs, info = env.reset(options={"board": batch})
    np.testing.assert_array_equal(obs, batch)
    assert info["groups"].tolist() == [1, 0, 1]
    texts = ["\n".join("1212" if r % 2 else "2121" for r in range(5))] * 3
    obs, _ = env.reset(options={"board": texts})
    assert obs[0, 0].tolist() == [2, 1, 2, 1]


def test_reset_mask_resets_only_the_masked_boards() -> None:
    env = BubbleBreakerVectorEnv(num_envs=3, obs_mode="board", **TINY)
    first, _ = env.reset(seed=0)
    obs, info = env.reset(seed=50, options={"reset_mask": np.array([False, True, False])})
    np.testing.assert_array_equal(obs[[0, 2]], first[[0, 2]])
    single = BubbleBreakerEnv(obs_mode="board", **TINY)
    np.testing.assert_array_equal(obs[1], single.reset(seed=51)[0])
    assert info["_state"].tolist() == [False, True, False]
    assert (info["state"][[0, 2]] == 0).all()


def test_render_rgb_array_gives_one_frame_per_board() -> None:
    env = BubbleBreakerVectorEnv(num_envs=2, variant="continuous", render_mode="rgb_array", **TINY)
    env.reset(seed=4)
    frames = env.render()
    single = BubbleBreakerEnv(variant="continuous", render_mode="rgb_array", **TINY)
    single.reset(seed=5)
    assert len(frames) == 2
    np.testing.assert_array_equal(frames[1], single.render())
