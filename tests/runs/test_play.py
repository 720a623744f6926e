"""play(): the one episode loop — seeds, masks, epsilon, max_steps, success flags and on_step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from repgym.runs import DEFAULT_FIRST_SEED, EnvSpec, EvalProtocol, play


class FirstLegal:
    """Plays the first legal action; remembers every mask it was given."""

    def __init__(self) -> None:
        self.masks: list[np.ndarray | None] = []

    def predict(self, obs, state=None, episode_start=None, deterministic=True, action_masks=None):
        self.masks.append(action_masks)
        return (int(np.flatnonzero(action_masks)[0]) if action_masks is not None else 0), None


def test_episode_i_resets_from_first_seed_plus_i() -> None:
    env = gym.make("repgym/BubbleBreaker-v0", rows=4, cols=4, colours=3)
    result = play(FirstLegal(), env, EvalProtocol(episodes=3))
    assert result.seeds == (DEFAULT_FIRST_SEED, DEFAULT_FIRST_SEED + 1, DEFAULT_FIRST_SEED + 2)
    again = play(FirstLegal(), EnvSpec("repgym/BubbleBreaker-v0", {"rows": 4, "cols": 4, "colours": 3}),
                 EvalProtocol(episodes=3))  # fmt: skip
    assert np.array_equal(result.returns, again.returns) and np.array_equal(result.lengths, again.lengths)
    # the boards are the ones reset(seed) gives
    obs, _ = env.reset(seed=DEFAULT_FIRST_SEED + 1)
    seen = []
    play(FirstLegal(), env, EvalProtocol(episodes=2), on_step=lambda s: seen.append((s.episode, s.t, s.obs.copy())))
    assert np.array_equal(next(o for e, t, o in seen if e == 1 and t == 0), obs)


def test_masks_reach_the_policy_and_illegal_moves_are_counted() -> None:
    policy = FirstLegal()
    result = play(policy, gym.make("repgym/BubbleBreaker-v0", rows=4, cols=4, colours=3), EvalProtocol(episodes=2))
    assert all(m is not None and m.dtype == bool for m in policy.masks) and result.illegal_actions == 0
    assert result.scores is not None and len(result.scores) == 2


def test_random_policy_and_epsilon_are_seeded_by_rng_seed() -> None:
    env = gym.make("repgym/Umbrella-v0", delay=3)
    a = play(None, env, EvalProtocol(episodes=20, rng_seed=7))
    b = play(None, env, EvalProtocol(episodes=20, rng_seed=7))
    assert np.array_equal(a.returns, b.returns) and a.successes is not None and a.successes.dtype == bool
    c = play(FirstLegal(), env, EvalProtocol(episodes=20, epsilon=0.5, rng_seed=1))
    d = play(FirstLegal(), env, EvalProtocol(episodes=20, epsilon=0.5, rng_seed=1))
    assert np.array_equal(c.returns, d.returns)


def test_max_steps_cuts_and_on_step_can_stop() -> None:
    env = gym.make("CartPole-v1")
    result = play(FirstLegal(), env, EvalProtocol(episodes=2, max_steps=3))
    assert result.lengths.tolist() == [3, 3] and result.truncated.all()
    steps = []
    stopped = play(FirstLegal(), env, EvalProtocol(episodes=5), on_step=lambda s: steps.append(s) or len(steps) == 4)
    assert len(stopped.returns) == 1 and stopped.lengths[0] == 3 and stopped.truncated[0]


def test_bad_protocols_are_refused() -> None:
    with pytest.raises(ValueError, match="episodes must be at least 1"):
        EvalProtocol(episodes=0)
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\]"):
        EvalProtocol(epsilon=2)
    with pytest.raises(ValueError, match="single env"):
        play(None, gym.make_vec("CartPole-v1", 2), EvalProtocol(episodes=1))
    assert EvalProtocol().name == "deterministic" and EvalProtocol(epsilon=0.05).name == "epsilon=0.05"


def test_success_is_read_under_either_name() -> None:
    reach = play(None, gym.make("repgym/TwoLinkReach-v0"), EvalProtocol(episodes=2, max_steps=5))
    assert reach.successes is not None and reach.successes.dtype == bool  # info["is_success"]
    assert play(None, gym.make("CartPole-v1"), EvalProtocol(episodes=1)).successes is None
