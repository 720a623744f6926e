"""Filter composition from analytic facts: a unit that copies one lower unit has composition degree 1; a unit that
sums k equal lower units has degree k; gradient x activation of a linear layer is W_ji a_i."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from repgym.analysis.capture import capture_activations
from repgym.analysis.composition import carrying_sets, compose, composition, contributions
from repgym.analysis.forward_path import trace_forward_path


def _copying_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 4))
    with torch.no_grad():
        w = torch.zeros(4, 6)
        w[0, 2] = 1.0  # unit 0 copies lower unit 2
        w[1, :4] = 0.5  # unit 1 sums lower units 0..3 equally... on inputs where all four are active
        w[2] = torch.randn(6)
        w[3, 5] = -2.0  # unit 3 copies lower unit 5 (negated)
        net[2].weight.copy_(w)
        net[2].bias.fill_(0.3)
    return net


def test_linear_contributions_are_weight_times_activation() -> None:
    net = _copying_net()
    a = torch.relu(net[0](torch.randn(20, 3)))
    c = contributions(a, net[2], (6,), lower_axis=1, higher_axis=1)
    expected = a.detach().numpy()[:, None, :] * net[2].weight.detach().numpy()[None]
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-6)


def test_a_copying_unit_has_degree_one_through_the_pipeline() -> None:
    net = _copying_net()
    x = np.random.default_rng(1).normal(size=(300, 3)).astype(np.float32)
    modules = {str(i): m for i, m in enumerate(net)}
    cap = capture_activations(modules, lambda b: net(torch.as_tensor(b)), x)
    path = trace_forward_path(cap.calls)
    table = composition(path, path.inputs(lambda b: net(torch.as_tensor(b)), x), cap.unit_axes, q=0.9)
    rows = table.filter(layer="2", params_source_layer="1")

    def value(unit: int, metric: str) -> float:
        return rows.filter(unit=unit, metric=metric).rows[0].value

    for unit, source in ((0, 2), (3, 5)):
        assert value(unit, "composition_degree") == 1.0 and value(unit, "overall_degree") == 1.0
        assert value(unit, "consistency") == 1.0 and value(unit, "top_source_share") == 1.0
        assert rows.filter(unit=unit, metric="top_source_share").rows[0].params["source"] == source
        assert value(unit, "effective_sources") == pytest.approx(1.0)
    assert value(2, "composition_degree") > 1.0
    coverage = table.filter(layer="1", metric="coverage", params_target_layer="2").values()
    assert coverage.shape == (6,) and np.all((coverage >= 0) & (coverage <= 1))
    assert table.filter(layer="2", metric="mean_composition_degree").rows[0].params["units"] == 4


def test_equal_sources_give_degree_k_and_sets_reach_q() -> None:
    c = np.zeros((5, 2, 8))
    c[:, 0, :4] = 1.0  # four equal sources on every input
    c[:, 1, 0] = 3.0
    c[:, 1, 1] = 1.0  # 75% / 25%
    m = compose(c, q=0.9)
    assert m["composition_degree"].tolist() == [4.0, 2.0] and m["consistency"].tolist() == [1.0, 1.0]
    assert compose(c, q=0.7)["composition_degree"][1] == 1.0
    assert m["out_degree"].tolist() == [2, 2, 1, 1, 0, 0, 0, 0] and m["coverage"][4] == 0.0
    assert carrying_sets(np.array([[0.0, 0.0]]), 0.9).tolist() == [[False, False]]
    with pytest.raises(ValueError, match="q must be"):
        compose(c, q=0.0)
