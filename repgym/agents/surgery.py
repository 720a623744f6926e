"""Weight surgery on agents: freeze everything but the head (ANIL-style head-only adaptation), list the chain of
weight layers a unit-wise transfer walks, and re-synchronise target networks after weights were written.

These need to know where each agent family keeps its networks, optimiser and target network, so they live with
the agents; the analyses call them and stay on the agent interface.

*Head* means the layers that map the last features to the agent's outputs:

- repgym's DQN family (:class:`~repgym.agents.distributional.DistributionalDQN`): ``q_net.head`` (both streams
  when dueling); the torso is the body.
- SB3 SAC / TD3: the actor's last layer (SAC: ``mu`` and ``log_std``) and each critic's last linear layer.
- SB3 PPO / A2C: ``action_net``, ``value_net`` and the ``log_std`` parameter.
- SB3 DQN / QR-DQN: the Q-network's last linear layer.

Anything else with weights is body. SAC's entropy coefficient is neither and stays trainable.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

# (online, target) network pairs of SB3 policies: the target's body is set to the online body when it is frozen
_SB3_TARGETS = (("actor", "actor_target"), ("critic", "critic_target"), ("q_net", "q_net_target"),
                ("quantile_net", "quantile_net_target"))  # fmt: skip


def last_linear(module: nn.Module) -> str:
    """Dotted name (inside ``module``) of its last ``nn.Linear`` in registration order."""
    names = [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError(f"{type(module).__name__} has no linear layer")
    return names[-1]


def _sb3_head_prefixes(policy: nn.Module) -> list[str]:
    """Parameter-name prefixes of an SB3 policy's head (see the module docstring)."""
    if hasattr(policy, "actor") and hasattr(policy, "critic"):  # SAC, TD3
        actor = policy.actor
        if hasattr(actor, "log_std") and isinstance(actor.mu, nn.Linear):  # SAC (gSDE's log_std is a parameter)
            heads = ["actor.mu.", "actor.log_std"]
        else:
            heads = [f"actor.mu.{last_linear(actor.mu)}."]
        heads += [f"critic.{name}.{last_linear(q)}." for name, q in policy.critic.named_children()
                  if name.startswith("qf")]  # fmt: skip
        return heads
    if hasattr(policy, "action_net") and hasattr(policy, "value_net"):  # PPO, A2C
        return ["action_net.", "value_net.", "log_std"]
    for name in ("q_net", "quantile_net"):  # SB3 DQN, sb3-contrib QR-DQN
        if hasattr(policy, name):
            return [f"{name}.{last_linear(getattr(policy, name))}."]
    raise ValueError(f"no head rule for SB3 policy {type(policy).__name__}")


def _is_head(name: str, prefixes: list[str]) -> bool:
    return any(name == p.rstrip(".") or name.startswith(p) for p in prefixes)


def _freeze_sb3(agent: Any) -> list[str]:
    policy = agent.model.policy
    prefixes = _sb3_head_prefixes(policy)
    targets = {online + ".": target + "." for online, target in _SB3_TARGETS if hasattr(policy, target)}
    target_names = tuple(targets.values())
    frozen = []
    for name, p in policy.named_parameters():
        if name.startswith(target_names) or _is_head(name, prefixes):
            continue  # target networks are never trained by gradient; heads stay trainable
        p.requires_grad_(False)
        p.grad = None  # torch's optimisers skip a parameter without a gradient, momentum and all
        frozen.append(f"policy.{name}")
    params = dict(policy.named_parameters())
    with torch.no_grad():  # the target's body starts equal to the frozen online body
        for name in frozen:
            inner = name.removeprefix("policy.")
            for online, target in targets.items():
                if inner.startswith(online):
                    params[target + inner.removeprefix(online)].copy_(params[inner])
    return frozen


def _freeze_dqn(agent: Any) -> list[str]:
    optimizer = agent.optimizer
    storage = optimizer.params.untyped_storage().data_ptr()
    frozen = []
    for name, p in agent.q_net.named_parameters():
        if name.startswith("head."):
            continue
        if p.data.untyped_storage().data_ptr() != storage:
            raise ValueError(f"q_net.{name} is not a view into the optimiser's flat buffer")
        p.requires_grad_(False)
        flat = slice(p.data.storage_offset(), p.data.storage_offset() + p.numel())
        with torch.no_grad():
            # Adam with zero moments and a zero gradient steps by exactly 0: the body stays bit-identical
            optimizer.exp_avg[flat] = 0.0
            optimizer.exp_avg_sq[flat] = 0.0
            optimizer.grads[flat] = 0.0
            agent.target_params[flat] = optimizer.params[flat]  # lerp/copy keeps equal entries equal
        frozen.append(f"q_net.{name}")
    return frozen


def freeze_all_but_head(agent: Any) -> list[str]:
    """Make every body parameter of ``agent`` untrainable, in place, and return their names.

    Later ``agent.learn(...)`` changes only the head (and SAC's entropy coefficient): a frozen parameter gets no
    gradient and its optimiser state can no longer move it. Target networks: the target's body is set to the online
    body, so bootstrapped targets are computed with the same (frozen) features; a DQN target stays exactly equal,
    SB3's Polyak update keeps it there up to rounding.
    """
    if hasattr(agent, "q_net") and hasattr(agent, "optimizer") and hasattr(agent, "target_params"):
        frozen = _freeze_dqn(agent)
    elif hasattr(agent, "model") and hasattr(agent.model, "policy"):
        frozen = _freeze_sb3(agent)
    else:
        raise ValueError(f"no head rule for agent {type(agent).__name__}: expected a repgym DQN or an SB3 agent")
    if not frozen:
        raise ValueError(f"{type(agent).__name__} has no body parameters to freeze")
    return frozen


def weight_chain(agent: Any) -> list[tuple[str, nn.Module]]:
    """The weight layers (``nn.Linear`` / ``nn.Conv2d``) of a repgym DQN's Q-network in forward order, each one
    feeding the next: ``[("torso.fc1", Linear), ..., ("head.linear", Linear)]``."""
    if not hasattr(agent, "q_net"):
        raise ValueError(f"weight_chain needs a repgym DQN agent (with q_net), got {type(agent).__name__}")
    chain = [(n, m) for n, m in agent.q_net.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for (name, layer), (next_name, following) in zip(chain, chain[1:], strict=False):
        units = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
        inputs = following.in_features if isinstance(following, nn.Linear) else following.in_channels
        if inputs % units:
            raise ValueError(f"{next_name} ({inputs} inputs) does not read {name}'s {units} units: not a chain")
    heads = [n for n, _ in chain if n.startswith("head.")]
    if len(heads) != 1:
        raise ValueError(f"weight_chain needs one head layer, got {heads} (dueling heads branch)")
    return chain


def sync_target(agent: Any) -> None:
    """Set a repgym DQN's target network to its online network (after its weights were written directly)."""
    with torch.no_grad():
        agent.target_params.copy_(agent.optimizer.params)
