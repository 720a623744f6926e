"""The physics experts: the reaching arms hold the hand on the target, the thrower hits the goal, both gravities."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import repgym  # noqa: F401  (registers the ids)
from repgym.envs.physics.experts import make_expert, reach_posture, release_state
from repgym.runs.protocol import EvalProtocol, EvalResult, play

REACH_IDS = [
    "repgym/TwoLinkReach-v0",
    "repgym/TwoLinkReachZeroG-v0",
    "repgym/ThreeLinkReach-v0",
    "repgym/ThreeLinkReachZeroG-v0",
]
THROWER_IDS = ["repgym/Thrower-v0", "repgym/ThrowerZeroG-v0"]
HOLD_RADIUS = 0.02  # m: the hand must end this close to the target
pytestmark = pytest.mark.filterwarnings("ignore:.*Box observation space (maximum|minimum).*:UserWarning")


class SuccessWithin(gym.Wrapper):
    """Reports ``info["success"]`` (what :func:`play` reads) as ``info["distance"] < radius`` (m)."""

    def __init__(self, env: gym.Env, radius: float) -> None:
        super().__init__(env)
        self.radius = radius

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, "success": info["distance"] < self.radius}


def expert_and_random(env_id: str, radius: float | None, episodes: int, **kwargs) -> tuple[EvalResult, EvalResult]:
    """The expert's and a uniformly random policy's results on the same seeded episodes of ``env_id``."""
    env = gym.make(env_id, **kwargs)
    env = SuccessWithin(env, env.unwrapped.goal_radius if radius is None else radius)
    protocol = EvalProtocol(episodes=episodes, first_seed=123)
    return play(make_expert(env), env, protocol), play(None, env, protocol)


@pytest.mark.parametrize("env_id", REACH_IDS)
def test_reach_expert_holds_the_hand_on_the_target(env_id: str) -> None:
    expert, random = expert_and_random(env_id, HOLD_RADIUS, episodes=3)
    assert expert.successes.all()
    assert expert.returns.min() > random.returns.max()


@pytest.mark.parametrize("env_id", THROWER_IDS)
def test_thrower_expert_hits_the_goal(env_id: str) -> None:
    expert, random = expert_and_random(env_id, None, episodes=10)
    assert expert.success_rate == 1.0 and random.success_rate == 0.0
    assert expert.returns.min() > random.returns.max()


@pytest.mark.parametrize("obs_mode", ["state", "pixels"])
def test_the_expert_acts_on_the_env_state_whatever_the_observation(obs_mode: str) -> None:
    expert, _ = expert_and_random("repgym/ThreeLinkReach-v0", HOLD_RADIUS, episodes=1, obs_mode=obs_mode)
    assert expert.successes.all()


@pytest.mark.parametrize("env_id", ["repgym/ThreeLinkReach-v0", "repgym/Thrower-v0"])
def test_the_expert_leaves_the_simulation_alone(env_id: str) -> None:
    """Replaying the expert's actions without the expert gives the same states: it reads the env, never writes."""
    env = gym.make(env_id)
    expert = make_expert(env)
    _, info = env.reset(seed=5)
    actions, watched = [], [info["state"]]
    for _ in range(120):
        action, _ = expert.predict(None)
        actions.append(action)
        _, _, terminated, _, info = env.step(action)
        watched.append(info["state"])
        if terminated:
            break
    _, info = env.reset(seed=5)
    replayed = [info["state"]] + [env.step(action)[4]["state"] for action in actions]
    assert np.array_equal(np.array(watched), np.array(replayed))


def test_expert_actions_fit_the_action_space() -> None:
    env = gym.make("repgym/Thrower-v0")
    expert = make_expert(env)
    obs, _ = env.reset(seed=0)
    action, state = expert.predict(obs)
    assert env.action_space.contains(action) and state is None


def test_a_non_physics_env_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="repgym physics body") as error:
        make_expert(gym.make("CartPole-v1"))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("target", [(0.3, 0.0), (0.0, 1.0), (-0.6, -0.5), (0.7, 0.7)])
def test_three_link_posture_reaches_the_target_within_the_stops(target: tuple[float, float]) -> None:
    lengths, limits, current = np.full(3, 0.35), np.full(2, 2.7), np.array([-math.pi / 2, 0.0, 0.0])
    q = reach_posture(target, lengths, limits, current)
    angles = np.cumsum(q)
    hand = (float(lengths @ np.cos(angles)), float(lengths @ np.sin(angles)))
    assert hand == pytest.approx(target, abs=1e-9) and np.all(np.abs(q[1:]) <= limits)


def test_zero_gravity_release_flies_straight_through_the_goal() -> None:
    goal = (2.0, -0.5)
    angle, speed = release_state(goal, 0.0, 1.0, 5.0)
    hand = np.array([math.cos(angle), math.sin(angle)])
    heading = np.array([-math.sin(angle), math.cos(angle)])
    to_goal = np.array(goal) - hand
    off_line = heading[0] * to_goal[1] - heading[1] * to_goal[0]  # 2-D cross product
    assert speed == 5.0 and off_line == pytest.approx(0.0, abs=1e-9)
    assert float(heading @ to_goal) > 0.0


def test_an_unreachable_goal_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="cannot be reached") as error:
        release_state((0.5, 0.2), 0.0, 1.0, 5.0)
    assert "\n" not in str(error.value)
