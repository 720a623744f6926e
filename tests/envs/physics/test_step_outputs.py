"""What the fast step path hands out: fresh writable arrays, and any numeric action dtype taken alike."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import repgym  # noqa: F401  (registers the ids)

BODIES = ["repgym/TwoLinkReach-v0", "repgym/ThreeLinkReach-v0", "repgym/Thrower-v0"]


@pytest.mark.parametrize("env_id", BODIES)
@pytest.mark.parametrize("observe_gravity", [False, True])
def test_observations_and_states_are_fresh_writable_arrays(env_id: str, observe_gravity: bool) -> None:
    env = gym.make(env_id, observe_gravity=observe_gravity, gravity=4.5).unwrapped
    obs0, info0 = env.reset(seed=0)
    action = np.zeros(env.action_space.shape, np.float32)
    action[env.model.nu :] = -1.0
    obs1, _, _, _, info1 = env.step(action)
    for array, size in ((obs1, len(env.obs_names)), (info1["state"], len(env.state_names))):
        assert array.shape == (size,) and array.dtype == np.float64 and array.flags.writeable
    assert (obs1[-1] == 4.5) == observe_gravity and info1["state"][-1] == 4.5
    kept_obs, kept_state = obs1.copy(), info1["state"].copy()
    obs1[:] = -7.0  # a user's in-place change touches neither the state nor the next step's arrays
    assert np.array_equal(info1["state"], kept_state)
    obs2, _, _, _, info2 = env.step(action)
    assert not np.shares_memory(obs2, obs1) and not np.shares_memory(info2["state"], info1["state"])
    assert not np.shares_memory(obs0, obs2) and not np.shares_memory(info0["state"], info2["state"])
    assert not np.array_equal(obs2, kept_obs)  # the body moved


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int8])
def test_action_dtypes_give_the_same_step(dtype) -> None:
    env = gym.make("repgym/ThreeLinkReach-v0").unwrapped
    env.reset(seed=1)
    _, reward, _, _, info = env.step(np.array([1, -1, 0], dtype=dtype))
    env.reset(seed=1)
    _, expected_reward, _, _, expected = env.step(np.array([1.0, -1.0, 0.0], np.float32))
    assert reward == expected_reward and np.array_equal(info["state"], expected["state"])
    env.reset(seed=1)
    _, clipped_reward, _, _, clipped = env.step(np.array([3, -2, 0], dtype=dtype))  # clipped to [1, -1, 0]
    assert clipped_reward == expected_reward and np.array_equal(clipped["state"], expected["state"])
