"""Conflation finds states that a layer maps together although their decision labels differ."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.analysis.conflation import conflation


def test_a_layer_blind_to_the_deciding_factor_conflates_and_names_the_unit() -> None:
    rng = np.random.default_rng(0)
    n = 400
    key = rng.integers(0, 2, size=n).astype(float)  # decides the optimal action
    position = rng.uniform(size=n)
    labels = key.astype(np.int64)
    factors = {"state.key": key, "state.position": position}
    sees_key = np.stack([position, 3.0 * key, rng.normal(size=n) * 0.01], axis=1)
    blind = np.stack([position, 0.0 * key, rng.normal(size=n) * 0.01], axis=1)
    states = np.stack([key, position], axis=1)
    table = conflation({"sees": sees_key, "blind": blind}, labels, factors, states, quantile=0.02)
    assert table.filter(layer="sees", metric="conflated_pairs").rows[0].value == 0
    blind_count = table.filter(layer="blind", metric="conflated_pairs").rows[0]
    assert blind_count.value > 0.3 * blind_count.n  # about half the near pairs mix the two keys
    differs = {r.params["factor"]: r.value for r in table.filter(layer="blind", metric="factor_differs")}
    assert differs["state.key"] == 1.0
    example = table.filter(layer="blind", metric="example_distance", params_rank=1).rows[0]
    a, b = example.params["states"]
    assert labels[a] != labels[b] and "state.key" in example.params["differing"]


def test_conflation_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="quantile"):
        conflation({"x": np.zeros((5, 2))}, np.zeros(5), {}, quantile=1.5)
    with pytest.raises(ValueError, match="distinct states"):
        conflation({"x": np.zeros((5, 2))}, np.zeros(5), {"f": np.zeros(5)})
