"""Seeded physics trajectories pinned to values recorded before the step path was optimised.

``pinned_trajectories.json`` holds, for a few seeded episodes (every body, both gravities, frame skips 1 and the
default, observed gravity, out-of-range actions, the Thrower's release), the observations, rewards, episode ends
and ``info`` after reset and each step. Speed work on the envs must leave all of them unchanged. Re-record only for
an intended behaviour change, which also bumps the env version::

    python tests/envs/physics/test_pinned_trajectories.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import repgym  # noqa: F401  (registers the ids)

PINNED = Path(__file__).with_name("pinned_trajectories.json")
STEPS = 30
# (name, env id, constructor kwargs, seed, reset options, step at which the Thrower lets go (or None))
CASES: list[tuple[str, str, dict[str, Any], int, dict[str, Any] | None, int | None]] = [
    ("two_link", "repgym/TwoLinkReach-v0", {}, 7, None, None),
    ("three_link_fs1_observed", "repgym/ThreeLinkReach-v0", {"frame_skip": 1, "observe_gravity": True}, 8, None, None),
    ("two_link_zero_g_target", "repgym/TwoLinkReachZeroG-v0", {}, 3, {"target": (0.4, 0.5)}, None),
    ("three_link_gravity_option", "repgym/ThreeLinkReachZeroG-v0", {}, 4, {"gravity": 3.7}, None),
    ("thrower", "repgym/Thrower-v0", {}, 9, None, 6),
    ("thrower_zero_g_fs1_observed", "repgym/ThrowerZeroG-v0", {"frame_skip": 1, "observe_gravity": True}, 5, None, 20),
    ("thrower_goal", "repgym/Thrower-v0", {"ctrl_cost_weight": 0.1}, 2, {"goal": (2.0, 0.3)}, None),
]


def actions_for(env: gym.Env, seed: int, release_at: int | None) -> np.ndarray:
    """``(STEPS, action_dim) float32`` in [-1.5, 1.5] (some get clipped); the Thrower lets go at ``release_at``."""
    actions = np.random.default_rng(seed).uniform(-1.5, 1.5, (STEPS, *env.action_space.shape)).astype(np.float32)
    nu = env.unwrapped.model.nu
    actions[:, nu:] = -1.0
    if release_at is not None:
        actions[release_at:, nu:] = 0.5
    return actions


def as_json(value: Any) -> Any:
    """Numbers and arrays as plain JSON values (floats round-trip exactly)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: as_json(v) for key, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def record(env_id: str, kwargs: dict[str, Any], seed: int, options: dict | None, release_at: int | None) -> dict:
    """The episode's reset and steps as JSON-ready dicts; stops at the first episode end."""
    env = gym.make(env_id, **kwargs)
    obs, info = env.reset(seed=seed, options=options)
    out: dict[str, Any] = {"reset": {"obs": as_json(obs), "info": as_json(info)}, "steps": []}
    for action in actions_for(env, seed, release_at):
        obs, reward, terminated, truncated, info = env.step(action)
        out["steps"].append(
            {"obs": as_json(obs), "reward": float(reward), "terminated": bool(terminated),
             "truncated": bool(truncated), "info": as_json(info)}
        )  # fmt: skip
        if terminated or truncated:
            break
    env.close()
    return out


def assert_same(actual: dict, expected: dict, where: str) -> None:
    assert actual.keys() == expected.keys(), where
    for key, value in expected.items():
        if isinstance(value, bool | str):
            assert actual[key] == value, f"{where}: {key}"
        elif isinstance(value, dict):
            assert_same(actual[key], value, f"{where}.{key}")
        else:  # tight enough to catch any change of formula or layout, loose enough for another CPU's rounding
            np.testing.assert_allclose(actual[key], value, rtol=1e-9, atol=1e-12, err_msg=f"{where}: {key}")


@pytest.fixture(scope="module")
def pinned() -> dict:
    return json.loads(PINNED.read_text())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_the_pinned_values(case, pinned: dict) -> None:
    name, *args = case
    expected, actual = pinned[name], record(*args)
    assert len(actual["steps"]) == len(expected["steps"]), "the episode ended at a different step"
    assert_same(actual["reset"], expected["reset"], f"{name} reset")
    for i, (a, e) in enumerate(zip(actual["steps"], expected["steps"], strict=True)):
        assert_same(a, e, f"{name} step {i}")


def test_pinned_cases_cover_releases_clipping_and_episode_ends(pinned: dict) -> None:
    """The pinned data exercise what the fast step path special-cases."""
    thrower = pinned["thrower"]["steps"]
    assert not thrower[5]["info"]["released"] and thrower[6]["info"]["released"]
    assert thrower[-1]["terminated"] and len(thrower) < STEPS  # the thrown ball lands
    assert pinned["three_link_fs1_observed"]["steps"][0]["obs"][-1] == 9.81
    assert all(len(pinned[c[0]]["steps"]) > 5 for c in CASES)


if __name__ == "__main__":
    PINNED.write_text(json.dumps({name: record(*args) for name, *args in CASES}, indent=None) + "\n")
    print(f"wrote {PINNED}")
