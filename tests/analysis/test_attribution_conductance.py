"""Captum conductance through the verified forward path: completeness, and zero for ignored units."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from repgym.analysis.attribution import conductance, feature_names
from repgym.analysis.capture import capture_activations
from repgym.analysis.forward_path import trace_forward_path


def test_conductance_is_complete_and_zero_for_an_ignored_unit() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 3, 6), nn.Tanh(), nn.Linear(6, 4))
    with torch.no_grad():
        net[3].weight[:, 2] = 0.0  # unit 2 of the tanh layer feeds nothing
    modules = {"fc": net[1], "tanh": net[2], "head": net[3]}
    obs = np.random.default_rng(0).normal(size=(24, 2, 3, 3)).astype(np.float32)

    def run(o: np.ndarray) -> torch.Tensor:
        return net(torch.as_tensor(o))

    cap = capture_activations(modules, run, obs)
    path = trace_forward_path(cap.calls)
    assert path is not None and path.names == ["fc", "tanh", "head"]
    actions = np.random.default_rng(1).integers(0, 4, size=24)
    table = conductance(path, path.inputs(run, obs), actions, 4, n_steps=64, obs_shape=obs.shape[1:])
    for layer in ("fc", "tanh"):
        assert table.filter(layer=layer, metric="completeness_error").rows[0].value < 0.02
    with torch.no_grad():
        x = torch.as_tensor(obs).flatten(1)
        gain = (net[1:](x) - net[1:](torch.zeros_like(x)))[np.arange(24), actions].mean().item()
    total = table.filter(layer="tanh", metric="total_conductance").rows[0].value
    assert abs(total - gain) < 0.02 * max(1.0, abs(gain))
    assert table.filter(layer="tanh", unit=2, metric="abs_conductance").rows[0].value == 0.0
    top = table.filter(metric="input_conductance", params_rank=1)
    assert top.rows and all(r.params["feature"].startswith("obs[") for r in top)


def test_feature_names_follow_the_observation_shape() -> None:
    assert feature_names((6,), (2, 3))[:4] == ["obs[0,0]", "obs[0,1]", "obs[0,2]", "obs[1,0]"]
    assert feature_names((5,), (2, 3)) == [f"input[{i}]" for i in range(5)]
