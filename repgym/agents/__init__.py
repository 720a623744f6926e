"""Agents that act: one registry, one interface (see :mod:`repgym.agents.base`).

```python
agent = make_agent("sb3-ppo", "repgym/BubbleBreaker-v0", seed=0)
agent.learn(10_000, progress_bar=True)
action, _ = agent.predict(obs, deterministic=True)
agent.save("runs/ppo"); agent = load_agent("runs/ppo")
```
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

from repgym.agents.base import Agent, EnvLike
from repgym.runs import Checkpoint


@dataclass(frozen=True)
class AgentEntry:
    """A registered agent: ``entry_point`` is ``"module:Class"`` (imported on use) plus fixed keyword arguments."""

    name: str
    entry_point: str
    description: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    def load_class(self) -> type[Agent]:
        module, _, attr = self.entry_point.partition(":")
        return getattr(importlib.import_module(module), attr)


AGENTS: dict[str, AgentEntry] = {}


def register_agent(name: str, entry_point: str, description: str, **kwargs: Any) -> None:
    """Add an agent to the registry (``repgym list`` and ``make_agent`` see it)."""
    AGENTS[name] = AgentEntry(name, entry_point, description, tuple(sorted(kwargs.items())))


def make_agent(name: str, env: EnvLike, **hyperparameters: Any) -> Agent:
    """A new agent by registry name, acting in ``env`` (an instance, an :class:`~repgym.runs.EnvSpec` or an id)."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; expected one of {sorted(AGENTS)}")
    entry = AGENTS[name]
    return entry.load_class()(env, **dict(entry.kwargs), **hyperparameters)


def registered_agent(checkpoint: Checkpoint) -> AgentEntry:
    """The registry entry of the agent that wrote ``checkpoint``; a one-line error for a name this repgym lacks."""
    if checkpoint.agent not in AGENTS:
        raise ValueError(f"checkpoint {checkpoint.path} holds agent {checkpoint.agent!r}, which this repgym does not "
                         f"know; expected one of {sorted(AGENTS)}")  # fmt: skip
    return AGENTS[checkpoint.agent]


def load_agent(path: str | os.PathLike | Checkpoint, env: EnvLike | None = None) -> Agent:
    """Any agent from its checkpoint folder (its ``agent.json`` names which) or a :class:`Checkpoint` already read.

    The checkpoint is read once; ``env`` (default: the recorded env) must have the observation and action spaces
    the agent was trained with, else a one-line ``ValueError`` says which differs (before any network is built)."""
    return Agent.load(path, env=env)


_SB3 = "repgym.agents.sb3:SB3Agent"
register_agent("sb3-ppo", _SB3, "Stable-Baselines3 PPO (baseline)", algorithm="ppo")
register_agent("sb3-a2c", _SB3, "Stable-Baselines3 A2C (baseline)", algorithm="a2c")
register_agent("sb3-dqn", _SB3, "Stable-Baselines3 DQN (baseline)", algorithm="dqn")
register_agent("sb3-sac", _SB3, "Stable-Baselines3 SAC, continuous actions (baseline)", algorithm="sac")
register_agent("sb3-td3", _SB3, "Stable-Baselines3 TD3, continuous actions (baseline)", algorithm="td3")
register_agent("sb3-qrdqn", _SB3, "sb3-contrib QR-DQN (baseline)", algorithm="qrdqn")
register_agent(
    "sb3-maskable-ppo", _SB3, "sb3-contrib MaskablePPO with action masks (baseline)", algorithm="maskable-ppo"
)
register_agent(
    "sb3-recurrent-ppo", _SB3, "sb3-contrib RecurrentPPO, an LSTM policy (baseline)", algorithm="recurrent-ppo"
)

_DQN = "repgym.agents.distributional:DistributionalDQN"
register_agent("c51-dqn", _DQN, "Distributional DQN, C51 head (categorical), action masks", head="c51")
register_agent("qr-dqn", _DQN, "Distributional DQN, quantile-regression head, action masks", head="qr")
register_agent("expectile-dqn", _DQN, "Distributional DQN, expectile head with imputation, action masks",
               head="expectile")  # fmt: skip
register_agent("dqn", _DQN, "DQN (mean head, for ablations), action masks", head="mean")

register_agent("lookahead", "repgym.agents.lookahead.agent:LookaheadAgent",
               "Bubble Breaker / SameGame: look-ahead on a learned value, or NMCS / beam / SP-MCTS search")  # fmt: skip
register_agent("distill", "repgym.agents.distill.agent:DistilledPolicyAgent",
               "Bubble Breaker / SameGame: a policy network acting without search, distilled from a look-ahead "
               "teacher (DAgger)")  # fmt: skip
register_agent("world-model", "repgym.agents.world_model.agent:WorldModelAgent",
               "World Models: VAE/VQ-VAE + MDN-LSTM, linear controller by CMA-ES (real env or dream)")  # fmt: skip
register_agent(
    "rudder",
    "repgym.agents.credit:RudderAgent",
    "RUDDER: an LSTM return predictor moves delayed rewards to the decisive steps; DQN learns from them",
)

__all__ = ["AGENTS", "Agent", "AgentEntry", "load_agent", "make_agent", "register_agent", "registered_agent"]
