"""Generality as a transfer rule, from analytic facts: threshold 0 copies the source, a threshold above 1 leaves
the fresh agent as it was, a never-active unit is re-initialised at any positive threshold (its row, bias and the
next layer's column), and the other units keep the source's weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repgym.agents import make_agent
from repgym.analysis.transfer_rule import transfer_general_units, unit_generality

ARCH = {"net_arch": [16, 8], "n_quantiles": 4}


def _pair() -> tuple:
    source = make_agent("qr-dqn", "CartPole-v1", seed=0, **ARCH)
    target = make_agent("qr-dqn", "CartPole-v1", seed=1, **ARCH)
    states = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    return source, target, states


def _weights(agent) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in agent.q_net.named_parameters()}


def test_threshold_zero_copies_the_source_and_above_one_keeps_the_fresh_agent() -> None:
    source, target, states = _pair()
    fresh = _weights(target)
    report = transfer_general_units(source, target, states, threshold=0.0)
    assert all(r.kept_fraction == 1.0 for r in report.values())
    after = _weights(target)
    for name, w in _weights(source).items():
        assert torch.equal(after[name], w)
        assert torch.equal(dict(target.target_net.named_parameters())[name], w)  # target synced
    source, target, states = _pair()
    report = transfer_general_units(source, target, states, threshold=1.01)
    assert all(r.kept == [] for r in report.values())
    for name, w in _weights(target).items():
        assert torch.equal(w, fresh[name])


def test_a_dead_unit_is_reinitialised_at_any_positive_threshold() -> None:
    source, target, states = _pair()
    with torch.no_grad():  # unit 3 of fc1: pre-activation always negative
        source.q_net.torso.fc1.weight[3] = 0.0
        source.q_net.torso.fc1.bias[3] = -1.0
    assert unit_generality(source, states)["torso.fc1"][3] == 0.0
    fresh, src = _weights(target), _weights(source)
    report = transfer_general_units(source, target, states, threshold=1e-6)
    assert 3 not in report["torso.fc1"].kept
    after = _weights(target)
    assert torch.equal(after["torso.fc1.weight"][3], fresh["torso.fc1.weight"][3])
    assert after["torso.fc1.bias"][3] == fresh["torso.fc1.bias"][3]
    kept2 = report["torso.fc2"].kept
    assert kept2, "some fc2 unit should be active on random states"
    # a kept fc2 unit reads the dead unit through a fresh weight, every other fc1 unit through the source's
    assert torch.equal(after["torso.fc2.weight"][kept2, 3], fresh["torso.fc2.weight"][kept2, 3])
    live = [u for u in report["torso.fc1"].kept]
    assert torch.equal(after["torso.fc2.weight"][kept2][:, live], src["torso.fc2.weight"][kept2][:, live])
    for unit in live:
        assert torch.equal(after["torso.fc1.weight"][unit], src["torso.fc1.weight"][unit])


def test_conv_filters_transfer_as_blocks() -> None:
    env_kwargs = {"rows": 5, "cols": 5, "colours": 3}
    make = lambda seed: make_agent("qr-dqn", "repgym/BubbleBreaker-v0", env_kwargs=env_kwargs, seed=seed,  # noqa: E731
                                   cnn_channels=[4, 4], cnn_hidden=8, n_quantiles=4)  # fmt: skip
    source, target = make(0), make(1)
    states = np.stack([source.env.observation_space.sample() for _ in range(50)])
    with torch.no_grad():  # conv2 filter 1 never fires: re-initialised, and so are fc's inputs from it
        source.q_net.torso.conv2.weight[1] = 0.0
        source.q_net.torso.conv2.bias[1] = -1.0
    fresh, src = _weights(target), _weights(source)
    report = transfer_general_units(source, target, states, threshold=0.5)
    after = _weights(target)
    kept1, kept2 = set(report["torso.conv1"].kept), set(report["torso.conv2"].kept)
    assert 1 not in kept2 and kept1 and kept2
    for out in range(4):  # a conv2 filter's slice for conv1 channel i is the source's iff both are kept
        for i in range(4):
            origin = src if out in kept2 and i in kept1 else fresh
            assert torch.equal(after["torso.conv2.weight"][out, i], origin["torso.conv2.weight"][out, i])
    fc, fc_fresh, fc_src = after["torso.fc.weight"], fresh["torso.fc.weight"], src["torso.fc.weight"]
    block = fc.shape[1] // 4  # flatten: each conv2 channel is a block of height x width inputs
    for row in report["torso.fc"].kept:
        for c in range(4):
            origin = fc_src if c in kept2 else fc_fresh
            assert torch.equal(fc[row, c * block : (c + 1) * block], origin[row, c * block : (c + 1) * block])
    assert set(report) == {"torso.conv1", "torso.conv2", "torso.fc", "head.linear"}


def test_bad_inputs_raise() -> None:
    source, target, states = _pair()
    with pytest.raises(ValueError, match="threshold"):
        transfer_general_units(source, target, states, float("nan"))
    other = make_agent("qr-dqn", "CartPole-v1", seed=1, net_arch=[16], n_quantiles=4)
    with pytest.raises(ValueError, match="differ"):
        transfer_general_units(source, other, states, 0.5)
