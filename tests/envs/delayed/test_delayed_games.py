"""The delayed games as Gymnasium envs: API contract, determinism, rendering, ground truth and baselines."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import repgym  # noqa: F401  (registers the ids)
from repgym.benchmark.baseline_policies import BaselineAgent
from repgym.envs.delayed.hidden_sequence import HiddenSequenceEnv
from repgym.envs.delayed.registration import DELAYED_ENVS
from repgym.runs import EvalProtocol, EvalResult, play

IDS = [e.id for e in DELAYED_ENVS]


def evaluate(env: str | gym.Env, policy: str, episodes: int, seed: int, **env_kwargs) -> EvalResult:
    """``policy`` ("random" or "optimal") for ``episodes`` episodes from reset seeds ``seed + i``, through play()."""
    env = gym.make(env, **env_kwargs) if isinstance(env, str) else env
    player = None if policy == "random" else BaselineAgent(policy, env, seed=seed)
    return play(player, env, EvalProtocol(episodes, first_seed=seed, rng_seed=seed))


GROUND_TRUTH = {
    "repgym/KeyToDoor-v0": {"room", "position", "key_held", "key_position", "apple_position", "door_position",
                            "steps_in_room", "steps_since_key", "delay"},
    "repgym/Umbrella-v0": {"weather", "umbrella", "steps_since_cue", "delay"},
    "repgym/LaggedControl-v0": {"position", "goal", "pending", "predicted_position", "steps", "delay"},
    "repgym/HiddenSequence-v0": {"progress", "sequence", "steps", "last_button", "delay"},
}  # fmt: skip


def test_four_games_registered() -> None:
    assert set(IDS) == set(GROUND_TRUTH)
    assert all(env_id in gym.registry for env_id in IDS)


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels"])
@pytest.mark.parametrize("delay", [0, 3])
def test_check_env(env_id: str, obs_mode: str, delay: int) -> None:
    env = gym.make(env_id, obs_mode=obs_mode, delay=delay)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    if obs_mode == "pixels":
        assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8


@pytest.mark.parametrize("env_id", IDS)
def test_rgb_array_render_is_the_pixel_observation(env_id: str) -> None:
    env = gym.make(env_id, obs_mode="pixels", render_mode="rgb_array", delay=2)
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(6):
        frame = env.render()
        assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
        assert np.array_equal(frame, obs)
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            break


@pytest.mark.parametrize("env_id", IDS)
def test_human_render_opens_a_window(env_id: str) -> None:
    env = gym.make(env_id, render_mode="human", delay=1)
    env.reset(seed=0)
    env.step(0)
    assert env.unwrapped._window is not None
    env.close()
    assert env.unwrapped._window is None


@pytest.mark.parametrize("env_id", IDS)
def test_seeded_determinism_and_ground_truth(env_id: str) -> None:
    def play(seed: int) -> list:
        env = gym.make(env_id, delay=4)
        obs, info = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        trace = [(obs.tolist(), info)]
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
            assert set(info["state"]) == GROUND_TRUTH[env_id] and isinstance(info["success"], bool)
            assert info["state"]["delay"] == 4
            trace.append((obs.tolist(), reward, terminated, truncated, info))
            done = terminated or truncated
        return trace

    assert play(3) == play(3)
    if env_id != "repgym/HiddenSequence-v0":  # the lock has no randomness: its sequence is fixed by sequence_seed
        assert any(play(3) != play(s) for s in (4, 5, 6))


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("delay", [0, 1, 7, 40])
def test_optimal_policy_always_succeeds(env_id: str, delay: int) -> None:
    result = evaluate(env_id, "optimal", episodes=20, seed=0, delay=delay)
    assert result.successes.all()


@pytest.mark.parametrize("env_id", IDS)
def test_random_policy_is_worse_than_optimal(env_id: str) -> None:
    random = evaluate(env_id, "random", episodes=300, seed=0)
    optimal = evaluate(env_id, "optimal", episodes=50, seed=0)
    assert random.success_rate < 0.75 * optimal.success_rate
    assert random.returns.mean() < optimal.returns.mean()


def test_documented_random_baselines() -> None:
    assert evaluate("repgym/Umbrella-v0", "random", 1000, seed=1, delay=5).success_rate == pytest.approx(0.5, abs=0.05)
    assert evaluate("repgym/KeyToDoor-v0", "random", 1000, seed=1, delay=5).success_rate < 0.02
    lagged = [evaluate("repgym/LaggedControl-v0", "random", 600, seed=1, delay=d).success_rate for d in (0, 30)]
    assert lagged[0] == pytest.approx(0.18, abs=0.05) and lagged[1] == pytest.approx(0.18, abs=0.05)
    for delay in (0, 1, 3):
        env = gym.make("repgym/HiddenSequence-v0", delay=delay, buttons=3)
        exact = env.unwrapped.random_success_probability()
        measured = evaluate(env, "random", 2000, seed=2).success_rate
        assert measured == pytest.approx(exact, abs=3 * np.sqrt(exact * (1 - exact) / 2000) + 1e-3)


def test_hidden_sequence_discovery_bound_holds_and_is_attained() -> None:
    """Over every secret of a small lock, a fixed press order opens at most the bound's share of them within N
    presses; an order that tests a new window with every press (a De Bruijn sequence) comes close to it."""
    delay, buttons, max_steps = 2, 2, 10  # secrets of 3 presses, 8 of them; 8 windows per 10-press episode
    de_bruijn = [0, 0, 0, 1, 0, 1, 1, 1, 0, 0]  # B(2, 3), wrapped: every 3-press window once
    naive = [0] * max_steps
    for presses in (0, 2, 3, 5, 10):
        for order in (de_bruijn, naive):
            opened = 0
            for secret in itertools.product(range(buttons), repeat=delay + 1):
                env = HiddenSequenceEnv(delay=delay, buttons=buttons, max_steps=max_steps)
                env.sequence = secret
                env.reset(seed=0)
                opened += any(env.step(b)[2] for b in order[:presses])
            bound = HiddenSequenceEnv(delay=delay, buttons=buttons, max_steps=max_steps).discovery_bound(presses)
            assert opened / buttons ** (delay + 1) <= bound + 1e-12
            if order is de_bruijn and presses == max_steps:
                assert opened >= 6  # of the 8 windows: the lock's reset rule misses overlapping starts like 0-0-1
    long = HiddenSequenceEnv(delay=10, buttons=4)  # 30 presses an episode, 20 windows, 4**11 secrets
    assert long.discovery_bound(50_000) == pytest.approx((1666 * 20 + 10) / 4**11)
    with pytest.raises(ValueError, match="presses"):
        long.discovery_bound(-1)


@pytest.mark.filterwarnings("ignore:.*render_mode")
@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize(
    "kwargs, match",
    [({"delay": -1}, "delay"), ({"delay": 2.5}, "delay"), ({"obs_mode": "rgb"}, "obs_mode"),
     ({"render_mode": "ansi"}, "render_mode")],
)  # fmt: skip
def test_bad_arguments_raise(env_id: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("bad", [-1, 9, 1.5, np.array([0, 1]), "a"])
def test_malformed_actions_raise(env_id: str, bad) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be one integer"):
        env.step(bad)


@pytest.mark.parametrize("env_id", IDS)
def test_step_contract(env_id: str) -> None:
    env = gym.make(env_id, delay=0).unwrapped
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    with pytest.raises(ValueError, match="reset option"):
        env.reset(seed=0, options={"board": 1})
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.optimal_action())
        done = terminated or truncated
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(0)


@pytest.mark.parametrize("env_id", IDS)
def test_keyboard_controls_name_real_actions(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    controls = env.keyboard_controls()
    assert controls and all(env.action_space.contains(a) for a, _ in controls.values())
    assert {a for a, _ in controls.values()} == set(range(env.action_space.n))
