"""Head-only adaptation from the analytic fact: after ``freeze_all_but_head`` and a few hundred steps of learning,
every body weight is bit-identical to before and at least one head weight changed."""

from __future__ import annotations

import copy

import gymnasium as gym
import pytest
import torch

from repgym.agents import make_agent
from repgym.agents.surgery import freeze_all_but_head, weight_chain

pytestmark = pytest.mark.filterwarnings("ignore:.*Box observation space (maximum|minimum).*:UserWarning")


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _check(before: dict, after: dict, frozen: list[str], prefix: str) -> None:
    body = {name.removeprefix(prefix) for name in frozen}
    assert body and body < set(before)
    for name in body:
        assert torch.equal(before[name], after[name]), f"body weight {name} changed"
    head = set(before) - body
    assert any(not torch.equal(before[n], after[n]) for n in head), "no head weight changed"


def test_dqn_body_is_bit_identical_after_head_only_learning() -> None:
    torch.set_num_threads(1)
    agent = make_agent("qr-dqn", "CartPole-v1", seed=0, net_arch=[16, 16], learning_starts=50, train_freq=1,
                       target_update_interval=20, n_quantiles=8)  # fmt: skip
    agent.learn(100)  # Adam's moments are non-zero by now: freezing must still stop the body
    before = _weights(agent.q_net)
    frozen = freeze_all_but_head(agent)
    assert frozen == ["q_net.torso.fc1.weight", "q_net.torso.fc1.bias", "q_net.torso.fc2.weight",
                      "q_net.torso.fc2.bias"]  # fmt: skip
    agent.learn(300)
    _check(before, _weights(agent.q_net), frozen, "q_net.")
    target = _weights(agent.target_net)
    for name in ("torso.fc1.weight", "torso.fc2.bias"):  # the target reads the same frozen features
        assert torch.equal(target[name], before[name])


def test_dqn_deep_copy_keeps_its_own_flat_buffers() -> None:
    agent = make_agent("qr-dqn", "CartPole-v1", seed=0, net_arch=[8], learning_starts=20, n_quantiles=4)
    clone = copy.deepcopy(agent)
    weight = clone.q_net.torso.fc1.weight
    assert weight.untyped_storage().data_ptr() == clone.optimizer.params.untyped_storage().data_ptr()
    assert weight.untyped_storage().data_ptr() != agent.optimizer.params.untyped_storage().data_ptr()
    clone.learn(60)
    assert not torch.equal(clone.q_net.head.linear.weight, agent.q_net.head.linear.weight)


def test_sac_body_is_bit_identical_after_head_only_learning() -> None:
    torch.set_num_threads(1)
    env = gym.make("repgym/TwoLinkReach-v0", max_episode_steps=25)
    agent = make_agent("sb3-sac", env, seed=0, learning_starts=20, policy_kwargs={"net_arch": [16, 16]})
    agent.learn(60)
    policy = agent.model.policy
    before = _weights(policy)
    frozen = freeze_all_but_head(agent)
    assert "policy.actor.latent_pi.0.weight" in frozen and "policy.critic.qf1.2.weight" in frozen
    assert not any(n.startswith(("policy.actor.mu", "policy.actor.log_std", "policy.critic_target")) for n in frozen)
    assert "policy.critic.qf0.4.weight" not in frozen  # each critic's last linear layer learns
    agent.learn(200)
    after = _weights(policy)
    _check({k: v for k, v in before.items() if not k.startswith("critic_target")},
           {k: v for k, v in after.items() if not k.startswith("critic_target")}, frozen, "policy.")  # fmt: skip
    # the target's body started at the frozen online body and Polyak-averages towards it
    assert torch.allclose(after["critic_target.qf0.0.weight"], before["critic.qf0.0.weight"], atol=1e-6)


def test_unknown_agents_and_dueling_chains_are_refused() -> None:
    with pytest.raises(ValueError, match="no head rule"):
        freeze_all_but_head(object())
    agent = make_agent("qr-dqn", "CartPole-v1", seed=0, net_arch=[8], dueling=True, n_quantiles=4)
    with pytest.raises(ValueError, match="one head layer"):
        weight_chain(agent)
