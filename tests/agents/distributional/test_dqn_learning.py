"""Every head learns tiny problems with known answers, with fixed seeds: a two-armed bandit and a short chain."""

from __future__ import annotations

import numpy as np
import pytest
from dqn_toy_envs import Chain, TwoArmedBandit

from repgym.agents import make_agent

HEAD_KWARGS = {
    "qr-dqn": {"n_quantiles": 11},
    "c51-dqn": {"n_atoms": 31, "v_min": -1.0, "v_max": 2.0},
    "expectile-dqn": {"n_expectiles": 11},
    "dqn": {"dueling": True},
}
SMALL = dict(net_arch=(32,), learning_rate=3e-3, batch_size=32, train_freq=1, gradient_steps=1)


@pytest.mark.parametrize("name", sorted(HEAD_KWARGS))
def test_bandit_is_solved(name: str) -> None:
    agent = make_agent(name, TwoArmedBandit(), seed=0, **SMALL, **HEAD_KWARGS[name], learning_starts=64,
                       target_update_interval=50, exploration_steps=200, exploration_final_eps=0.1)  # fmt: skip
    agent.learn(600)
    obs = np.ones(1, np.float32)
    assert int(agent.predict(obs)[0]) == 1
    q = agent.return_distribution(obs).q_values
    assert q == pytest.approx([0.2, 0.8], abs=0.1)


@pytest.mark.parametrize("name", sorted(HEAD_KWARGS))
def test_chain_is_solved(name: str) -> None:
    kwargs = dict(HEAD_KWARGS[name])
    if name == "c51-dqn":
        kwargs.update(v_min=0.0, v_max=1.2)
    agent = make_agent(name, Chain(), seed=0, **SMALL, **kwargs, gamma=0.9, n_steps=2, learning_starts=100,
                       target_update_interval=100, exploration_steps=600, exploration_final_eps=0.1)  # fmt: skip
    agent.learn(1500)
    states = np.eye(4, dtype=np.float32)[:3]
    assert agent.predict(states)[0].tolist() == [1, 1, 1]  # always right
    q_right = np.array([agent.return_distribution(s).q_values[1] for s in states])
    assert q_right == pytest.approx([0.81, 0.9, 1.0], abs=0.1)
