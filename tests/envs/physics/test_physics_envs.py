"""Physics envs: API contract, determinism, gravity, argument checks, observation modes and rendering."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import repgym  # noqa: F401  (registers the ids)
from repgym.envs.physics.registration import PHYSICS_ENVS

PHYSICS_IDS = [e.id for e in PHYSICS_ENVS]
BODIES = ["repgym/TwoLinkReach-v0", "repgym/ThreeLinkReach-v0", "repgym/Thrower-v0"]
# Gymnasium warns about the unbounded (velocity) entries of the state observation, as for its own MuJoCo envs.
pytestmark = pytest.mark.filterwarnings("ignore:.*Box observation space (maximum|minimum).*:UserWarning")


def rollout(env: gym.Env, actions: np.ndarray, seed: int, **reset_kwargs) -> tuple[np.ndarray, list[float]]:
    """``(steps + 1, state_dim)`` ground-truth states and the rewards of playing ``actions`` from ``reset(seed)``."""
    _, info = env.reset(seed=seed, **reset_kwargs)
    states, rewards = [info["state"]], []
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        states.append(info["state"])
        rewards.append(reward)
        if terminated or truncated:
            break
    return np.array(states), rewards


@pytest.mark.parametrize("env_id", PHYSICS_IDS)
def test_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["state"].shape == (len(env.unwrapped.state_names),)
    assert obs.shape == (len(env.unwrapped.obs_names),)
    env.close()


@pytest.mark.parametrize("env_id", PHYSICS_IDS)
def test_registered_gravity(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    expected = 0.0 if "ZeroG" in env_id else 9.81
    assert env.gravity == expected and env.model.opt.gravity.tolist() == [0.0, 0.0, -expected]
    _, info = env.reset(seed=0)
    assert env.state_dict(info["state"])["gravity"] == expected


@pytest.mark.parametrize("env_id", BODIES)
def test_gravity_changes_the_trajectory(env_id: str) -> None:
    """The same actions from the same state move the body differently with gravity on and off."""
    env = gym.make(env_id)
    actions = np.random.default_rng(0).uniform(-0.3, 0.3, (40, *env.action_space.shape)).astype(np.float32)
    actions[:, env.unwrapped.model.nu :] = -1.0  # the Thrower keeps the ball
    on, _ = rollout(env, actions, seed=1, options={"gravity": 9.81})
    off, _ = rollout(env, actions, seed=1, options={"gravity": 0.0})
    names = env.unwrapped.state_names
    assert np.array_equal(on[0, :-1], off[0, :-1])  # same start (except the gravity entry)
    hand = [names.index("hand_x"), names.index("hand_z")]
    gap = np.linalg.norm(on[-1, hand] - off[-1, hand])
    assert gap > 0.05, f"hands only {gap:.3f} m apart after 40 steps"
    env.close()


@pytest.mark.parametrize("env_id", ["repgym/TwoLinkReach-v0", "repgym/Thrower-v0"])
def test_a_limp_arm_falls_only_with_gravity(env_id: str) -> None:
    """Start straight out along +x at rest, apply no torque: gravity pulls the hand down, zero-g leaves it still."""
    env = gym.make(env_id).unwrapped
    zero = np.zeros(env.action_space.shape, np.float32)
    zero[env.model.nu :] = -1.0
    for gravity in (9.81, 0.0):
        env.reset(seed=0, options={"gravity": gravity})
        env.data.qpos[: env.model.nu] = 0.0
        env.data.qvel[:] = 0.0
        if env_id.startswith("repgym/Thrower"):  # keep the ball in the hand
            import mujoco

            mujoco.mj_kinematics(env.model, env.data)
            env.data.qpos[2:5] = env.data.site("hand").xpos
            env.data.qpos[5:9] = [1, 0, 0, 0]
        for _ in range(25):  # 0.5 s
            _, _, _, _, info = env.step(zero)
        hand_z = env.state_dict(info["state"])["hand_z"]
        if gravity:
            assert hand_z < -0.3  # fell well below the shoulder
        else:
            assert abs(hand_z) < 0.02


def test_gravity_setter_takes_effect_on_the_next_step() -> None:
    env = gym.make("repgym/TwoLinkReachZeroG-v0").unwrapped
    env.reset(seed=0)
    env.gravity = 9.81
    assert env.model.opt.gravity[2] == -9.81
    obs_reset, info = env.reset(seed=0)  # gravity persists across resets until changed
    assert info["state"][-1] == 9.81 and env.gravity == 9.81


@pytest.mark.parametrize("env_id", BODIES)
def test_seeded_resets_are_deterministic(env_id: str) -> None:
    env = gym.make(env_id)
    actions = np.random.default_rng(3).uniform(-1, 1, (30, *env.action_space.shape)).astype(np.float32)
    s1, r1 = rollout(env, actions, seed=5)
    s2, r2 = rollout(env, actions, seed=5)
    s3, _ = rollout(env, actions, seed=6)
    assert np.array_equal(s1, s2) and r1 == r2
    assert not np.array_equal(s1[0], s3[0])


def test_frame_skip_is_repeated_mujoco_steps() -> None:
    one = gym.make("repgym/ThreeLinkReach-v0", frame_skip=1).unwrapped
    three = gym.make("repgym/ThreeLinkReach-v0", frame_skip=3).unwrapped
    assert three.dt == pytest.approx(3 * one.dt) and three.metadata["render_fps"] == round(1 / three.dt)
    action = np.array([0.5, -0.2, 0.1], np.float32)
    one.reset(seed=2)
    three.reset(seed=2)
    for _ in range(3):
        _, _, _, _, info_one = one.step(action)
    _, _, _, _, info_three = three.step(action)
    np.testing.assert_allclose(info_one["state"], info_three["state"], rtol=0, atol=1e-12)


def test_reach_reward_and_target_option() -> None:
    env = gym.make("repgym/TwoLinkReach-v0", ctrl_cost_weight=0.0).unwrapped
    obs, info = env.reset(seed=0, options={"target": (0.0, -1.0)})  # where the hanging hand is
    state = env.state_dict(info["state"])
    assert (state["target_x"], state["target_z"]) == (0.0, -1.0)
    _, reward, _, _, info = env.step(np.zeros(2, np.float32))
    assert reward == pytest.approx(-info["distance"]) and info["distance"] < 0.15
    hand_minus_target = obs[-2:]
    np.testing.assert_allclose(hand_minus_target, [state["hand_x"], state["hand_z"] + 1.0])
    with pytest.raises(ValueError, match="within the reach"):
        env.reset(options={"target": (2.0, 0.0)})
    with pytest.raises(RuntimeError, match="reset"):  # a refused reset leaves no half-made episode to step
        env.step(np.zeros(2, np.float32))


def test_thrower_release_and_goal() -> None:
    env = gym.make("repgym/ThrowerZeroG-v0").unwrapped
    _, info = env.reset(seed=0)
    hold = np.array([0.5, 0.0, -1.0], np.float32)
    for _ in range(5):
        _, _, terminated, _, info = env.step(hold)
    state = env.state_dict(info["state"])
    assert state["held"] == 1.0 and not info["released"] and not terminated
    assert math.dist((state["hand_x"], state["hand_z"]), (state["ball_x"], state["ball_z"])) < 0.02
    _, _, _, _, info = env.step(np.array([0.0, 0.0, 1.0], np.float32))
    released = env.state_dict(info["state"])
    assert released["held"] == 0.0 and info["released"]
    for _ in range(5):  # zero-g: the ball flies on in a straight line at constant velocity
        _, _, _, _, info = env.step(np.array([0.0, 0.0, -1.0], np.float32))  # no re-grip
    later = env.state_dict(info["state"])
    assert later["held"] == 0.0
    assert later["ball_velocity_z"] == pytest.approx(released["ball_velocity_z"], abs=1e-9)
    expected_x = released["ball_x"] + 5 * env.dt * released["ball_velocity_x"]
    assert later["ball_x"] == pytest.approx(expected_x, abs=1e-6)

    # A goal placed at the ball: the first step scores the bonus and ends the episode.
    _, info = env.reset(seed=0)
    start = env.state_dict(info["state"])
    env.reset(seed=0, options={"goal": (start["ball_x"], start["ball_z"])})
    _, reward, terminated, _, info = env.step(hold)
    assert terminated and info["is_success"] and reward > env.hit_bonus - 1.0


def test_thrown_ball_falls_to_the_floor_with_gravity() -> None:
    env = gym.make("repgym/Thrower-v0").unwrapped
    env.reset(seed=0)
    steps, terminated, info = 0, False, {}
    while not terminated and steps < 100:
        _, _, terminated, _, info = env.step(np.array([0.0, 0.0, 1.0], np.float32))  # let go at once
        steps += 1
    assert terminated and not info["is_success"]
    # from 0.2 m above the floor, a dropped ball lands within sqrt(2 * 0.12 / 9.81) s ~ 8 steps
    assert steps <= 10 and env.state_dict(info["state"])["ball_z"] < -1.1


@pytest.mark.filterwarnings("ignore:.*render_mode='ansi':UserWarning")
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"frame_skip": -1}, "frame_skip"),
        ({"frame_skip": 0}, "frame_skip"),
        ({"frame_skip": 1.5}, "frame_skip"),
        ({"obs_mode": "rgb"}, "obs_mode"),
        ({"gravity": float("nan")}, "gravity"),
        ({"gravity": "strong"}, "gravity"),
        ({"render_mode": "ansi"}, "render_mode"),
        ({"width": 0}, "width"),
        ({"pixel_size": 10_000}, "pixel_size"),
        ({"links": 4}, "links"),
    ],
)
def test_bad_arguments_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make("repgym/TwoLinkReach-v0", **kwargs)


def test_bad_actions_and_options() -> None:
    env = gym.make("repgym/TwoLinkReach-v0").unwrapped
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2))
    env.reset(seed=0)
    for bad in ([np.nan, 0.0], [0.0, np.inf], [-np.inf, 0.5]):
        with pytest.raises(ValueError, match="finite"):
            env.step(np.array(bad))
    for bad in (np.zeros(3), np.zeros((1, 2)), 0.5, np.array(["a", "b"])):
        with pytest.raises(ValueError, match="numbers in"):
            env.step(bad)
    thrower = gym.make("repgym/Thrower-v0").unwrapped
    thrower.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):  # also in the release entry
        thrower.step(np.array([0.0, 0.0, np.nan]))
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"gravty": 0.0})
    with pytest.raises(ValueError, match="gravity"):
        env.reset(options={"gravity": float("inf")})


def test_out_of_range_actions_are_clipped() -> None:
    env = gym.make("repgym/TwoLinkReach-v0").unwrapped
    env.reset(seed=4)
    _, r_big, _, _, info_big = env.step(np.array([7.0, -3.0]))
    env.reset(seed=4)
    _, r_one, _, _, info_one = env.step(np.array([1.0, -1.0]))
    assert np.array_equal(info_big["state"], info_one["state"]) and r_big == r_one


def test_observe_gravity() -> None:
    env = gym.make("repgym/TwoLinkReach-v0", observe_gravity=True, gravity=3.7)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (11,) and obs[-1] == 3.7 and env.unwrapped.obs_names[-1] == "gravity"
    obs, *_ = env.step(env.action_space.sample())
    assert obs[-1] == 3.7
    obs, _ = env.reset(options={"gravity": 0.0})
    assert obs[-1] == 0.0


@pytest.mark.parametrize("env_id", BODIES)
def test_pixel_observations(env_id: str) -> None:
    env = gym.make(env_id, obs_mode="pixels")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    assert obs.std() > 5  # a picture, not a blank
    action = np.ones(env.action_space.shape, np.float32)
    action[env.unwrapped.model.nu :] = -1.0
    for _ in range(10):
        moved, *_ = env.step(action)
    assert np.abs(moved.astype(int) - obs.astype(int)).sum() > 0
    env.close()
    env = gym.make(env_id, obs_mode="pixels", observe_gravity=True, pixel_size=32)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (32, 32, 3) and obs["gravity"].tolist() == [env.unwrapped.gravity]
    env.close()


@pytest.mark.parametrize("env_id", BODIES)
def test_rgb_array_render(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array", width=96, height=80)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (80, 96, 3) and frame.dtype == np.uint8 and frame.std() > 5
    env.close()


def test_human_render_headless() -> None:
    """The human window is a pygame window showing the offscreen image (SDL's dummy driver in the tests)."""
    env = gym.make("repgym/TwoLinkReach-v0", render_mode="human", width=64, height=64)
    env.reset(seed=0)
    env.step(np.zeros(2, np.float32))
    assert env.unwrapped._window is not None
    env.close()
