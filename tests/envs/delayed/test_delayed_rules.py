"""The rules of each delayed game: what the delay delays, what pays and what does not."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import repgym  # noqa: F401
from repgym.envs.delayed import HiddenSequenceEnv, KeyToDoorEnv, LaggedControlEnv, UmbrellaEnv
from repgym.envs.delayed.base import move


def run(env, actions) -> tuple[list[float], list[dict], bool]:
    """Step ``actions`` until the episode ends: rewards, infos, whether it ended."""
    rewards, infos = [], []
    for a in actions:
        _, r, terminated, truncated, info = env.step(int(a))
        rewards.append(r)
        infos.append(info)
        if terminated or truncated:
            return rewards, infos, True
    return rewards, infos, False


# -- Key-to-Door ---------------------------------------------------------------------------------------------------


def test_key_to_door_phases_and_door() -> None:
    env = KeyToDoorEnv(delay=6, key_steps=8, door_steps=8)
    _, info = env.reset(seed=3)
    key = info["state"]["key_position"]
    rewards, infos = [], []
    for _ in range(8):
        _, r, _, _, info = env.step(env.optimal_action())
        rewards.append(r)
        infos.append(info)
    assert all(r == 0 for r in rewards) and infos[-1]["state"]["key_held"]
    assert infos[-1]["state"]["room"] == 1 and infos[-1]["state"]["position"] == env.start
    assert key is not None and infos[-1]["state"]["key_position"] is None
    apples = 0.0
    for _ in range(6):
        _, r, _, _, info = env.step(env.optimal_action())
        apples += r
    assert apples >= 1 and info["state"]["room"] == 2  # apples pay, then the door room
    rewards, infos, ended = run(env, [0] * 8)  # straight up to the door
    assert ended and rewards[-1] == env.door_reward and infos[-1]["success"]
    assert infos[-1]["state"]["steps_since_key"] > 6


@given(st.integers(0, 10_000), st.lists(st.integers(0, 3), min_size=30, max_size=30))
def test_key_to_door_door_pays_only_with_the_key(seed: int, actions: list[int]) -> None:
    env = KeyToDoorEnv(delay=3)
    env.reset(seed=seed)
    rewards, infos, _ = run(env, actions)
    held = infos[-1]["state"]["key_held"]
    assert infos[-1]["success"] == (env.door_reward in rewards)
    assert not infos[-1]["success"] or held
    assert all(r in (0.0, env.apple_reward, env.door_reward) for r in rewards)
    assert len(rewards) <= env.key_steps + env.delay + env.door_steps


def test_key_to_door_delay_zero_skips_the_apples() -> None:
    env = KeyToDoorEnv(delay=0)
    env.reset(seed=0)
    for _ in range(env.key_steps):
        env.step(env.optimal_action())
    assert env.room == 2 and env.key_held


# -- Umbrella ------------------------------------------------------------------------------------------------------


@given(st.integers(0, 10_000), st.integers(0, 30), st.integers(0, 1), st.lists(st.integers(0, 1), max_size=31))
def test_umbrella_only_the_first_action_counts(seed: int, delay: int, first: int, later: list[int]) -> None:
    env = UmbrellaEnv(delay=delay)
    obs, info = env.reset(seed=seed)
    assert obs[0] == (1 if info["state"]["weather"] == 1 else -1)  # the cue
    later = (later + [0] * (delay + 1))[:delay]
    rewards, infos, ended = run(env, [first, *later])
    assert ended and len(rewards) == delay + 1
    assert all(abs(r) == 1.0 for r in rewards)
    right = (first == 1) == (info["state"]["weather"] == 1)
    assert rewards[-1] == (1.0 if right else -1.0) and infos[-1]["success"] == right


def test_umbrella_hides_the_weather_in_between() -> None:
    for seed in range(6):
        env = UmbrellaEnv(delay=5, obs_mode="pixels")
        env.reset(seed=seed)
        fog = [env.step(0)[0] for _ in range(3)]
        assert all(np.array_equal(fog[0][8:], f[8:]) for f in fog)  # below the clock, fog is all the same
        symbolic = UmbrellaEnv(delay=5)
        symbolic.reset(seed=seed)
        assert all(symbolic.step(1)[0][0] == 0 for _ in range(3))


# -- Lagged control ------------------------------------------------------------------------------------------------


@given(st.integers(0, 10_000), st.integers(0, 12), st.lists(st.integers(0, 4), min_size=1, max_size=40))
def test_lagged_control_commands_act_delay_steps_later(seed: int, delay: int, actions: list[int]) -> None:
    env = LaggedControlEnv(delay=delay, size=7)
    _, info = env.reset(seed=seed)
    position, goal = info["state"]["position"], info["state"]["goal"]
    predicted = position
    applied = [0] * delay + actions
    for t, a in enumerate(actions):
        _, reward, terminated, truncated, info = env.step(a)
        if applied[t]:
            position = move(position, applied[t] - 1, 7)
        if a:
            predicted = move(predicted, a - 1, 7)
        assert info["state"]["position"] == position and info["state"]["predicted_position"] == predicted
        assert info["state"]["pending"] == tuple(applied[t + 1 : t + 1 + delay])
        assert terminated == (position == goal) and reward == float(position == goal)
        if terminated or truncated:
            break


def test_lagged_control_truncates_at_max_steps() -> None:
    env = LaggedControlEnv(delay=10, size=5)
    env.reset(seed=0)
    rewards, _, ended = run(env, [0] * 100)
    assert ended and len(rewards) == 10 + 20 and sum(rewards) == 0


# -- Hidden sequence -----------------------------------------------------------------------------------------------


@given(st.integers(0, 50), st.integers(0, 6), st.integers(2, 4), st.lists(st.integers(0, 3), max_size=60))
def test_hidden_sequence_matches_a_reference_lock(seq_seed: int, delay: int, buttons: int, presses: list[int]) -> None:
    env = HiddenSequenceEnv(delay=delay, buttons=buttons, sequence_seed=seq_seed)
    obs, _ = env.reset(seed=0)
    seq = env.sequence
    assert len(seq) == delay + 1 and all(0 <= b < buttons for b in seq)
    progress = 0
    for t, b in enumerate([p % buttons for p in presses]):
        obs, reward, terminated, truncated, info = env.step(b)
        progress = progress + 1 if b == seq[progress] else int(b == seq[0])
        assert info["state"]["progress"] == progress and obs.tolist() == [t + 1, b]
        assert reward == float(progress == len(seq)) and terminated == (progress == len(seq))
        if terminated or truncated:
            assert truncated == (t + 1 == env.max_steps and not terminated)
            break


def test_hidden_sequence_is_fixed_across_episodes_and_reset_seeds() -> None:
    env = gym.make("repgym/HiddenSequence-v0", delay=5)
    seqs = {env.reset(seed=s)[1]["state"]["sequence"] for s in range(5)}
    assert len(seqs) == 1
    other = gym.make("repgym/HiddenSequence-v0", delay=5, sequence_seed=1)
    assert other.reset(seed=0)[1]["state"]["sequence"] not in seqs
