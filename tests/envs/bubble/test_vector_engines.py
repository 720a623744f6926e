"""Both engines of the native vector env (compiled numba kernels, numpy rules) play the single env's games exactly,
in every variant and autoreset mode, on one thread or two; and the engine arguments are checked."""

from __future__ import annotations

import gymnasium as gym
import numba
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from repgym.envs.bubble.vector import BubbleBreakerVectorEnv
from tests.envs.bubble.test_vector import CASE_IDS, CASES, TINY, assert_same, random_actions, run_both

ENGINES = [("numpy", 1), ("numba", 1), ("numba", 2)]
ENGINE_IDS = ["numpy", "numba-1", "numba-2"]
MODES = [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED]


@pytest.mark.parametrize(("engine", "threads"), ENGINES, ids=ENGINE_IDS)
@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=CASE_IDS)
def test_every_engine_matches_sync_in_every_mode(env_id: str, kwargs: dict, mode, engine: str, threads: int) -> None:
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("numba has a single thread here")
    native, sync = make_engine_pair(env_id, 3, mode, engine=engine, numba_threads=threads, **kwargs)
    assert native.engine == engine and native.numba_threads == threads
    counts = run_both(native, sync, steps=30, seed=17, mode=mode)
    assert counts["terminated"] + counts["truncated"] >= 3
    native.close()
    sync.close()


def make_engine_pair(env_id: str, n: int, mode: AutoresetMode, engine: str, numba_threads: int, **kwargs):
    """:func:`test_vector.make_pair` with the engine arguments passed to the native env only."""
    native = gym.make_vec(
        env_id, num_envs=n, vectorization_mode="vector_entry_point", autoreset_mode=mode, engine=engine,
        numba_threads=numba_threads, **kwargs,
    )  # fmt: skip
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}, **kwargs)
    assert isinstance(native, BubbleBreakerVectorEnv)
    return native, sync


@pytest.mark.parametrize("variant", ["standard", "continuous", "shifter", "megashift"])
def test_engines_agree_on_full_size_boards(variant: str) -> None:
    """Both engines on 14x10 boards over long random games: the same outputs and the same state, step by step."""
    kwargs = {"variant": variant, "max_episode_steps": 60, "max_new_columns": 6}
    envs = [BubbleBreakerVectorEnv(num_envs=16, engine=e, **kwargs) for e in ("numba", "numpy")]
    (obs_a, info_a), (obs_b, info_b) = (env.reset(seed=5) for env in envs)
    assert_same(obs_a, obs_b, "reset obs")
    assert_same(info_a, info_b, "reset info")
    rng = np.random.default_rng(0)
    for t in range(120):
        actions = random_actions(rng, envs[0].action_masks(), p_legal=0.95)
        outs = [env.step(actions) for env in envs]
        for x, y in zip(*outs, strict=True):
            assert_same(x, y, f"step {t}")
        for a, b in zip(envs[0].game, envs[1].game, strict=True):
            np.testing.assert_array_equal(a, b)


def test_numba_threads_are_restored_after_a_step() -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    numba.set_num_threads(1)
    env = BubbleBreakerVectorEnv(num_envs=4, numba_threads=2, **TINY)
    env.reset(seed=0)
    env.step(np.zeros(4, np.int64))
    assert numba.get_num_threads() == 1
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None, 10_000])
def test_bad_numba_threads_raise_one_line_value_error(bad) -> None:
    with pytest.raises(ValueError, match=r"numba_threads must be an integer in 1\.\.\d+, got") as error:
        BubbleBreakerVectorEnv(num_envs=2, numba_threads=bad)
    assert "\n" not in str(error.value)


def test_unknown_engine_raises_value_error() -> None:
    with pytest.raises(ValueError, match="engine must be one of"):
        BubbleBreakerVectorEnv(num_envs=2, engine="cuda")
