"""Sensitivity score from analytic facts: a frozen layer, or one whose signal nothing reads, adapts by exactly 0;
a trainable layer on a readable task lowers the loss; the agent's weights are never changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from repgym.analysis.capture import capture_activations
from repgym.analysis.forward_path import trace_forward_path
from repgym.analysis.sensitivity import adapt_loss, body_of, sensitivity, support_split, task_targets


def _net(seed: int) -> tuple[nn.Sequential, np.ndarray, np.ndarray]:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))
    x = np.random.default_rng(seed).normal(size=(200, 4)).astype(np.float32)
    return net, x, np.sin(2.0 * x[:, 0]) + x[:, 1] * x[:, 2]


def _path(net: nn.Sequential, x: np.ndarray):
    modules = {str(i): m for i, m in enumerate(net)}
    cap = capture_activations(modules, lambda batch: net(torch.as_tensor(batch)), x)
    path = trace_forward_path(cap.calls)
    assert path is not None and path.names == ["0", "1", "2", "3", "4"]
    return path, path.inputs(lambda batch: net(torch.as_tensor(batch)), x)


def test_frozen_and_disconnected_layers_have_sensitivity_zero() -> None:
    net, x, y = _net(0)
    before = [p.detach().clone() for p in net.parameters()]
    net[0].requires_grad_(False)  # frozen: cannot adapt
    path, inputs = _path(net, x)
    support = support_split(np.arange(200) // 10, seed=0)
    table = sensitivity(path, inputs, {"y": y}, support, steps=5)
    scores = {r.layer: r.value for r in table.filter(metric="sensitivity", params_task="y")}
    assert set(scores) == {"0", "2", ""} and body_of(path).names == ["0", "1", "2", "3"]
    assert scores["0"] == 0.0
    assert scores["2"] != 0.0 and scores[""] != 0.0
    adapted = {r.layer: r.value for r in table.filter(metric="support_sensitivity", params_task="y")}
    assert adapted["0"] == 0.0 and adapted["2"] > 0.0 and adapted[""] > 0.0  # free layers lower the loss
    row = table.filter(layer="0", metric="loss_after").rows[0]
    assert row.params["frozen"] is False and row.value == table.filter(layer="0", metric="loss_before").rows[0].value
    for p, p0 in zip(net.parameters(), before, strict=True):
        assert torch.equal(p, p0)  # adaptation ran on a copy
    # explicitly frozen, and cut off: nothing after layer 2 reads its output when the head's weights are zero
    assert sensitivity(path, inputs, {"y": y}, support, frozen=["2"]).filter(
        layer="2", metric="sensitivity").rows[0].value == 0.0  # fmt: skip
    net2, _, _ = _net(1)
    with torch.no_grad():
        net2[2].weight.zero_()
        net2[2].bias.zero_()
    path2, inputs2 = _path(net2, x)
    before2, after2, *_ = adapt_loss(body_of(path2), inputs2, y, support, free=["0"], steps=5)
    assert before2 == after2  # layer 0's signal is multiplied by zero weights: gradient 0, no step


def test_zero_steps_and_bad_input() -> None:
    net, x, y = _net(2)
    path, inputs = _path(net, x)
    support = np.arange(200) % 2 == 0
    before, after, *_ = adapt_loss(body_of(path), inputs, y, support, free=["0", "2"], steps=0)
    assert before == after
    with pytest.raises(ValueError, match="support"):
        adapt_loss(body_of(path), inputs, y, np.ones(200, bool), free=["0"])
    with pytest.raises(ValueError, match="not on the body"):
        adapt_loss(body_of(path), inputs, y, support, free=["4"])


def test_tasks_are_seeded_factors_and_random_readouts() -> None:
    rng = np.random.default_rng(0)
    factors = {"a": rng.normal(size=50), "b": np.ones(50), "c": rng.normal(size=50)}
    obs = rng.normal(size=(50, 3, 2))
    tasks = task_targets(factors, obs, n_factor_tasks=5, n_random_tasks=2, seed=1)
    assert set(tasks) == {"factor:a", "factor:c", "random_readout:0", "random_readout:1"}  # constant b left out
    again = task_targets(factors, obs, n_factor_tasks=5, n_random_tasks=2, seed=1)
    np.testing.assert_array_equal(tasks["random_readout:1"], again["random_readout:1"])
    split = support_split(np.repeat(np.arange(6), 5), seed=0)
    assert split.sum() == 15 and all(len(set(split[i * 5 : i * 5 + 5])) == 1 for i in range(6))
