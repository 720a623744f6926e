"""Agent.untrained_like: a checkpoint's agent with the fresh weights of its own seed, for every agent family."""

from __future__ import annotations

import pytest
import torch

import repgym  # noqa: F401  (registers the ids)
from repgym.agents import make_agent
from repgym.agents.base import Agent

TINY_BOARD = {"rows": 5, "cols": 5, "colours": 3}
CASES = {
    "qr-dqn": ("repgym/KeyToDoor-v0", {"delay": 2}, {"net_arch": [16, 16]}),
    "sb3-ppo": ("CartPole-v1", None, {"n_steps": 64}),
    "lookahead": ("repgym/BubbleBreaker-v0", TINY_BOARD, {"channels": 8, "blocks": 1, "hidden": 16}),
    "distill": ("repgym/BubbleBreaker-v0", TINY_BOARD, {"channels": 8, "blocks": 1, "policy_averaging": 0.9}),
    "rudder": ("repgym/Umbrella-v0", {"delay": 3}, {}),
}


def _weights(agent: Agent) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.clone() for m, module in agent.latent_modules().items()
            for k, v in module.state_dict().items()}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_untrained_like_rebuilds_the_seeds_initial_weights(name, tmp_path) -> None:
    torch.set_num_threads(1)
    env_id, env_kwargs, hp = CASES[name]
    agent = make_agent(name, env_id, env_kwargs=env_kwargs, seed=7, **hp)
    initial = _weights(agent)
    with torch.no_grad():  # stands in for training: every saved weight moves away from the seed's initial ones
        for module in agent.latent_modules().values():
            for p in module.parameters():
                p.add_(0.5)
    agent.save(tmp_path / name)
    fresh = Agent.untrained_like(tmp_path / name)
    assert type(fresh) is type(agent) and fresh.num_timesteps == 0
    rebuilt = _weights(fresh)
    assert rebuilt.keys() == initial.keys()
    for key, value in initial.items():
        assert torch.equal(rebuilt[key], value), key
