"""DiscretizeActions: bin values, index order, spaces, bad indices, and a DQN agent running on a physics body."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import repgym  # noqa: F401  (registers the ids)
from repgym.envs.physics.wrappers import DiscretizeActions

pytestmark = pytest.mark.filterwarnings("ignore:.*Box observation space (maximum|minimum).*:UserWarning")


def test_discrete_grid_order_and_values() -> None:
    env = DiscretizeActions(gym.make("repgym/TwoLinkReach-v0"), bins=3)
    assert env.action_space == spaces.Discrete(9)
    assert [v.tolist() for v in env.values] == [[-1, 0, 1], [-1, 0, 1]]
    assert env.action(0).tolist() == [-1, -1] and env.action(1).tolist() == [-1, 0]
    assert env.action(4).tolist() == [0, 0] and env.action(8).tolist() == [1, 1]
    for k in range(9):  # documented: action k picks bins np.unravel_index(k, bins)
        i, j = np.unravel_index(k, (3, 3))
        assert env.action(np.int64(k)).tolist() == [env.values[0][i], env.values[1][j]]


def test_bins_per_joint_and_multi_discrete() -> None:
    base = gym.make("repgym/ThreeLinkReach-v0")
    env = DiscretizeActions(base, bins=(2, 3, 5))
    assert env.action_space.n == 30 and env.table.shape == (30, 3)
    assert env.values[2].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    multi = DiscretizeActions(gym.make("repgym/ThreeLinkReach-v0"), bins=(2, 3, 5), multi_discrete=True)
    assert multi.action_space == spaces.MultiDiscrete([2, 3, 5])
    assert multi.action(np.array([1, 0, 3])).tolist() == [1.0, -1.0, 0.5]
    with pytest.raises(ValueError, match="bin indices"):
        multi.action(np.array([2, 0, 0]))


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version:UserWarning")
def test_discretized_env_steps_like_the_continuous_one() -> None:
    disc = DiscretizeActions(gym.make("repgym/Thrower-v0"), bins=3)
    cont = gym.make("repgym/Thrower-v0")
    check_env(disc, skip_render_check=True)
    disc.reset(seed=1)
    cont.reset(seed=1)
    for k in (26, 0, 13, 5):  # last entry: release (index 2 = +1 lets go)
        _, r_d, _, _, info_d = disc.step(k)
        _, r_c, _, _, info_c = cont.step(disc.table[k])
        assert np.array_equal(info_d["state"], info_c["state"]) and r_d == r_c


@pytest.mark.parametrize("bad", [-1, 9, 2.5, np.array([1, 2]), "a"])
def test_bad_indices_raise(bad) -> None:
    env = DiscretizeActions(gym.make("repgym/TwoLinkReach-v0"), bins=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be"):
        env.step(bad)


def test_bad_construction_raises() -> None:
    env = gym.make("repgym/TwoLinkReach-v0")
    with pytest.raises(ValueError, match="bins"):
        DiscretizeActions(env, bins=1)
    with pytest.raises(ValueError, match="bins"):
        DiscretizeActions(env, bins=(3, 3, 3))
    with pytest.raises(ValueError, match="multi_discrete"):
        DiscretizeActions(gym.make("repgym/ThreeLinkReach-v0"), bins=17)
    with pytest.raises(ValueError, match="Box"):
        DiscretizeActions(gym.make("repgym/BubbleBreaker-v0"))


def test_dqn_runs_on_a_discretized_body() -> None:
    from stable_baselines3 import DQN

    env = DiscretizeActions(gym.make("repgym/TwoLinkReach-v0"), bins=3)
    model = DQN("MlpPolicy", env, learning_starts=50, buffer_size=500, seed=0, policy_kwargs={"net_arch": [16]})
    model.learn(150)
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(int(action))
