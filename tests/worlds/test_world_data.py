"""Rollout shards: collection, the stored arrays, ground truth flattening and resuming."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import repgym.envs  # noqa: F401
from repgym.worlds.data import (
    MANIFEST,
    collect,
    flatten_state,
    load_episodes,
    observation_frame,
    split_episodes,
    stack_states,
    to_frame,
)

ENV = "repgym/KeyToDoor-v0"
KW = {"obs_mode": "pixels", "delay": 2}


def test_collect_writes_consistent_shards(tmp_path):
    manifest = collect(ENV, tmp_path, episodes=5, episodes_per_shard=2, seed=3, env_kwargs=KW, show_progress=False)
    assert [s["file"] for s in manifest["shards"]] == ["shard-00000.npz", "shard-00001.npz", "shard-00002.npz"]
    assert [s["episodes"] for s in manifest["shards"]] == [2, 2, 1]
    episodes = load_episodes(tmp_path)
    assert [e.seed for e in episodes] == [3, 4, 5, 6, 7]
    for e in episodes:
        assert e.frames.shape == (len(e) + 1, 64, 64, 3) and e.frames.dtype == np.uint8
        assert e.actions.shape == (len(e),) and e.rewards.shape == (len(e),)
        assert e.terminated[-1] or e.truncated[-1]
        assert not (e.terminated[:-1].any() or e.truncated[:-1].any())
        assert e.states["key_held"].shape == (len(e) + 1,)
        assert e.states["position"].shape == (len(e) + 1, 2)
    # the first frame is the reset observation of the recorded seed, the actions replay the episode
    env = gym.make(ENV, **KW)
    e = episodes[1]
    obs, _ = env.reset(seed=e.seed)
    np.testing.assert_array_equal(e.frames[0], obs)
    total = 0.0
    for a in e.actions:
        obs, r, *_ = env.step(int(a))
        total += r
    np.testing.assert_array_equal(e.frames[-1], obs)
    assert total == pytest.approx(float(e.rewards.sum()))


def test_collect_resumes_and_refuses_other_settings(tmp_path):
    collect(ENV, tmp_path, episodes=4, episodes_per_shard=2, env_kwargs=KW, show_progress=False)
    first = (tmp_path / "shard-00000.npz").stat().st_mtime_ns
    manifest = collect(ENV, tmp_path, episodes=6, episodes_per_shard=2, env_kwargs=KW, show_progress=False)
    assert (tmp_path / "shard-00000.npz").stat().st_mtime_ns == first  # kept, not collected again
    assert len(manifest["shards"]) == 3 and len(load_episodes(tmp_path)) == 6
    assert json.loads((tmp_path / MANIFEST).read_text())["shards"] == manifest["shards"]
    with pytest.raises(ValueError, match="collected differently"):
        collect(ENV, tmp_path, episodes=6, episodes_per_shard=3, env_kwargs=KW, show_progress=False)
    with pytest.raises(ValueError, match=r"collected differently: \{'max_steps': \(None, 3\)\}"):
        collect(ENV, tmp_path, episodes=6, episodes_per_shard=2, env_kwargs=KW, max_steps=3, show_progress=False)


def test_physics_state_is_named_by_state_names(tmp_path):
    collect("repgym/TwoLinkReach-v0", tmp_path, 1, env_kwargs={"obs_mode": "pixels"}, max_steps=5,
            show_progress=False)  # fmt: skip
    (e,) = load_episodes(tmp_path)
    assert len(e) == 5 and e.truncated[-1] and e.actions.shape == (5, 2)
    assert {"shoulder_angle", "elbow_velocity", "hand_x", "target_z"} <= set(e.states)
    assert e.states["shoulder_angle"].shape == (6,)


def test_flatten_state_none_and_tuples():
    rows = [flatten_state({"pos": (1, 2), "key": None, "held": True}), flatten_state({"pos": (3, 4), "key": (5, 6),
                                                                                       "held": False})]  # fmt: skip
    out = stack_states(rows)
    np.testing.assert_array_equal(out["pos"], [[1, 2], [3, 4]])
    assert np.isnan(out["key"][0]).all() and out["key"][1].tolist() == [5, 6]
    assert out["held"].tolist() == [1.0, 0.0]
    assert flatten_state(np.array([1.0, 2.0]), ["a", "b"]) == {"a": [1.0], "b": [2.0]}


def test_to_frame_and_errors():
    big = np.zeros((128, 96, 3), np.uint8)
    big[:64] = 255
    frame = to_frame(big)
    assert frame.shape == (64, 64, 3) and frame[:32].min() == 255 and frame[32:].max() == 0
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        to_frame(np.zeros((4, 4)))
    env = gym.make("CartPole-v1")
    with pytest.raises(ValueError, match="not pictures"):
        observation_frame(env.reset(seed=0)[0], env)


def test_split_episodes_keeps_one_for_validation():
    train, val = split_episodes(list(range(5)), 0.1)
    assert train == [0, 1, 2, 3] and val == [4]
    assert split_episodes([1], 0.1) == ([1], [])
