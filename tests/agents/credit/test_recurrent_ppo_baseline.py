"""The recurrent baseline: sb3-contrib's RecurrentPPO as ``sb3-recurrent-ppo``, its LSTM state threaded by ``play``."""

from __future__ import annotations

from typing import Any

import numpy as np

import repgym  # noqa: F401  (registers the repgym ids)
from repgym.agents import load_agent, make_agent
from repgym.agents.sb3 import default_policy
from repgym.runs import EnvSpec, EvalProtocol, play

SMALL = {"n_steps": 64, "batch_size": 32, "n_epochs": 1, "policy_kwargs": {"lstm_hidden_size": 8, "net_arch": [8]}}
UMBRELLA = EnvSpec("repgym/Umbrella-v0", {"delay": 3})


class Spy:
    """Passes ``predict`` through to an agent and records what ``play`` gave it and what it returned."""

    def __init__(self, agent: Any) -> None:
        self.agent, self.given, self.returned, self.starts = agent, [], [], []

    def predict(self, observation, state=None, episode_start=None, deterministic=True, action_masks=None):
        action, new_state = self.agent.predict(observation, state, episode_start, deterministic)
        self.given.append(state)
        self.returned.append(new_state)
        self.starts.append(bool(np.asarray(episode_start).reshape(-1)[0]))
        return action, new_state


def test_recurrent_ppo_trains_evaluates_and_play_threads_its_lstm_state(tmp_path) -> None:
    agent = make_agent("sb3-recurrent-ppo", UMBRELLA.id, env_kwargs=UMBRELLA.kwargs, seed=0, **SMALL)
    assert agent.policy == "MlpLstmPolicy"
    agent.learn(256)
    assert agent.num_timesteps >= 256
    spy = Spy(agent)
    result = play(spy, UMBRELLA, EvalProtocol(episodes=2))
    assert len(result.returns) == 2 and result.successes is not None
    # Within an episode each call gets the state the previous call returned; each episode starts afresh.
    assert spy.starts == [True, False, False, False] * 2
    for t in (1, 2, 3, 5, 6, 7):
        assert all(np.array_equal(a, b) for a, b in zip(spy.given[t], spy.returned[t - 1], strict=True))
    h, c = spy.returned[0]
    assert h.shape == (1, 1, 8) and c.shape == (1, 1, 8)
    # Saved and loaded, it acts the same through a whole episode.
    agent.save(tmp_path / "rppo")
    loaded = load_agent(tmp_path / "rppo")
    mine = theirs = None
    for obs in np.random.default_rng(0).uniform(-1, 1, size=(4, 3)).astype(np.float32):
        a, mine = agent.predict(obs, mine)
        b, theirs = loaded.predict(obs, theirs)
        assert a == b and all(np.array_equal(x, y) for x, y in zip(mine, theirs, strict=True))
    assert "lstm_actor" in agent.latent_modules()


def test_recurrent_policy_names() -> None:
    from gymnasium import spaces

    assert default_policy(spaces.Box(0, 255, (64, 64, 3), np.uint8), recurrent=True) == "CnnLstmPolicy"
    assert default_policy(spaces.Box(-1, 1, (3,)), recurrent=True) == "MlpLstmPolicy"
